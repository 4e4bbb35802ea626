"""Crossbar tiles: device arrays with expected and pulsed updates."""

from .pulse_trains import PulseCounts, pulse_probabilities, stochastic_pulse_counts
from .tile import AnalogTile, TileConfig, UpdateConfig

__all__ = ["AnalogTile", "PulseCounts", "TileConfig", "UpdateConfig", "pulse_probabilities",
           "stochastic_pulse_counts"]
