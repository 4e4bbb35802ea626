"""Block-level comparisons for spice-validate: each block's netlist run by ngspice next to its
behavioural model evaluated "as the card" (EKV parameters fitted to the card) and its ideal
(the design's nominal technology parameters, or the exact function where the block has no
device parameter). The translinear loop's and the mirror's behavioural model is their EKV-level
block model (:func:`~analogsgd.logdomain.blocks.translinear.multiply_divide_ekv`,
:func:`~analogsgd.logdomain.blocks.mirror.mirror_ekv`, all-region law with the fitted n and
I_spec), not the ideal function; the transistor's is compared on held-out gate voltages (the
fit uses the other half of the sweep). Edge code of the experiment; the netlists come from
:mod:`analogsgd.spice.blocks`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..logdomain import metrics as mt
from ..logdomain.accelerator import LogDomainDesign
from ..logdomain.blocks import bernoulli_cell as bc
from ..logdomain.blocks import mirror as mirror_block
from ..logdomain.blocks import translinear as tl_block
from ..logdomain.transistor import ekv_current, specific_current, thermal_voltage
from ..spice import blocks
from ..spice.extract import EkvFit, Sweep
from ..spice.models import ModelCard


@dataclass
class BlockComparison:
    """One block: the swept variable, the three curves and the two wall times."""

    name: str
    x: np.ndarray
    x_label: str
    y_label: str
    spice: np.ndarray
    behavioural: np.ndarray
    ideal: np.ndarray
    spice_wall_s: float
    behavioural_wall_s: float
    #: static sweeps over decades compare the ratio to the reference (full scale 1)
    ratio_metric: bool

    def error_pct(self, a: np.ndarray, ref: np.ndarray) -> float:
        """``nmse_pct`` (docs/logdomain.md §7) of ``a`` against ``ref``; on ``a/ref`` vs 1 for
        sweeps over decades, whose plain full-scale normalisation would see the top decade only."""
        if self.ratio_metric:
            a, ref = a / ref, np.ones_like(ref)
        return float(mt.nmse_pct(a[:, None, None], ref[:, None, None])[0])

    def summary(self) -> dict:
        return {
            **mt.both("behavioural_vs_spice", self.error_pct(self.behavioural, self.spice)),
            **mt.both("spice_vs_ideal", self.error_pct(self.spice, self.ideal)),
            **mt.both("behavioural_vs_ideal", self.error_pct(self.behavioural, self.ideal)),
            "max_rel_behavioural_vs_spice_pct": _max_rel(self.behavioural, self.spice),
            "max_rel_spice_vs_ideal_pct": _max_rel(self.spice, self.ideal),
            "speedup_vs_spice": self.spice_wall_s / self.behavioural_wall_s,
            "spice_wall_s": self.spice_wall_s,
            "behavioural_wall_s": self.behavioural_wall_s,
        }


def _max_rel(a, ref) -> float:
    return 100.0 * float(np.abs(a / ref - 1.0).max())


def timed(fn, min_total_s: float = 0.02):
    """(result, mean wall time of one call), repeating fast calls until ``min_total_s``."""
    t0 = time.perf_counter()
    out = fn()
    calls = 1
    while time.perf_counter() - t0 < min_total_s:
        out = fn()
        calls += 1
    return out, (time.perf_counter() - t0) / calls


def transistor(design: LogDomainDesign, fit: EkvFit, sweep: Sweep) -> BlockComparison:
    """The EKV test transistor over the fit's weak-inversion window, on ``sweep``: gate voltages
    the fit did not use (held out)."""
    lo, hi = fit.weak_range_a
    sel = (sweep.id_a >= lo) & (sweep.id_a <= hi)
    vg = sweep.vg_v[sel]
    w, l, tk = fit.w_um, fit.l_um, fit.temp_k
    beh, t_beh = timed(lambda: ekv_current(fit.params, w, l, vg, 0.0, blocks.V_DRAIN, tk))
    ideal = ekv_current(design.mos, w, l, vg, 0.0, blocks.V_DRAIN, tk)
    return BlockComparison("transistor", vg, "V_G (V)", "I_D (A)", sweep.id_a[sel], beh, ideal,
                           sweep.wall_s, t_beh, True)


def _sweep_block(name, net, i_start, decades, points, behavioural, ideal, timeout_s):
    res = net.run(timeout_s=timeout_s)
    x = blocks.sweep_currents(i_start, decades, points)
    beh, t_beh = timed(lambda: behavioural(x))
    return BlockComparison(name, x, "swept input current (A)", "I_out (A)", res["i(Vout)"], beh,
                           ideal(x), res.wall_s, t_beh, True)


def _i_spec_tl(design: LogDomainDesign, fit: EkvFit) -> float:
    """I_spec of a translinear/mirror device with the fitted parameters."""
    return float(specific_current(fit.params, design.w_tl_um, design.l_tl_um, fit.temp_k))


def translinear(design: LogDomainDesign, card: ModelCard, fit: EkvFit, timeout_s: float,
                points: int = 21) -> BlockComparison:
    """I_out = I_a I_b / I_c with I_a = I_u/2, I_c = I_u and I_b over two decades (10 pA–1 nA
    at the default design): the forward product I_w·I_x/I_u of a weight. Behavioural: the loop
    with the all-region EKV law of the fitted device; ideal: I_a I_b/I_c."""
    i_a, i_c, i_b0 = 0.5 * design.i_u_a, design.i_u_a, design.i_u_a / 100
    net = blocks.translinear(design, card, i_a, i_c, i_b0, 2.0, points)
    i_s = _i_spec_tl(design, fit)
    return _sweep_block("translinear", net, i_b0, 2.0, points,
                        lambda ib: tl_block.multiply_divide_ekv(i_a, ib, i_c, i_s),
                        lambda ib: tl_block.multiply_divide(i_a, ib, i_c), timeout_s)


def mirror(design: LogDomainDesign, card: ModelCard, fit: EkvFit, timeout_s: float,
           points: int = 21) -> BlockComparison:
    """I_out = I_in over two decades (I_u/100 to I_u). Behavioural: the all-region EKV mirror
    with the output at V_DS = V_DRAIN (differs from I_in by ≈ e^{−V_DS/U_T} ≈ 10⁻⁵ only)."""
    i0 = design.i_u_a / 100
    net = blocks.mirror(design, card, i0, 2.0, points)
    i_s, vds = _i_spec_tl(design, fit), blocks.V_DRAIN / float(thermal_voltage(fit.temp_k))
    return _sweep_block("mirror", net, i0, 2.0, points,
                        lambda i: mirror_block.mirror_ekv(i, i_s, vds),
                        lambda i: mirror_block.mirror(i), timeout_s)


def bernoulli(design: LogDomainDesign, card: ModelCard, fit: EkvFit, timeout_s: float,
              points: int = 200) -> BlockComparison:
    """C nU_T dI/dt = I (I_ext − I) from I_0 = I_qw with I_ext = I_u, over 8 C nU_T/I_ext.

    Behavioural: C dV/dt = I_ext − I_EKV(V) integrated with LSODA, the diode's EKV current
    (fitted parameters, reverse term with V_DS = V); ideal: the closed form with the design's
    nominal n (:func:`~analogsgd.logdomain.blocks.bernoulli_cell.bernoulli_logistic`).
    """
    from scipy.integrate import solve_ivp

    i0, i_ext, c = design.i_qw_a, design.i_u_a, design.c_w_f
    t_stop = 8.0 * c * fit.params.n * _ut(fit) / i_ext
    net = blocks.bernoulli_cell(design, card, fit.params, i0, i_ext, t_stop, points)
    res = net.run(timeout_s=timeout_s)
    t = res.scale
    w, l, tk, p = design.w_storage_um, design.l_storage_um, fit.temp_k, fit.params
    v0 = blocks.storage_gate_voltage(design, p, i0)

    def behavioural():
        sol = solve_ivp(lambda _, v: (i_ext - ekv_current(p, w, l, v, 0.0, v, tk)) / c,
                        (0.0, float(t[-1])), [v0], method="LSODA", t_eval=t, rtol=1e-8, atol=1e-9)
        return ekv_current(p, w, l, sol.y[0], 0.0, blocks.V_DRAIN, tk)

    beh, t_beh = timed(behavioural)
    ideal = bc.bernoulli_logistic(i0, i_ext, c, design.n_ut_v, t)
    return BlockComparison("bernoulli_cell", t, "time (s)", "I (A)", res["i(Vout)"], beh, ideal,
                           res.wall_s, t_beh, False)


def leak(design: LogDomainDesign, card: ModelCard, fit: EkvFit, timeout_s: float,
         points: int = 200) -> BlockComparison:
    """Constant sink I_λ = I_τ on a storage capacitor from I_0 = I_u, over 3 C nU_T/I_λ.

    Behavioural: V(t) = V_0 − I_λ t/C (exact for a constant sink) through the fitted EKV device;
    ideal: I_0 e^{−I_λ t/(C nU_T)} with the design's nominal n
    (:func:`~analogsgd.logdomain.blocks.bernoulli_cell.leak_decay`).
    """
    i0, i_lam, c = design.i_u_a, design.i_tau_a, design.c_w_f
    t_stop = 3.0 * c * fit.params.n * _ut(fit) / i_lam
    net = blocks.leak(design, card, fit.params, i0, i_lam, t_stop, points)
    res = net.run(timeout_s=timeout_s)
    t = res.scale
    w, l, tk, p = design.w_storage_um, design.l_storage_um, fit.temp_k, fit.params
    v0 = blocks.storage_gate_voltage(design, p, i0)
    beh, t_beh = timed(lambda: ekv_current(p, w, l, v0 - i_lam * t / c, 0.0, blocks.V_DRAIN, tk))
    ideal = bc.leak_decay(i0, i_lam, c, design.n_ut_v, t)
    return BlockComparison("leak", t, "time (s)", "I (A)", res["i(Vout)"], beh, ideal,
                           res.wall_s, t_beh, False)


def _ut(fit: EkvFit) -> float:
    return float(thermal_voltage(fit.temp_k))
