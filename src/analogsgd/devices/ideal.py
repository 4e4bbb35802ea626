"""The ideal device: every pulse moves the weight by exactly ±Δw_min, without bounds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from ..config import Interval, param
from .base import AbstractDevice, Bound
from .composition import LinearStepConstants


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

    def _linear_step_constants(self, step_up: Bound, step_down: Bound, tau_min: Bound,
                               tau_max: Bound) -> LinearStepConstants:
        """Absolute steps a± = step± (the constant-step form, without bounds)."""
        return LinearStepConstants(step_up, step_down, relative=False)

    def compose_pulses(self, w: Tensor, n_up: Tensor, n_down: Tensor, step_up: Tensor,
                       step_down: Tensor, tau_min: Bound, tau_max: Bound) -> Tensor:
        """w + n₊ step₊ − n₋ step₋ (exact)."""
        return self._compose_closed_form(w, n_up, n_down, step_up, step_down, tau_min, tau_max)
