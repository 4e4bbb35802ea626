"""Device models: the response of one conductance to one programming pulse.

``ALL_DEVICES`` maps a family name to its class; each family lives in its own module.
"""

from __future__ import annotations

from .base import AbstractDevice
from .ideal import IdealDevice
from .linear_step import SoftBounds, asymmetric_linear_device
from .variation import DeviceArray, DeviceVariation

ALL_DEVICES: dict[str, type[AbstractDevice]] = {
    "ideal": IdealDevice,
    "soft_bounds": SoftBounds,
}

__all__ = [
    "ALL_DEVICES", "AbstractDevice", "DeviceArray", "DeviceVariation", "IdealDevice",
    "SoftBounds", "asymmetric_linear_device",
]
