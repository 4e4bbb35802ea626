"""Closed-form composition of counted pulses, for the families whose pulses are affine maps.

Two forms cover every family with a closed form (soft bounds / ALD, c_Lin, constant step,
ideal); a family states which one, with its per-element constants a±, through
:meth:`~analogsgd.devices.base.AbstractDevice.linear_step_constants`. Both the torch
composition and the fused kernel (:mod:`analogsgd.crossbar.fused`) read these constants, so
the physics is written once, in the device.

* **relative** (linear step): one up pulse is w ↦ τ_max − (τ_max − w)(1 − a₊), one down pulse
  w ↦ τ_min + (w − τ_min)(1 − a₋); a± is the step at w divided by the distance to the bound the
  pulse moves toward (:func:`compose_linear_step`).
* **absolute** (constant step): one up pulse is w ↦ w + a₊, one down pulse w ↦ w − a₋
  (:func:`compose_constant_step`); hard bounds, if any, clip afterwards.

Families without a closed form whose response the fused kernel can still evaluate (power step,
exp step) state it as :class:`StepResponseConstants` through
:meth:`~analogsgd.devices.base.AbstractDevice.step_kernel_constants`; the kernel then composes
their pulses one by one (see :mod:`analogsgd.crossbar.fused_steps`).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

Bound = float | Tensor


class LinearStepConstants(NamedTuple):
    """A family's pulse composition in one of the two closed forms (see the module docstring).

    Attributes:
        a_up, a_down: per-element constants a₊, a₋ (relative steps if ``relative``, else the
            steps themselves).
        relative: True for the linear-step form (steps relative to the distance to the bound),
            False for the constant-step form (absolute steps).
    """

    a_up: Bound
    a_down: Bound
    relative: bool


#: the response forms of :class:`StepResponseConstants` (ω = (τ_max − w)/(τ_max − τ_min)):
#: ``"power"`` q₊ = ω^{γ₊}, q₋ = (1 − ω)^{γ₋}; ``"exp"`` q₊ = 1 − e^{−γ₊ω}, q₋ = 1 − e^{−γ₋(1−ω)}
STEP_RESPONSES = ("power", "exp")


class StepResponseConstants(NamedTuple):
    """A family's one-pulse response in one of the forms :data:`STEP_RESPONSES` names.

    Attributes:
        form: ``"power"`` or ``"exp"``.
        gamma_up, gamma_down: the exponents (power) or saturation rates (exp) γ₊, γ₋
            (floats or per-element tensors).
    """

    form: str
    gamma_up: Bound
    gamma_down: Bound


def compose(constants: LinearStepConstants, w: Tensor, n_up: Tensor, n_down: Tensor,
            tau_min: Bound, tau_max: Bound) -> Tensor:
    """``n_up`` up and ``n_down`` down pulses of the form ``constants`` states, from ``w``."""
    if constants.relative:
        return compose_linear_step(w, n_up, n_down, constants.a_up, constants.a_down, tau_min, tau_max)
    return compose_constant_step(w, n_up, n_down, constants.a_up, constants.a_down)


def compose_constant_step(w: Tensor, n_up: Tensor, n_down: Tensor, a_up: Bound, a_down: Bound) -> Tensor:
    """w + n₊a₊ − n₋a₋: exact for single-sign counts; with both signs and a hard bound reached in
    between, one-pulse-at-a-time clipping depends on the order, and this sum (clipped afterwards
    by the array) is the order with no clipping."""
    return w + n_up * a_up - n_down * a_down


def compose_linear_step(w: Tensor, n_up: Tensor, n_down: Tensor, a_up: Tensor, a_down: Tensor,
                        tau_min: Bound, tau_max: Bound) -> Tensor:
    """n₊ pulses w ↦ τ_max − (τ_max − w)(1 − a₊) and n₋ pulses w ↦ τ_min + (w − τ_min)(1 − a₋).

    Shared by every linear-step family (soft bounds, ALD, c_Lin). ``a`` is the relative step
    (one pulse's step at w divided by the distance of w to the bound it moves toward); a ≥ 1
    is clamped just below 1 (one pulse lands on the bound). n pulses of one sign compose exactly
    to w ↦ b + (w − b)(1 − a)ⁿ (single-sign counts are exact to float rounding). With both signs
    the contraction Π = (1 − a₊)^{n₊}(1 − a₋)^{n₋} does not depend on their order; the fixed
    point is taken as the rate-weighted mean of the bounds (the order average),
    w ↦ w_eq + (w − w_eq)Π.
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
