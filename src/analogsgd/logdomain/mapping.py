"""Hyperparameters η, λ ↔ circuit values (hold time T, I_τ, I_λ), and what can be realised.

From ``C n U_T dI_w/dt = −I_τ I_u e x − I_λ (I_w − I_B)`` and ``I_w = I_B + w I_u``
(docs/logdomain.md §4, §5):

.. math:: \\frac{dw}{dt} = -\\frac{1}{\\tau}\\,(e\\,x + \\lambda w), \\qquad
          \\tau = \\frac{C n U_T}{I_\\tau}, \\quad \\eta = \\frac{T}{\\tau} = \\frac{T I_\\tau}{C n U_T},
          \\quad \\lambda = \\frac{I_\\lambda}{I_\\tau} .

With PTAT biasing, ``I_τ ∝ T_abs`` cancels ``U_T ∝ T_abs`` and η does not drift with temperature.
The design's ``eta_knob`` says whether η is set by the hold time (I_τ fixed) or by I_τ (T fixed).
A value that would need a hold shorter than the translinear nodes' settling, longer than
``t_hold_max_s``, or a current below ``i_min_a`` or out of weak inversion is refused with a
:class:`~analogsgd.errors.ConfigError` naming the hyperparameter and the realisable range.

Settling: a loop node's time constant is ``C_node nU_T/I`` at its current I, longest at the
smallest loop current ``I_loop,min = min(I_qx, I_qe, I_qw, I_τ)`` (docs/logdomain.md §5). With
the hold-time knob the shortest hold is ``settle_factor·C_node nU_T/I_loop,min``, so

.. math:: \\eta_{min} = \\mathrm{settle\\_factor}\\;\\frac{C_{node}}{C}\\;\\frac{I_\\tau}{I_{loop,min}}

(0.048 for the defaults). With the I_τ knob the fixed hold must cover the quiescent currents'
time constant, and I_τ may not fall below ``settle_factor·C_node nU_T/T``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ConfigError, is_finite_number
from .accelerator import LogDomainDesign
from .transistor import IC_MAX_WEAK, celsius_to_kelvin


@dataclass(frozen=True)
class CircuitValues:
    """Circuit values realising (η, λ) at one temperature."""

    hold_time_s: float
    i_tau_a: float
    i_lambda_a: float
    tau_s: float  # integrator time constant C n U_T / I_τ

    def as_dict(self) -> dict:
        return {"hold_time_s": self.hold_time_s, "i_tau_a": self.i_tau_a,
                "i_lambda_a": self.i_lambda_a, "tau_s": self.tau_s}


def _i_max(design: LogDomainDesign) -> float:
    return IC_MAX_WEAK * design.i_spec("translinear")


def eta_range(design: LogDomainDesign) -> tuple[float, float]:
    """Smallest and largest realisable η of the design (at its nominal temperature)."""
    c_nut = design.c_w_f * design.n_ut_v
    if design.eta_knob == "hold_time":
        return (design.t_hold_min_s * design.i_tau_a / c_nut,
                design.t_hold_max_s * design.i_tau_a / c_nut)
    t = design.t_hold_nom_s
    k = design.settle_factor * design.c_node_f * design.n_ut_v
    if t < k / min(design.i_qx_a, design.i_qe_a, design.i_qw_a):
        return math.inf, 0.0  # the fixed hold is shorter than the quiescent loops' settling
    return max(design.i_min_a, k / t) * t / c_nut, _i_max(design) * t / c_nut


def lambda_range(design: LogDomainDesign, eta: float) -> tuple[float, float]:
    """Smallest positive and largest realisable λ at learning rate ``eta`` (0 is always allowed)."""
    i_tau = _i_tau_for(design, eta)
    return design.i_min_a / i_tau, _i_max(design) / i_tau


def _i_tau_for(design: LogDomainDesign, eta: float) -> float:
    if design.eta_knob == "hold_time":
        return design.i_tau_a
    return eta * design.c_w_f * design.n_ut_v / design.t_hold_nom_s


def circuit_values(design: LogDomainDesign, eta: float, lam: float,
                   temp_c: float | None = None) -> CircuitValues:
    """(T, I_τ, I_λ) realising (η, λ); at ``temp_c`` ≠ nominal the PTAT scaling is applied.

    Raises :class:`ConfigError` for a value that cannot be realised.
    """
    if not (is_finite_number(eta) and eta > 0):
        raise ConfigError("eta", eta, "a finite number > 0")
    if not (is_finite_number(lam) and lam >= 0):
        raise ConfigError("lambda", lam, "a finite number >= 0")
    lo, hi = eta_range(design)
    if lo > hi:   # no η at all: the hold (or its limits) is shorter than the loops' settling
        raise ConfigError("eta", eta, "an η this design can realise; it realises none",
                          f"Its shortest hold that settles (settle_factor·C_node nU_T/I_loop,min, "
                          f"I_loop,min = {design.i_loop_min_a:.3g} A) exceeds its longest "
                          f"(t_hold_max_s = {design.t_hold_max_s:.3g} s, or the fixed hold "
                          f"t_hold_nom_s = {design.t_hold_nom_s:.3g} s): raise the loop currents "
                          "or lengthen the hold.")
    if not lo <= eta <= hi:
        knob = (f"hold time T within [{design.t_hold_min_s:.3g}, {design.t_hold_max_s:.3g}] s; the "
                f"shortest is settle_factor·C_node nU_T/I_loop,min with I_loop,min = "
                f"{design.i_loop_min_a:.3g} A"
                if design.eta_knob == "hold_time" else
                f"I_τ within [{design.i_min_a:.3g}, {_i_max(design):.3g}] A at T = "
                f"{design.t_hold_nom_s:.3g} s, which must be at least settle_factor·C_node nU_T/"
                "min(I_qx, I_qe, I_qw)")
        raise ConfigError("eta", eta, f"within [{lo:.3g}, {hi:.3g}] for this design ({knob})",
                          "Change c_w_f or i_tau_a to move the range.")
    i_tau = _i_tau_for(design, eta)
    if lam > 0:
        llo, lhi = lambda_range(design, eta)
        if not llo <= lam <= lhi:
            raise ConfigError("lambda", lam, f"0 or within [{llo:.3g}, {lhi:.3g}] at eta = {eta:g} "
                              f"(I_λ = λ·I_τ within [{design.i_min_a:.3g}, {_i_max(design):.3g}] A)",
                              "Raise i_tau_a (and c_w_f to keep η) for smaller λ.")
    c_nut_nom = design.c_w_f * design.n_ut_v
    t_hold = eta * c_nut_nom / i_tau
    scale = 1.0
    n_ut = design.n_ut_v
    if temp_c is not None:
        tk = celsius_to_kelvin(temp_c)
        scale = design.ptat(tk) / design.ptat(design.temp_k)
        n_ut = design.n_ut_v * tk / design.temp_k
    i_tau_t = i_tau * scale
    return CircuitValues(hold_time_s=t_hold, i_tau_a=i_tau_t, i_lambda_a=lam * i_tau * scale,
                         tau_s=design.c_w_f * n_ut / i_tau_t)


def hyperparameters(design: LogDomainDesign, values: CircuitValues,
                    temp_c: float | None = None) -> tuple[float, float]:
    """(η, λ) realised by circuit values: η = T I_τ/(C n U_T), λ = I_λ/I_τ."""
    n_ut = design.n_ut_v
    if temp_c is not None:
        n_ut = design.n_ut_v * celsius_to_kelvin(temp_c) / design.temp_k
    eta = values.hold_time_s * values.i_tau_a / (design.c_w_f * n_ut)
    return eta, values.i_lambda_a / values.i_tau_a
