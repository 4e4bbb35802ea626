"""EKV extraction: fit n, I_spec and V_T0 of the behavioural transistor model to ngspice's DC
sweep of a model card (docs/spice.md §3), so that the behavioural simulator runs "as the card".

The card's test transistor (source and bulk at 0 V, drain at ``vd_v``, by default the V_DS of
the storage devices) is swept in V_G and its channel current is read through a 0 V source in
the **source** lead (the drain-bulk junction's leakage, ~10 fA at 1 V, flows in the drain lead
only). Two stages (:func:`fit_ekv`): a straight line in ``ln I_D`` over a weak-inversion window
gives n and ``I_spec e^{−V_T0/(nU_T)}`` — the weak-inversion law the behavioural simulator uses,
``I = I_spec e^{(V_G − V_T0)/(n U_T)}`` (:func:`~analogsgd.logdomain.transistor.ekv_current`);
then V_T0, and with it I_spec, is fitted in ``ln I_D`` to the all-region EKV interpolation
(Enz, Krummenacher, Vittoz 1995; :func:`~analogsgd.logdomain.transistor.ekv_current_full`)

.. math:: I_D = I_{spec}\\,\\ln^2\\!\\big(1 + e^{(V_G - V_{T0})/(2 n U_T)}\\big),
          \\qquad I_{spec} = 2 n \\mu C_{ox} \\tfrac{W}{L} U_T^2

up to moderate inversion, where its bend separates I_spec from V_T0. The fit is judged over the
weak-inversion window (largest and rms relative error, and the decades covered).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from ..logdomain.transistor import (
    MosParams,
    celsius_to_kelvin,
    ekv_current,
    ekv_current_full,
    generic_bsim3,
    specific_current,
    thermal_voltage,
)
from .blocks import V_DRAIN
from .models import ModelCard
from .netlist import Netlist, SimOptions, sense


@dataclass(frozen=True)
class Sweep:
    vg_v: np.ndarray
    id_a: np.ndarray
    wall_s: float


@dataclass(frozen=True)
class EkvFit:
    """Fitted parameters and how well the weak-inversion law reproduces the card."""

    params: MosParams
    w_um: float
    l_um: float
    temp_k: float
    i_spec_a: float
    weak_range_a: tuple[float, float]   # the currents the error is measured over
    decades: float
    max_rel_err_pct: float              # max |I_EKV/I_card − 1| over weak_range_a, %
    rms_rel_err_pct: float

    def as_dict(self) -> dict:
        return {"n": self.params.n, "vt0_v": self.params.vt0_v, "i_spec_a": self.i_spec_a,
                "kp_a_per_v2": self.params.kp_a_per_v2, "w_um": self.w_um, "l_um": self.l_um,
                "weak_range_a": list(self.weak_range_a), "decades": self.decades,
                "max_rel_err_pct": self.max_rel_err_pct, "rms_rel_err_pct": self.rms_rel_err_pct}


def sweep_netlist(card: ModelCard, w_um: float, l_um: float, vd_v: float = V_DRAIN,
                  vg_start_v: float = -0.1,
                  vg_stop_v: float = 1.0, vg_step_v: float = 0.005, temp_c: float = 27.0) -> Netlist:
    """The EKV test transistor: DC sweep of V_G, channel current through ``VS``."""
    net = Netlist(f"EKV test transistor {card.name} W/L = {w_um:g}/{l_um:g} um", card,
                  options=SimOptions(temp_c=temp_c, reltol=1e-6))
    net.mos("1", "d", "g", "s", "0", w_um, l_um)
    net.add(sense("S", "s", "0"), f"VD d 0 DC {vd_v:g}", "VG g 0 DC 0")
    net.analysis = f"dc VG {vg_start_v:g} {vg_stop_v:g} {vg_step_v:g}"
    net.probes = ["i(VS)"]
    return net


def measure(card: ModelCard, w_um: float, l_um: float, vd_v: float = V_DRAIN, temp_c: float = 27.0,
            **run_kwargs) -> Sweep:
    res = sweep_netlist(card, w_um, l_um, vd_v, temp_c=temp_c).run(**run_kwargs)
    return Sweep(res.scale, res["i(VS)"], res.wall_s)


def fit_ekv(sweep: Sweep, w_um: float, l_um: float, temp_c: float = 27.0, *,
            i_min_a: float = 1e-15, i_weak_max_a: float = 3e-10, ic_fit_max: float = 1.0,
            start: MosParams | None = None, name: str = "fitted") -> EkvFit:
    """Fit (n, V_T0, I_spec) in two stages; errors reported over the weak-inversion window.

    1. Weak inversion, ``i_min_a ≤ I_D ≤ i_weak_max_a``: a straight line in ``ln I_D`` gives
       ``n = 1/(U_T·slope)`` and ``I_0 = I_spec e^{−V_T0/(nU_T)}`` (the law the behavioural
       simulator uses).
    2. Moderate inversion, up to ``ic_fit_max·I_spec``: with n and I_0 fixed, V_T0 (and with it
       I_spec = I_0 e^{V_T0/(nU_T)}) is fitted to the all-region interpolation in ``ln I_D``.
    """
    from scipy.optimize import least_squares

    temp_k = celsius_to_kelvin(temp_c)
    p0 = start or generic_bsim3()
    vg, i_d = np.asarray(sweep.vg_v, dtype=float), np.asarray(sweep.id_a, dtype=float)
    ut = float(thermal_voltage(temp_k))
    weak = (i_d >= i_min_a) & (i_d <= i_weak_max_a)
    if weak.sum() < 3:
        raise ValueError(f"fewer than 3 sweep points between {i_min_a:g} and {i_weak_max_a:g} A")
    slope, ln_i0 = np.polyfit(vg[weak], np.log(i_d[weak]), 1)
    n = 1.0 / (slope * ut)
    beta_ratio = w_um / l_um

    def params_of(vt0):
        # I_spec = I_0 e^{V_T0/(nU_T)} = 2 n µC_ox (W/L) U_T²  ⇒  µC_ox
        ispec = math.exp(ln_i0 + vt0 / (n * ut))
        return replace(p0, name=name, n=float(n), vt0_v=float(vt0),
                       kp_a_per_v2=float(ispec / (2.0 * n * beta_ratio * ut * ut)))

    vt0 = p0.vt0_v
    for _ in range(3):  # the moderate-inversion window depends on I_spec: refine it
        ispec = float(specific_current(params_of(vt0), w_um, l_um, temp_k))
        sel = (i_d >= i_min_a) & (i_d <= ic_fit_max * ispec)
        v_sel, ln_i_sel = vg[sel], np.log(i_d[sel])

        def residual(x, v_sel=v_sel, ln_i_sel=ln_i_sel):
            return np.log(ekv_current_full(params_of(x[0]), w_um, l_um, v_sel, 0.0, 10.0,
                                           temp_k=temp_k)) - ln_i_sel

        sol = least_squares(residual, [vt0])
        vt0 = float(sol.x[0])
    p = params_of(vt0)
    ispec = float(specific_current(p, w_um, l_um, temp_k))
    approx = ekv_current(p, w_um, l_um, vg[weak], 0.0, 10.0, temp_k=temp_k)
    rel = approx / i_d[weak] - 1.0
    lo, hi = float(i_d[weak].min()), float(i_d[weak].max())
    return EkvFit(p, w_um, l_um, temp_k, ispec, (lo, hi), math.log10(hi / lo),
                  100.0 * float(np.abs(rel).max()), 100.0 * float(np.sqrt((rel ** 2).mean())))


def weak_inversion_current(fit: EkvFit, vg_v) -> np.ndarray:
    """Behavioural drain current of the fitted test transistor (saturation, source at 0)."""
    return ekv_current(fit.params, fit.w_um, fit.l_um, vg_v, 0.0, 10.0, temp_k=fit.temp_k)


def interleaved(sweep: Sweep) -> tuple[Sweep, Sweep]:
    """Split a sweep into (even, odd) gate-voltage points: fit on one, validate on the other."""
    return (Sweep(sweep.vg_v[0::2], sweep.id_a[0::2], sweep.wall_s),
            Sweep(sweep.vg_v[1::2], sweep.id_a[1::2], sweep.wall_s))


def validate(fit: EkvFit, sweep: Sweep) -> dict:
    """The fitted weak-inversion law against a sweep it was not fitted on (held-out gate voltages,
    or another drain voltage), over the fit's current window: largest and rms relative error, %."""
    lo, hi = fit.weak_range_a
    sel = (sweep.id_a >= lo) & (sweep.id_a <= hi)
    if sel.sum() < 2:
        raise ValueError(f"fewer than 2 held-out points between {lo:g} and {hi:g} A")
    rel = weak_inversion_current(fit, sweep.vg_v[sel]) / sweep.id_a[sel] - 1.0
    return {"max_rel_err_pct": 100.0 * float(np.abs(rel).max()),
            "rms_rel_err_pct": 100.0 * float(np.sqrt((rel ** 2).mean())), "points": int(sel.sum())}
