"""Hardware cost of AIMC training: the analog layers of a network (:mod:`.layers`) and the
per-algorithm update time, digital storage, tile area and energy (:mod:`.cost`) of Li et al.,
arXiv 2510.02516, Tables 5–6 (docs/residual-cost.md)."""

from .cost import ALGORITHMS, CostParameters, EnergyParameters
from .layers import AnalogLayer, AnalogNetwork, from_shapes, lenet5, perceptron, resnet18_cifar

__all__ = ["ALGORITHMS", "AnalogLayer", "AnalogNetwork", "CostParameters", "EnergyParameters",
           "from_shapes", "lenet5", "perceptron", "resnet18_cifar"]
