"""The device abstraction: how one conductance responds to one programming pulse.

A pulse moves a weight by ``Δw_min · q₊(w)`` (up) or ``−Δw_min · q₋(w)`` (down). In compact form
(Eq. (6)–(7) of Wu et al., NeurIPS 2024; Eq. (2) of Li et al., 2025) an update ΔW becomes

.. math:: W \\leftarrow W + \\Delta W \\odot F(W) - |\\Delta W| \\odot G(W),
          \\quad F = (q_- + q_+)/2, \\; G = (q_- - q_+)/2 .

The symmetric point w⋄ solves G(w⋄) = 0. Responses are written in terms of the absolute bounds
``tau_min < tau_max`` passed in as arguments, so that a device-to-device spread of the bounds
(see :mod:`analogsgd.devices.variation`) reuses the very same formula.

To add a device family: one file with a frozen dataclass subclassing :class:`AbstractDevice`
that implements :meth:`response_up` and :meth:`response_down`, plus an entry in
``analogsgd.devices.ALL_DEVICES``. A family whose pulses are affine maps also states its
composition constants (:meth:`AbstractDevice.linear_step_constants`, the two forms of
:mod:`analogsgd.devices.composition`); it then composes exactly and runs on the fused kernel.

Number of states. ``n_states`` and ``dw_min`` describe one quantity, n_states =
(τ_max − τ_min)/Δw_min (App. B of Wu et al. 2024; Table 3 of Li et al. 2025). Give either: with
n_states = 0 (the default) Δw_min is as given and n_states is derived from it; with
n_states > 0 Δw_min = (τ_max − τ_min)/n_states. Giving both with values that disagree (beyond
rounding, relative 1e-9) is a ConfigError. The derived field is stored as an
:class:`_Implicit` float, so that a rebuild (``replace``, ``dataclasses.replace``) derives it
again from the fields that were given: a device built from n_states keeps its state count when
its bounds change, one built from dw_min keeps its step.
"""

from __future__ import annotations

import functools
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from ..config import POSITIVE, Config, Interval, param
from ..errors import ConfigError
from .composition import Bound, LinearStepConstants, StepResponseConstants, compose

#: relative tolerance within which a given dw_min and a given n_states count as agreeing (the
#: rounding of (τ_max − τ_min)/n_states and back, a few ulp, with a wide margin)
STATES_RTOL = 1e-9


class _Implicit(float):
    """A float the user did not give: the default Δw_min, or a value derived from other fields
    (Δw_min from n_states, n_states from Δw_min). A rebuild derives it again; arithmetic on it
    gives plain floats, and ``to_dict`` writes it as a plain float."""


def _given(value: float) -> bool:
    return type(value) is not _Implicit


@dataclass(frozen=True)
class AbstractDevice(Config, ABC):
    """One conductance's response per pulse (abstract).

    Subclasses add their shape parameters and implement :meth:`response_up` and
    :meth:`response_down`, the normalised step sizes q₊(w) and q₋(w) (both ≥ 0, equal to 1 at
    the nominal symmetric point for normalised families).
    """

    dw_min: float = param(_Implicit(1e-3), "Δw_min: weight change of one pulse at the symmetric "
                          "point ((τ_max − τ_min)/n_states when n_states > 0)", POSITIVE)
    tau_min: float = param(-1.0, "τ_min: lower weight bound (absolute)", Interval(allow_inf=True))
    tau_max: float = param(1.0, "τ_max: upper weight bound (absolute)", Interval(allow_inf=True))
    n_states: float = param(0, "number of states (τ_max − τ_min)/Δw_min: 0 derives it from "
                            "dw_min, > 0 sets dw_min from it (App. B of Wu et al. 2024)",
                            Interval(0.0, None, allow_inf=True), kw_only=True)

    #: True when the bounds are hard walls (weights are clipped to them after each update)
    hard_bounds: ClassVar[bool] = True

    def __post_init__(self) -> None:
        super().__post_init__()  # every field's constraint, then check_invariants
        self._resolve_states()

    def check_invariants(self) -> None:
        owner = type(self).__name__
        if not self.tau_min < self.tau_max:
            raise ConfigError(f"{owner}.tau_min", self.tau_min, f"< tau_max = {self.tau_max}")

    def linked_changes(self, changes: dict) -> dict:
        """In ``replace``, a new n_states (> 0) alone sets Δw_min from it and a new dw_min alone
        derives the count from it (dataclasses.replace, without this, refuses a pair that
        disagrees)."""
        if changes.get("n_states") and "dw_min" not in changes:
            return {**changes, "dw_min": _Implicit(self.dw_min)}
        if "dw_min" in changes and "n_states" not in changes:
            return {**changes, "n_states": 0}
        return changes

    def _resolve_states(self) -> None:
        """Δw_min and n_states made consistent, n_states = (τ_max − τ_min)/Δw_min (see the module
        docstring): the one not given is derived from the other (and marked :class:`_Implicit`)."""
        owner = type(self).__name__
        span = self.tau_max - self.tau_min
        dw, n = self.dw_min, self.n_states
        if n == 0 or not _given(n):
            n = _Implicit(span / dw)
        elif math.isinf(span):
            if not (math.isinf(n) and _given(dw)):  # inf with dw_min: an unbounded device rebuilt
                raise ConfigError(f"{owner}.n_states", n, "0 for a device with an infinite bound",
                                  "Give dw_min instead, or finite tau_min and tau_max.")
        elif math.isinf(n):
            raise ConfigError(f"{owner}.n_states", n, "finite for finite bounds (0: derive it from dw_min)")
        elif not _given(dw):
            dw = _Implicit(span / n)
        elif abs(dw - span / n) > STATES_RTOL * (span / n):
            raise ConfigError(f"{owner}.dw_min", dw,
                              f"(tau_max − tau_min)/n_states = {span / n:g} (n_states = {n:g}), or "
                              "leave it out", "Give either dw_min or n_states, not both (n_states "
                              "= 0 keeps dw_min as given).")
        object.__setattr__(self, "dw_min", dw)
        object.__setattr__(self, "n_states", n)

    # -- the two responses ------------------------------------------------------------------
    @abstractmethod
    def response_up(self, w: Tensor, tau_min: Bound, tau_max: Bound) -> Tensor:
        """q₊(w): relative size of an up pulse at weight ``w`` (≥ 0)."""

    @abstractmethod
    def response_down(self, w: Tensor, tau_min: Bound, tau_max: Bound) -> Tensor:
        """q₋(w): relative size of a down pulse at weight ``w`` (≥ 0)."""

    # -- derived quantities at the nominal bounds ---------------------------------------------
    def q_up(self, w: Tensor) -> Tensor:
        return self.response_up(w, self.tau_min, self.tau_max)

    def q_down(self, w: Tensor) -> Tensor:
        return self.response_down(w, self.tau_min, self.tau_max)

    def F(self, w: Tensor) -> Tensor:
        """Symmetric part F = (q₋ + q₊)/2 (Eq. (7) of Wu et al. 2024)."""
        return 0.5 * (self.q_down(w) + self.q_up(w))

    def G(self, w: Tensor) -> Tensor:
        """Asymmetric part G = (q₋ − q₊)/2 (Eq. (7) of Wu et al. 2024)."""
        return 0.5 * (self.q_down(w) - self.q_up(w))

    @property
    def symmetric_point(self) -> float:
        """w⋄ with q₊(w⋄) = q₋(w⋄), found by bisection (families override with closed forms)."""
        lo = torch.tensor(self.tau_min, dtype=torch.float64)
        hi = torch.tensor(self.tau_max, dtype=torch.float64)
        return float(symmetric_point_bisect(self.response_up, self.response_down, lo, hi, 1.0, 1.0))

    @property
    def granularity(self) -> float:
        """The weight change of one pulse that the pulse probabilities and BL are computed with
        (aihwkit's "weight granularity"), so that the mean update where the response is this
        large is the desired one: Δw_min for the families normalised to q = 1 at their
        reference point; families whose response is below 1 everywhere override it."""
        return self.dw_min

    def clip(self, w: Tensor, tau_min: Bound | None = None, tau_max: Bound | None = None) -> Tensor:
        lo = self.tau_min if tau_min is None else tau_min
        hi = self.tau_max if tau_max is None else tau_max
        if isinstance(lo, float) and isinstance(hi, float):
            if math.isinf(lo) and math.isinf(hi):
                return w
            return w.clamp(lo, hi)
        return torch.minimum(torch.maximum(w, torch.as_tensor(lo)), torch.as_tensor(hi))

    # -- applying counted pulses -------------------------------------------------------------
    def linear_step_constants(self, step_up: Bound, step_down: Bound, tau_min: Bound,
                              tau_max: Bound) -> LinearStepConstants | None:
        """The per-element constants of this family's closed-form pulse composition, or None.

        ``step_up``/``step_down`` are the steps at q = 1 (Δw_min times the array's gains),
        ``tau_min``/``tau_max`` the bounds (floats or per-element tensors). The form and the
        constants are stated per class by ``_linear_step_constants``. They are trusted only for the
        class that states them and for subclasses that keep its :meth:`response_up`,
        :meth:`response_down` and :meth:`compose_pulses`: a subclass that changes one of these
        without stating its own constants gets None (the generic flow and the torch path), so
        that neither the exact composition nor the fused kernel silently ignores its response.
        """
        if not _constants_trusted(type(self), "_linear_step_constants"):
            return None
        return self._linear_step_constants(step_up, step_down, tau_min, tau_max)

    def _linear_step_constants(self, step_up: Bound, step_down: Bound, tau_min: Bound,
                               tau_max: Bound) -> LinearStepConstants | None:
        """Families whose pulses are affine maps return their :class:`LinearStepConstants`."""
        return None

    def step_kernel_constants(self) -> StepResponseConstants | None:
        """The form and exponents of this family's one-pulse response for the fused kernel's
        pulse-by-pulse composition (:mod:`analogsgd.crossbar.fused_steps`), or None.

        Trusted as :meth:`linear_step_constants` is: only for the class that states them
        (``_step_kernel_constants``) and subclasses that keep its responses and composition.
        """
        if not _constants_trusted(type(self), "_step_kernel_constants"):
            return None
        return self._step_kernel_constants()

    def _step_kernel_constants(self) -> StepResponseConstants | None:
        """Families whose response is one of the forms of :data:`STEP_RESPONSES` return it."""
        return None

    def _compose_closed_form(self, w: Tensor, n_up: Tensor, n_down: Tensor, step_up: Tensor,
                             step_down: Tensor, tau_min: Bound, tau_max: Bound) -> Tensor:
        """The exact composition of :meth:`linear_step_constants`, or the generic flow of
        :meth:`AbstractDevice.compose_pulses` where it is None (an untrusted subclass)."""
        constants = self.linear_step_constants(step_up, step_down, tau_min, tau_max)
        if constants is None:
            return AbstractDevice.compose_pulses(self, w, n_up, n_down, step_up, step_down, tau_min, tau_max)
        return compose(constants, w, n_up, n_down, tau_min, tau_max)

    def compose_pulses(self, w: Tensor, n_up: Tensor, n_down: Tensor, step_up: Tensor,
                       step_down: Tensor, tau_min: Bound, tau_max: Bound) -> Tensor:
        """Apply ``n_up`` up and ``n_down`` down pulses per element (no cycle noise).

        Default: the pulse sequence as a flow in the pulse-count variable s ∈ [0, 1],
        dw/ds = n₊ step₊ q₊(w) − n₋ step₋ q₋(w), integrated with classical RK4 in
        ``RK4_SUBSTEPS`` substeps (more, up to ``RK4_MAX_SUBSTEPS``, when the largest
        displacement n·step exceeds a quarter of the range τ_max − τ_min, so that RK4 stays
        stable). After each substep the weight is clamped to [τ_min, τ_max]: the bounds are
        invariant for the exact flow of a saturating family (q₊(τ_max) = q₋(τ_min) = 0), so the
        clamp removes only numerical overshoot. This averages over the order of mixed-sign
        pulses; its error against one-pulse-at-a-time application is O(n·step²·|q q'|) for
        single-sign counts (each pulse is an Euler step of this flow). Families with a closed
        form (linear step) override it with the exact composition.
        """
        up = n_up * step_up
        down = n_down * step_down
        lo = torch.as_tensor(tau_min, dtype=w.dtype, device=w.device)
        hi = torch.as_tensor(tau_max, dtype=w.dtype, device=w.device)

        def rate(x: Tensor) -> Tensor:
            return up * self.response_up(x, tau_min, tau_max) - down * self.response_down(x, tau_min, tau_max)

        span = hi - lo
        finite = torch.isfinite(span)
        if bool(finite.any()):
            rel = torch.where(finite, (up + down) / torch.where(finite, span, torch.ones_like(span)), 0.0)
            chunks = math.ceil(float(rel.max()) / 0.25) if rel.numel() else 1
        else:
            chunks = 1
        substeps = min(self.RK4_SUBSTEPS * max(chunks, 1), self.RK4_MAX_SUBSTEPS)
        h = 1.0 / substeps
        for _ in range(substeps):
            k1 = rate(w)
            k2 = rate(w + 0.5 * h * k1)
            k3 = rate(w + 0.5 * h * k2)
            k4 = rate(w + h * k3)
            w = torch.minimum(torch.maximum(w + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4), lo), hi)
        return w

    RK4_SUBSTEPS: ClassVar[int] = 2
    RK4_MAX_SUBSTEPS: ClassVar[int] = 256


@functools.cache
def _constants_trusted(cls: type, method: str) -> bool:
    """True when no class below the one that states ``method`` (``_linear_step_constants`` or
    ``_step_kernel_constants``, in ``cls``'s MRO) redefines the responses or the composition
    those constants stand for."""
    def definer(name: str) -> type:
        return next(c for c in cls.__mro__ if name in vars(c))

    owner = definer(method)
    return not any(definer(name) is not owner and issubclass(definer(name), owner)
                   for name in ("response_up", "response_down", "compose_pulses"))


def symmetric_point_bisect(response_up, response_down, tau_min: Tensor, tau_max: Tensor,
                           gain_up: Bound, gain_down: Bound, iterations: int = 60) -> Tensor:
    """Element-wise w⋄ with gain₊·q₊(w⋄) = gain₋·q₋(w⋄), by bisection on [τ_min, τ_max].

    q₊ falls and q₋ rises with w for every family, so the difference is monotone. Where it does
    not change sign (no symmetric point inside the bounds) the bound toward which the stronger
    direction drifts is returned (τ_max if up pulses are stronger everywhere). Where the
    difference is exactly zero on an interval (G ≡ 0: ideal and constant-step devices) the
    first midpoint hit is returned, i.e. (τ_min + τ_max)/2 (0 for infinite bounds).
    """
    tau_min = torch.as_tensor(tau_min, dtype=torch.float64)
    tau_max = torch.as_tensor(tau_max, dtype=torch.float64)
    lo = torch.where(torch.isinf(tau_min), torch.full_like(tau_min, -1e6), tau_min)
    hi = torch.where(torch.isinf(tau_max), torch.full_like(tau_max, 1e6), tau_max)
    lo, hi = torch.broadcast_tensors(lo, hi)
    lo, hi = lo.clone(), hi.clone()

    def diff(x: Tensor) -> Tensor:
        return gain_up * response_up(x, tau_min, tau_max) - gain_down * response_down(x, tau_min, tau_max)

    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        d = diff(mid)
        # up still stronger: the point lies above; exactly balanced: the point is mid itself
        lo = torch.where(d >= 0, mid, lo)
        hi = torch.where(d <= 0, mid, hi)
    return 0.5 * (lo + hi)
