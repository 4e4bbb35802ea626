"""Learning rules acting on tiles, each a registered config (:mod:`~analogsgd.optim.registry`)."""

from . import registry
from .base import LearningRule
from .registry import RULES, RuleConfig
from .sgd import AnalogSGD, AnalogSGDConfig, DigitalSGD, DigitalSGDConfig
from .tiki_taka import TikiTaka, TikiTakaConfig

# isort: split
# rules added after the first three, imported in registration order (registry.kinds())
from .mixed_precision import MixedPrecision, MixedPrecisionConfig

__all__ = ["RULES", "AnalogSGD", "AnalogSGDConfig", "DigitalSGD", "DigitalSGDConfig",
           "LearningRule", "MixedPrecision", "MixedPrecisionConfig", "RuleConfig", "TikiTaka",
           "TikiTakaConfig", "registry"]
