"""Learning rules acting on tiles."""

from .base import LearningRule
from .sgd import AnalogSGD, DigitalSGD
from .tiki_taka import TikiTaka, TikiTakaConfig

ALL_RULES = {rule.name: rule for rule in (DigitalSGD, AnalogSGD, TikiTaka)}

__all__ = ["ALL_RULES", "AnalogSGD", "DigitalSGD", "LearningRule", "TikiTaka", "TikiTakaConfig"]
