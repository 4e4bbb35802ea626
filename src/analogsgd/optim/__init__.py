"""Learning rules acting on tiles, each a registered config (:mod:`~analogsgd.optim.registry`)."""

from . import registry
from .base import LearningRule
from .registry import RULES, RuleConfig

# isort: off
# one line per rule; the import order is the registration order, i.e. registry.kinds()
from .sgd import AnalogSGD, AnalogSGDConfig, DigitalSGD, DigitalSGDConfig
from .tiki_taka import TikiTaka, TikiTakaConfig
from .tiki_taka_v2 import TikiTakaV2, TikiTakaV2Config
from .chopped_tiki_taka import ChoppedTikiTaka, ChoppedTikiTakaConfig
from .agad import AGAD, AGADConfig
from .mixed_precision import MixedPrecision, MixedPrecisionConfig
from .residual import ResidualConfig, ResidualLearning
# isort: on

__all__ = ["AGAD", "RULES", "AGADConfig", "AnalogSGD", "AnalogSGDConfig", "ChoppedTikiTaka",
           "ChoppedTikiTakaConfig", "DigitalSGD", "DigitalSGDConfig", "LearningRule",
           "MixedPrecision", "MixedPrecisionConfig", "ResidualConfig", "ResidualLearning", "RuleConfig", "TikiTaka", "TikiTakaConfig",
           "TikiTakaV2", "TikiTakaV2Config", "registry"]
