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

import torch
from torch import Tensor

from ..config import Interval, param
from ..errors import ConfigError
from .base import AbstractDevice, Bound


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

    def compose_pulses(self, w: Tensor, n_up: Tensor, n_down: Tensor, step_up: Tensor,
                       step_down: Tensor, tau_min: Bound, tau_max: Bound) -> Tensor:
        """Exact composition of linear-step pulses.

        One up pulse is the affine map w ↦ τ_max − (τ_max − w)(1 − a₊), a₊ = step₊/(τ_max − w⋄);
        one down pulse w ↦ τ_min + (w − τ_min)(1 − a₋), a₋ = step₋/(w⋄ − τ_min). n pulses of one
        sign compose exactly to w ↦ b + (w − b)(1 − a)ⁿ. With both signs the contraction
        Π = (1 − a₊)^{n₊}(1 − a₋)^{n₋} does not depend on their order; the fixed point is taken as
        the rate-weighted mean of the bounds (the order average), w ↦ w_eq + (w − w_eq)Π.
        """
        a_up = step_up / (tau_max - self.w_sym)
        a_down = step_down / (self.w_sym - tau_min)
        return compose_linear_step(w, n_up, n_down, a_up, a_down, tau_min, tau_max)


def compose_linear_step(w: Tensor, n_up: Tensor, n_down: Tensor, a_up: Tensor, a_down: Tensor,
                        tau_min: Bound, tau_max: Bound) -> Tensor:
    """n₊ pulses w ↦ τ_max − (τ_max − w)(1 − a₊) and n₋ pulses w ↦ τ_min + (w − τ_min)(1 − a₋).

    Shared by every linear-step family (soft bounds, ALD, c_Lin). ``a`` is the relative step
    (one pulse's step at w divided by the distance of w to the bound it moves toward); a ≥ 1
    is clamped just below 1 (one pulse lands on the bound). Single-sign counts are exact to
    float rounding; mixed signs give the order average described in
    :meth:`SoftBounds.compose_pulses`.
    """
    r_up = _rate(n_up, a_up)
    r_down = _rate(n_down, a_down)
    total = r_up + r_down
    # total = 0 (no pulse) gives w_eq = 0 and contraction 1, i.e. w; the final where only guards
    # infinite bounds (0·∞)
    w_eq = (r_up * tau_max).add_(r_down * tau_min).div_(total.clamp(min=torch.finfo(total.dtype).tiny))
    new = (w - w_eq).mul_(torch.exp(-total)).add_(w_eq)
    return torch.where(total > 0, new, w)


def _rate(n: Tensor, a: Tensor) -> Tensor:
    """−n·log(1 − a), finite for a → 1 (a clamped to 1 − eps of its dtype) and 0 where n = 0."""
    a = torch.as_tensor(a)
    one = 1.0 - torch.finfo(a.dtype).eps
    log_keep = torch.log1p(-a.clamp(max=one))     # finite: a ≤ 1 − eps
    if isinstance(n, Tensor) and bool(torch.isfinite(log_keep).all()):
        return n * log_keep.neg_()                # n = 0 gives 0 without a where
    r = -n * log_keep
    return torch.where(torch.as_tensor(n) > 0, r, torch.zeros_like(r))


def asymmetric_linear_device(tau: float = 0.6, dw_min: float = 1e-3) -> SoftBounds:
    """The ALD of Wu et al. (2024), Eq. (3): τ_max = −τ_min = τ, w⋄ = 0 (F ≡ 1, G = w/τ)."""
    if not (isinstance(tau, (int, float)) and tau > 0):
        raise ConfigError("asymmetric_linear_device.tau", tau, "a finite number > 0")
    return SoftBounds(dw_min=dw_min, tau_min=-float(tau), tau_max=float(tau), w_sym=0.0)


