"""Linear step / soft-bounds device, and its special case the asymmetric linear device (ALD).

App. C of Wu et al. (NeurIPS 2024), with absolute bounds τ_min < w⋄ < τ_max:

.. math:: q_+(w) = \\frac{\\tau_{max} - w}{\\tau_{max} - w_\\diamond}, \\qquad
          q_-(w) = \\frac{w - \\tau_{min}}{w_\\diamond - \\tau_{min}} .

With w⋄ = 0 these are q₊ = 1 − w/τ_max and q₋ = 1 − w/τ_min (aihwkit's SoftBounds), and with
τ_max = −τ_min = τ the ALD: F ≡ 1, G = w/τ, so W ← W + ΔW − |ΔW| ⊙ W/τ (Eq. (3)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import Tensor

from ..config import Interval, param
from ..errors import ConfigError
from .base import AbstractDevice, Bound
from .composition import LinearStepConstants, compose_linear_step

__all__ = ["SoftBounds", "asymmetric_linear_device", "compose_linear_step"]


@dataclass(frozen=True)
class SoftBounds(AbstractDevice):
    """Linear step (soft bounds): the step shrinks linearly to zero at the bound it moves toward."""

    tau_min: float = param(-0.6, "τ_min: lower bound, where q₋ = 0", Interval())
    tau_max: float = param(0.6, "τ_max: upper bound, where q₊ = 0", Interval())
    w_sym: float = param(0.0, "w⋄: symmetric point, where q₊ = q₋ = 1", Interval())

    hard_bounds: ClassVar[bool] = True

    def check_invariants(self) -> None:
        super().check_invariants()
        if not self.tau_min < self.w_sym < self.tau_max:
            raise ConfigError(f"{type(self).__name__}.w_sym", self.w_sym,
                              f"strictly between tau_min = {self.tau_min} and tau_max = {self.tau_max}")

    def response_up(self, w: Tensor, tau_min: Bound, tau_max: Bound) -> Tensor:
        return (tau_max - w) / (tau_max - self.w_sym)

    def response_down(self, w: Tensor, tau_min: Bound, tau_max: Bound) -> Tensor:
        return (w - tau_min) / (self.w_sym - tau_min)

    @property
    def symmetric_point(self) -> float:
        return self.w_sym

    def _linear_step_constants(self, step_up: Bound, step_down: Bound, tau_min: Bound,
                               tau_max: Bound) -> LinearStepConstants:
        """Relative steps a₊ = step₊/(τ_max − w⋄), a₋ = step₋/(w⋄ − τ_min)."""
        return LinearStepConstants(step_up / (tau_max - self.w_sym), step_down / (self.w_sym - tau_min),
                                   relative=True)

    def compose_pulses(self, w: Tensor, n_up: Tensor, n_down: Tensor, step_up: Tensor,
                       step_down: Tensor, tau_min: Bound, tau_max: Bound) -> Tensor:
        """Exact composition of linear-step pulses (:func:`compose_linear_step`).

        One up pulse is the affine map w ↦ τ_max − (τ_max − w)(1 − a₊), a₊ = step₊/(τ_max − w⋄);
        one down pulse w ↦ τ_min + (w − τ_min)(1 − a₋), a₋ = step₋/(w⋄ − τ_min). n pulses of one
        sign compose exactly to w ↦ b + (w − b)(1 − a)ⁿ. With both signs the contraction
        Π = (1 − a₊)^{n₊}(1 − a₋)^{n₋} does not depend on their order; the fixed point is taken as
        the rate-weighted mean of the bounds (the order average), w ↦ w_eq + (w − w_eq)Π.
        """
        return self._compose_closed_form(w, n_up, n_down, step_up, step_down, tau_min, tau_max)


def asymmetric_linear_device(tau: float = 0.6, dw_min: float = 1e-3) -> SoftBounds:
    """The ALD of Wu et al. (2024), Eq. (3): τ_max = −τ_min = τ, w⋄ = 0 (F ≡ 1, G = w/τ)."""
    if not (isinstance(tau, (int, float)) and tau > 0):
        raise ConfigError("asymmetric_linear_device.tau", tau, "a finite number > 0")
    return SoftBounds(dw_min=dw_min, tau_min=-float(tau), tau_max=float(tau), w_sym=0.0)


