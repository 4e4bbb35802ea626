"""Learning rules acting on tiles."""

from .base import LearningRule
from .sgd import AnalogSGD, DigitalSGD
from .tiki_taka import TikiTaka, TikiTakaConfig

__all__ = ["AnalogSGD", "DigitalSGD", "LearningRule", "TikiTaka", "TikiTakaConfig"]
