"""Power step device: the step is a power of the distance to the bound it moves toward.

App. C of Wu et al. (NeurIPS 2024) and aihwkit's ``PowStepDevice``, with ω = (τ_max − w)/(τ_max − τ_min):

.. math:: q_+(w) = \\omega^{\\gamma_+}, \\qquad q_-(w) = (1 - \\omega)^{\\gamma_-} .

The symmetric point solves ω^{γ₊} = (1 − ω)^{γ₋}; for γ₊ = γ₋ it is the midpoint of the bounds,
where F = 2^{−γ}. Otherwise there is no closed form and the generic bisection is used. The
response is not normalised to 1 at w⋄ (the paper's form): Δw_min is the step at q = 1.
Pulses compose by the RK4 flow of :meth:`AbstractDevice.compose_pulses` on the torch path; the
fused kernel composes them one by one (:mod:`analogsgd.crossbar.fused_steps`) from
:meth:`_step_kernel_constants`.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from ..config import POSITIVE, Interval, param
from .base import AbstractDevice, Bound
from .composition import StepResponseConstants


@dataclass(frozen=True)
class PowerStep(AbstractDevice):
    """q₊ = ω^{γ₊}, q₋ = (1 − ω)^{γ₋}, ω = (τ_max − w)/(τ_max − τ_min) (App. C of Wu et al. 2024)."""

    tau_min: float = param(-1.0, "τ_min: lower bound (absolute, finite), where q₋ = 0", Interval())
    tau_max: float = param(1.0, "τ_max: upper bound (absolute, finite), where q₊ = 0", Interval())
    gamma_up: float = param(1.0, "γ₊: exponent of the up response (dimensionless)", POSITIVE)
    gamma_down: float = param(1.0, "γ₋: exponent of the down response (dimensionless)", POSITIVE)

    def _omega(self, w: Tensor, tau_min: Bound, tau_max: Bound) -> Tensor:
        # clamped to [0, 1] so that an RK4 stage past a bound cannot take a negative power
        return ((tau_max - w) / (tau_max - tau_min)).clamp(0.0, 1.0)

    def response_up(self, w: Tensor, tau_min: Bound, tau_max: Bound) -> Tensor:
        return self._omega(w, tau_min, tau_max) ** self.gamma_up

    def response_down(self, w: Tensor, tau_min: Bound, tau_max: Bound) -> Tensor:
        return (1.0 - self._omega(w, tau_min, tau_max)) ** self.gamma_down

    def _step_kernel_constants(self) -> StepResponseConstants:
        """The power form with γ₊, γ₋ (the responses above, evaluated by the fused kernel)."""
        return StepResponseConstants("power", self.gamma_up, self.gamma_down)

    @property
    def symmetric_point(self) -> float:
        """(τ_min + τ_max)/2 when γ₊ = γ₋ (ω = ½); bisection otherwise."""
        if self.gamma_up == self.gamma_down:
            return 0.5 * (self.tau_min + self.tau_max)
        return AbstractDevice.symmetric_point.fget(self)  # type: ignore[attr-defined]

    @property
    def granularity(self) -> float:
        """Δw_min F at the midpoint ω = ½: Δw_min (2^(−γ₊) + 2^(−γ₋))/2, aihwkit's PowStep
        weight granularity Δw_min 2^(−γ) when γ₊ = γ₋ = γ."""
        return self.dw_min * 0.5 * (0.5 ** self.gamma_up + 0.5 ** self.gamma_down)
