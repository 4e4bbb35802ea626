"""Independent replicas of a tile stacked along a leading dimension.

A sweep over device parameters (say τ of the ALD) then runs as one batched simulation: each
replica keeps its own per-element bounds and gains, and the tile and rules broadcast over the
leading dimension.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch

from ..config import Constraint, check_argument
from ..devices.variation import DeviceArray
from ..errors import ConfigError, is_real_number


@dataclass(frozen=True)
class LearningRate(Constraint):
    """A learning rate: a finite number >= 0, or a 1-D tensor of them (one per replica)."""

    def ok(self, value: Any) -> bool:
        if isinstance(value, torch.Tensor):
            return (value.dim() <= 1 and value.numel() >= 1 and value.is_floating_point()
                    and bool((torch.isfinite(value) & (value >= 0)).all()))
        return is_real_number(value) and math.isfinite(value) and value >= 0

    def describe(self) -> str:
        return "a finite number >= 0 or a 1-D float tensor of them (one per replica)"

    def invalid_example(self) -> Any:
        return float("nan")


LEARNING_RATE = LearningRate()


def check_lr(name: str, lr: float | torch.Tensor) -> float | torch.Tensor:
    """``lr`` if it is a valid learning rate, else a ConfigError naming ``name``."""
    return check_argument(name, lr, LEARNING_RATE)


def per_replica(lr: float | torch.Tensor, like: torch.Tensor) -> float | torch.Tensor:
    """A learning rate broadcastable against (replicas, out, in): a 1-D tensor of one value per
    replica becomes (replicas, 1, 1) in ``like``'s dtype and device; a scalar is returned as is."""
    if isinstance(lr, torch.Tensor) and lr.dim() > 0:
        return lr.to(like).reshape(lr.shape + (1, 1))
    return lr


def stack_device_arrays(arrays: list[DeviceArray]) -> DeviceArray:
    """Stack realised arrays whose nominal devices differ at most in their bounds.

    The per-element bounds carry the differences, so the first nominal device serves all. The
    number of states follows the bounds and is not compared; Δw_min is (devices built from one
    n_states on different bounds differ in Δw_min and are refused).
    """
    if not isinstance(arrays, (list, tuple)) or not arrays or not all(
            isinstance(a, DeviceArray) for a in arrays):
        raise ConfigError("stack_device_arrays.arrays", arrays, "a non-empty list of DeviceArray")
    first = arrays[0]
    skip = {"tau_min", "tau_max", "n_states"}
    base = {k: v for k, v in dataclasses.asdict(first.device).items() if k not in skip}
    for arr in arrays[1:]:
        other = {k: v for k, v in dataclasses.asdict(arr.device).items() if k not in skip}
        if type(arr.device) is not type(first.device) or other != base:
            raise ConfigError("stack_device_arrays.arrays", arr.device,
                              f"devices that differ from {first.device} only in tau_min/tau_max")
        if arr.dw_min_c2c != first.dw_min_c2c:
            raise ConfigError("stack_device_arrays.dw_min_c2c", arr.dw_min_c2c, f"{first.dw_min_c2c}")

    def cat(name: str) -> torch.Tensor:
        return torch.stack([getattr(a, name) for a in arrays])

    return DeviceArray(first.device, cat("gain_up"), cat("gain_down"), cat("tau_min"),
                       cat("tau_max"), first.dw_min_c2c, cat("reference"))
