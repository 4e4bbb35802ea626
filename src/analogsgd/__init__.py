"""analogsgd: simulate, train and measure gradient-based learning on analog hardware."""

__version__ = "0.1.0"

from .errors import AnalogSGDError, ConfigError, NonFiniteError

__all__ = ["AnalogSGDError", "ConfigError", "NonFiniteError", "__version__"]
