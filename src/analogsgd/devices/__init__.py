"""Device models: the response of one conductance to one programming pulse.

``ALL_DEVICES`` maps a family name to its class; each family lives in its own module.
``make_device(name, **params)`` builds one by name; ``ALL_PRESETS`` holds the devices measured
in the papers, ``li2025_device(name)`` the devices of Table 3 of Li et al. 2025 by their
number of states (see :mod:`analogsgd.devices.presets`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..errors import ConfigError
from .base import AbstractDevice
from .c_lin import CLinDevice
from .constant_step import ConstantStep
from .exp_step import ExpStep
from .ideal import IdealDevice
from .linear_step import SoftBounds, asymmetric_linear_device
from .power_step import PowerStep
from .presets import ALL_PRESETS, LI2025_DEVICES, LI2025_TABLE3, Preset, li2025_device
from .variation import DeviceArray, DeviceVariation

ALL_DEVICES: dict[str, type[AbstractDevice]] = {
    "ideal": IdealDevice,
    "soft_bounds": SoftBounds,
    "constant_step": ConstantStep,
    "power_step": PowerStep,
    "exp_step": ExpStep,
    "c_lin": CLinDevice,
}


def make_device(name: str, **params: Any) -> AbstractDevice:
    """The device family ``name`` of :data:`ALL_DEVICES` built with ``params`` (validated).

    Raises:
        ConfigError: for an unknown family (listing the known ones) or an unknown parameter
            (listing the family's fields), or any invalid value.
    """
    if name not in ALL_DEVICES:
        raise ConfigError("make_device.name", name, "one of " + ", ".join(sorted(ALL_DEVICES)),
                          "Add the family to analogsgd.devices.ALL_DEVICES to make it known.")
    cls = ALL_DEVICES[name]
    fields = {f.name for f in dataclasses.fields(cls)}
    for key, value in params.items():
        if key not in fields:
            raise ConfigError(f"{cls.__name__}.{key}", value,
                              "a parameter among " + ", ".join(sorted(fields)),
                              "Check the spelling of the parameter name.")
    return cls(**params)


__all__ = [
    "ALL_DEVICES", "ALL_PRESETS", "LI2025_DEVICES", "LI2025_TABLE3", "AbstractDevice", "CLinDevice",
    "ConstantStep", "DeviceArray", "DeviceVariation", "ExpStep", "IdealDevice", "PowerStep",
    "Preset", "SoftBounds", "asymmetric_linear_device", "li2025_device", "make_device",
]
