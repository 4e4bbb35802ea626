"""Learning rules acting on tiles, each a registered config (:mod:`~analogsgd.optim.registry`)."""

from . import registry
from .agad import AGAD, AGADConfig
from .base import LearningRule
from .chopped_tiki_taka import ChoppedTikiTaka, ChoppedTikiTakaConfig
from .registry import RULES, RuleConfig
from .sgd import AnalogSGD, AnalogSGDConfig, DigitalSGD, DigitalSGDConfig
from .tiki_taka import TikiTaka, TikiTakaConfig
from .tiki_taka_v2 import TikiTakaV2, TikiTakaV2Config

__all__ = [
           "AGAD",
           "RULES",
           "AGADConfig",
           "AnalogSGD",
           "AnalogSGDConfig",
           "ChoppedTikiTaka",
           "ChoppedTikiTakaConfig",
           "DigitalSGD",
           "DigitalSGDConfig",
           "LearningRule",
           "RuleConfig",
           "TikiTaka",
           "TikiTakaConfig",
           "TikiTakaV2",
           "TikiTakaV2Config",
           "registry",
]
