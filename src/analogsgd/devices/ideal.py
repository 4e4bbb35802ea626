"""The ideal device: every pulse moves the weight by exactly ±Δw_min, without bounds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from ..config import Interval, param
from .base import AbstractDevice, Bound


@dataclass(frozen=True)
class IdealDevice(AbstractDevice):
    """q₊ = q₋ = 1 everywhere: F ≡ 1, G ≡ 0; the compact update is plain SGD."""

    tau_min: float = param(float("-inf"), "τ_min: lower bound (−inf: none)", Interval(allow_inf=True))
    tau_max: float = param(float("inf"), "τ_max: upper bound (+inf: none)", Interval(allow_inf=True))

    hard_bounds: ClassVar[bool] = False

    def response_up(self, w: Tensor, tau_min: Bound, tau_max: Bound) -> Tensor:
        return torch.ones_like(w)

    def response_down(self, w: Tensor, tau_min: Bound, tau_max: Bound) -> Tensor:
        return torch.ones_like(w)

    @property
    def symmetric_point(self) -> float:
        return 0.0

    def compose_pulses(self, w, n_up, n_down, step_up, step_down, tau_min, tau_max):
        return w + n_up * step_up - n_down * step_down
