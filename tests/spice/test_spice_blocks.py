"""Each block's generated netlist parses and runs in ngspice, and computes its function.

Tolerances come from the card's own departures from the ideal law, measured independently:
the fitted weak-inversion law's largest deviation over its window (``fit.max_rel_err_pct``,
2.7 % on the generic card) and the card's local slope factor from the DC sweep.
"""

from __future__ import annotations

import numpy as np
import pytest

from analogsgd.logdomain.blocks.bernoulli_cell import bernoulli_logistic
from analogsgd.logdomain.transistor import thermal_voltage
from analogsgd.spice import blocks

pytestmark = pytest.mark.ngspice


def _n_ut(fit):
    return fit.params.n * float(thermal_voltage(fit.temp_k))


@pytest.mark.parametrize("ratio_a, ratio_c", [(0.5, 1.0), (1.0, 0.5)])
def test_translinear_product_over_two_decades(design, card, fit, ratio_a, ratio_c):
    # I_out = I_a I_b / I_c for I_b over two decades (I_u/100 … I_u). The translinear principle is
    # exact for an exponential law; each of the loop's four devices departs from the fitted
    # exponential by at most δ = fit.max_rel_err_pct, and the loop's error is the signed sum of
    # two such departures per side, so |I_out/(I_a I_b/I_c) − 1| ≤ 2δ.
    i_a, i_c, i_b0 = ratio_a * design.i_u_a, ratio_c * design.i_u_a, design.i_u_a / 100
    res = blocks.translinear(design, card, i_a, i_c, i_b0, 2.0, 11).run()
    i_b = blocks.sweep_currents(i_b0, 2.0, 11)
    rel = res["i(Vout)"] / (i_a * i_b / i_c) - 1.0
    assert np.abs(rel).max() <= 2 * fit.max_rel_err_pct / 100
    # a product is linear in I_b: log-log slope 1 (a mis-wired loop gives 1/2 or 2); the card's
    # slope-factor drift across the two decades bends it by ~1 %
    slope = np.polyfit(np.log(i_b), np.log(res["i(Vout)"]), 1)[0]
    assert slope == pytest.approx(1.0, abs=0.02)


def test_mirror_copies_over_two_decades(design, card):
    # both devices carry the same current and sit at V_DS within ~0.1 V of each other; the
    # copy is then exact up to the card's DIBL (< 1 % for 0.1 V, 7 % for 1.3 V on this card)
    res = blocks.mirror(design, card, design.i_u_a / 100, 2.0, 11).run()
    i_in = blocks.sweep_currents(design.i_u_a / 100, 2.0, 11)
    np.testing.assert_allclose(res["i(Vout)"], i_in, rtol=0.01)


def test_bernoulli_cell_settles_to_i_ext_along_the_logistic(design, card, fit):
    # C nU_T dI/dt = I (I_ext − I) from I_0 = I_qw (docs/logdomain.md §2)
    i0, i_ext, c = design.i_qw_a, design.i_u_a, design.c_w_f
    t_stop = 8 * c * _n_ut(fit) / i_ext
    res = blocks.bernoulli_cell(design, card, fit.params, i0, i_ext, t_stop, 200).run()
    i, t = res["i(Vout)"], res.scale
    delta = fit.max_rel_err_pct / 100
    # the start voltage is the fitted law's for I_qw (inside the fit window): off by ≤ δ
    assert abs(i[0] / i0 - 1) <= delta
    # at the end the diode sinks exactly I_ext (KCL); the copy device reads it within the
    # card's departure from the fitted law (≤ δ)
    assert abs(i[-1] / i_ext - 1) <= delta
    # the time to cross I_ext/2 matches the closed form: it scales with nU_T, known to ≤ δ
    ideal = bernoulli_logistic(i0, i_ext, c, _n_ut(fit), t)
    t_half = np.interp(0.5 * i_ext, i, t)
    t_half_ideal = np.interp(0.5 * i_ext, ideal, t)
    assert t_half == pytest.approx(t_half_ideal, rel=delta)


def test_leak_decays_at_i_lambda_over_c_n_ut(design, card, fit, sweep):
    # constant sink I_λ on C: I(t) = I_0 e^{−I_λ t/(C nU_T)}; the decay rate in ln I is
    # I_λ/(C n_local U_T), so its error is the card's local n against the fitted one over the
    # currents visited (measured from the DC sweep), plus 0.2 % for the linear fit of ln I
    i0, i_lam, c = design.i_u_a / 4, design.i_tau_a, design.c_w_f
    t_stop = 3 * c * _n_ut(fit) / i_lam
    res = blocks.leak(design, card, fit.params, i0, i_lam, t_stop, 200).run()
    i, t = res["i(Vout)"], res.scale
    assert abs(i[0] / i0 - 1) <= fit.max_rel_err_pct / 100
    rate = -np.polyfit(t, np.log(i), 1)[0]
    ut = float(thermal_voltage(fit.temp_k))
    n_local = 1 / (ut * np.gradient(np.log(sweep.id_a), sweep.vg_v))
    seen = (sweep.id_a >= i.min()) & (sweep.id_a <= i.max())
    spread = np.abs(n_local[seen] / fit.params.n - 1).max()
    assert rate == pytest.approx(i_lam / (c * _n_ut(fit)), rel=spread + 2e-3)
