"""Exponential step device: the step saturates exponentially toward the bound it moves toward.

App. C of Wu et al. (NeurIPS 2024) (a simplified form of aihwkit's ``ExpStepDevice``):

.. math:: q_+(w) = 1 - e^{-\\gamma_+ (\\tau_{max} - w)/(\\tau_{max} - \\tau_{min})}, \\qquad
          q_-(w) = 1 - e^{-\\gamma_- (w - \\tau_{min})/(\\tau_{max} - \\tau_{min})} .

q₊ = q₋ exactly where γ₊(τ_max − w) = γ₋(w − τ_min), so the symmetric point has the closed
form w⋄ = (γ₊τ_max + γ₋τ_min)/(γ₊ + γ₋), where F(w⋄) = 1 − exp(−γ₊γ₋/(γ₊ + γ₋)). The response
is not normalised to 1 at w⋄. Pulses compose by the RK4 flow of
:meth:`AbstractDevice.compose_pulses` on the torch path; the fused kernel composes them one by
one (:mod:`analogsgd.crossbar.fused_steps`) from :meth:`_step_kernel_constants`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..config import POSITIVE, Interval, param
from .base import AbstractDevice, Bound
from .composition import StepResponseConstants


@dataclass(frozen=True)
class ExpStep(AbstractDevice):
    """q± = 1 − exp(−γ± · distance to the bound / (τ_max − τ_min)) (App. C of Wu et al. 2024)."""

    tau_min: float = param(-1.0, "τ_min: lower bound (absolute, finite), where q₋ = 0", Interval())
    tau_max: float = param(1.0, "τ_max: upper bound (absolute, finite), where q₊ = 0", Interval())
    gamma_up: float = param(2.0, "γ₊: saturation rate of the up response (dimensionless)", POSITIVE)
    gamma_down: float = param(2.0, "γ₋: saturation rate of the down response (dimensionless)", POSITIVE)

    def response_up(self, w: Tensor, tau_min: Bound, tau_max: Bound) -> Tensor:
        x = ((tau_max - w) / (tau_max - tau_min)).clamp(min=0.0)
        return -torch.expm1(-self.gamma_up * x)

    def response_down(self, w: Tensor, tau_min: Bound, tau_max: Bound) -> Tensor:
        x = ((w - tau_min) / (tau_max - tau_min)).clamp(min=0.0)
        return -torch.expm1(-self.gamma_down * x)

    def _step_kernel_constants(self) -> StepResponseConstants:
        """The exp form with γ₊, γ₋ (the responses above, evaluated by the fused kernel)."""
        return StepResponseConstants("exp", self.gamma_up, self.gamma_down)

    @property
    def symmetric_point(self) -> float:
        """w⋄ = (γ₊τ_max + γ₋τ_min)/(γ₊ + γ₋)."""
        g_up, g_down = self.gamma_up, self.gamma_down
        return (g_up * self.tau_max + g_down * self.tau_min) / (g_up + g_down)

    @property
    def granularity(self) -> float:
        """Δw_min F(0), the mean of the up and down steps at w = 0 (clipped into the bounds),
        as aihwkit's ExpStep weight granularity (which takes the down step at w = 0 twice;
        the two agree when the responses are mirror images)."""
        w0 = torch.tensor(min(max(0.0, self.tau_min), self.tau_max), dtype=torch.float64)
        return self.dw_min * float(self.F(w0))
