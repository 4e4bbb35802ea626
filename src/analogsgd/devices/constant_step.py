"""Constant step device: every pulse moves the weight by ±Δw_min until a hard bound clips it.

aihwkit's ``ConstantStepDevice`` (see docs/devices.md):
w ← clip(w ± Δw^d (1 + σ_c2c ξ), τ_min, τ_max). Inside the bounds

.. math:: q_+(w) = q_-(w) = 1, \\qquad F \\equiv 1, \\quad G \\equiv 0 ,

so every point is a symmetric point; by convention :attr:`symmetric_point` is the midpoint of
the bounds (what the generic bisection returns for G ≡ 0). Asymmetry enters only through the
array's up/down gains (:class:`~analogsgd.devices.variation.DeviceVariation.up_down`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..config import Interval, param
from .base import AbstractDevice, Bound
from .composition import LinearStepConstants


@dataclass(frozen=True)
class ConstantStep(AbstractDevice):
    """q₊ = q₋ = 1 inside [τ_min, τ_max], hard bounds (aihwkit ConstantStepDevice)."""

    tau_min: float = param(-0.6, "τ_min: lower hard bound (absolute, finite)", Interval())
    tau_max: float = param(0.6, "τ_max: upper hard bound (absolute, finite)", Interval())

    def response_up(self, w: Tensor, tau_min: Bound, tau_max: Bound) -> Tensor:
        return torch.ones_like(w)

    def response_down(self, w: Tensor, tau_min: Bound, tau_max: Bound) -> Tensor:
        return torch.ones_like(w)

    @property
    def symmetric_point(self) -> float:
        """G ≡ 0: every point is symmetric; the midpoint (τ_min + τ_max)/2 by convention."""
        return 0.5 * (self.tau_min + self.tau_max)

    def _linear_step_constants(self, step_up: Bound, step_down: Bound, tau_min: Bound,
                               tau_max: Bound) -> LinearStepConstants:
        """Absolute steps a± = step± (the constant-step form)."""
        return LinearStepConstants(step_up, step_down, relative=False)

    def compose_pulses(self, w: Tensor, n_up: Tensor, n_down: Tensor, step_up: Tensor,
                       step_down: Tensor, tau_min: Bound, tau_max: Bound) -> Tensor:
        """w + n₊ step₊ − n₋ step₋ (exact for single-sign counts once clipped to the bounds).

        With both signs and a bound reached in between, one-pulse-at-a-time clipping depends on
        the order; this sum (clipped afterwards by the array) is the order with no clipping.
        """
        return self._compose_closed_form(w, n_up, n_down, step_up, step_down, tau_min, tau_max)
