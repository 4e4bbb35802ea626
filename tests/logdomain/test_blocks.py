"""Blocks against closed forms and against transistor-level EKV evaluation."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from analogsgd.logdomain import transistor as tr
from analogsgd.logdomain.blocks import bernoulli_cell as bc
from analogsgd.logdomain.blocks import kcl, mirror, readout, sample_hold, translinear

P = tr.sky130_like()
NUT = P.n * tr.thermal_voltage(tr.T_NOM_K)


def test_translinear_functions_against_nominal_ekv_loops():
    # each input device's V_GS from the EKV law (gate_voltage_for), the loop's KVL
    # Σ_CW V_GS = Σ_CCW V_GS sets the output device's V_GS, whose EKV current is compared with
    # the block functions; in weak inversion the loop is exact, so agreement is to round-off
    # (the exp/log round trip, ~1e-12 relative)
    def vgs(i):
        return tr.gate_voltage_for(P, 3, 3, i)

    def out(v):
        return tr.ekv_current(P, 3, 3, v, 0.0, 1.0)

    ia, ib, ic = np.array([1e-9, 3e-10]), np.array([2e-9, 5e-11]), np.array([4e-10, 1e-9])
    assert translinear.multiply_divide(ia, ib, ic) == pytest.approx(
        out(vgs(ia) + vgs(ib) - vgs(ic)), rel=1e-9)


def test_translinear_loop_gain_against_ekv_loop():
    # build the loop from device equations: V_GS of the CW devices minus the CCW input sets the
    # output device's V_GS; its EKV current must equal loop_gain · I_a I_b / I_c
    rng = np.random.default_rng(3)
    dvt, db = tr.draw_mismatch(P, 3, 3, (4,), rng)
    currents = [1.2e-9, 0.7e-9, 0.9e-9]
    vgs = [tr.vt0_at(P, tr.T_NOM_K) + dvt[k] + NUT * np.log(currents[k] /
           (tr.specific_current(P, 3, 3) * (1 + db[k]))) for k in range(3)]
    v_out = vgs[0] + vgs[1] - vgs[2]
    i_out = tr.ekv_current(P, 3, 3, v_out, 0.0, 1.0, dvt=dvt[3], dbeta=db[3])
    g = translinear.loop_gain(dvt, db, translinear.SIGNS_4, NUT)
    assert i_out == pytest.approx(g * currents[0] * currents[1] / currents[2], rel=1e-9)


def test_mirror_gain_against_ekv():
    rng = np.random.default_rng(4)
    dvt, db = tr.draw_mismatch(P, 3, 3, (2,), rng)
    i_in = 1e-9
    vgs = tr.vt0_at(P, tr.T_NOM_K) + dvt[0] + NUT * np.log(i_in / (tr.specific_current(P, 3, 3) * (1 + db[0])))
    i_out = tr.ekv_current(P, 3, 3, vgs, 0.0, 1.0, dvt=dvt[1], dbeta=db[1])
    assert i_out == pytest.approx(mirror.mirror(i_in, mirror.mirror_gain(dvt, db, NUT)), rel=1e-9)


def test_class_ab_split_invariants():
    i = np.linspace(-3e-9, 3e-9, 13)
    p, n = kcl.class_ab_split(i, 20e-12)
    assert p - n == pytest.approx(i, abs=1e-24)
    assert p * n == pytest.approx(np.full_like(i, 400e-24), rel=1e-9)
    assert (p > 0).all() and (n > 0).all()
    assert kcl.subtract(3e-9, 1e-9) == pytest.approx(2e-9)
    assert kcl.current_sum(1e-9, 2e-9, 3e-9) == pytest.approx(6e-9)


def _integrate_cell(i0, i_cap_of_i, c, t_end):
    sol = solve_ivp(lambda t, v: [i_cap_of_i(bc.cell_current(v[0], 1e-12, NUT)) / c], (0, t_end),
                    [bc.cell_voltage(i0, 1e-12, NUT)], rtol=1e-11, atol=1e-14, dense_output=True)
    t = np.linspace(0, t_end, 7)
    return t, bc.cell_current(sol.sol(t)[0], 1e-12, NUT)


def test_bernoulli_cell_logistic_response():
    c, i0, i_ext = 1e-12, 0.1e-9, 2e-9
    t_end = 5 * c * NUT / i_ext
    t, i = _integrate_cell(i0, lambda i: i_ext - i, c, t_end)
    assert i == pytest.approx(bc.bernoulli_logistic(i0, i_ext, c, NUT, t), rel=1e-7)


def test_log_domain_integrator_ramp_and_leak():
    c, i0, i_tau, i_in, i_lam = 1e-12, 1e-9, 0.1e-9, 0.5e-9, 0.2e-9
    t_end = 3 * c * NUT / i_tau
    t, i = _integrate_cell(i0, lambda i: i_tau * i_in / i, c, t_end)
    assert i == pytest.approx(bc.integrator_ramp(i0, i_tau, i_in, c, NUT, t), rel=1e-7)
    t, i = _integrate_cell(i0, lambda i: -i_lam + 0 * i, c, t_end)
    assert i == pytest.approx(bc.leak_decay(i0, i_lam, c, NUT, t), rel=1e-7)


def test_l2_leak_decays_towards_reference():
    from analogsgd.logdomain.blocks import leak

    # C nUT dI/dt = I·I_C = −I_λ (I − I_B): exponential approach to I_B with τ = C nUT / I_λ
    c, ib, i_lam = 1e-12, 2e-9, 0.1e-9
    t_end = 2 * c * NUT / i_lam
    t, i = _integrate_cell(3e-9, lambda i: leak.l2_leak_current(i, ib, i_lam), c, t_end)
    assert i == pytest.approx(ib + (3e-9 - ib) * np.exp(-t * i_lam / (c * NUT)), rel=1e-7)
    assert leak.junction_leakage(1e-15, 300.15 + 16, 300.15, 8.0) == pytest.approx(4e-15)


def test_class_ab_pair_stores_a_signed_weight():
    w = np.linspace(-3, 3, 13)
    v = bc.class_ab_voltage(w, 50e-12, 1e-9, NUT)
    ip, i_n = bc.class_ab_pair(v, 50e-12, NUT)
    assert (ip - i_n) / 1e-9 == pytest.approx(w, abs=1e-12)
    assert ip * i_n == pytest.approx(np.full_like(w, 50e-12 ** 2), rel=1e-9)


def test_class_ab_leak_gives_linear_weight_decay():
    from analogsgd.logdomain.blocks import leak

    # C dV/dt = I_C with w = (I⁺ − I⁻)/I_u: dw/dt = (I⁺+I⁻)/(I_u nUT C)·I_C = −I_λ w/(C nUT)
    c, iq, iu, i_lam = 1e-12, 50e-12, 1e-9, 0.1e-9

    def rhs(t, v):
        ip, i_n = bc.class_ab_pair(v[0], iq, NUT)
        return [leak.l2_leak_current_ab(ip, i_n, i_lam) / c]

    t_end = 2 * c * NUT / i_lam
    sol = solve_ivp(rhs, (0, t_end), [bc.class_ab_voltage(1.5, iq, iu, NUT)], rtol=1e-11,
                    atol=1e-14, dense_output=True)
    t = np.linspace(0, t_end, 6)
    ip, i_n = bc.class_ab_pair(sol.sol(t)[0], iq, NUT)
    assert (ip - i_n) / iu == pytest.approx(1.5 * np.exp(-t * i_lam / (c * NUT)), rel=1e-7)


def test_dac_quantisation_and_currents():
    x = np.linspace(-5, 5, 41)
    xq, clipped = sample_hold.quantise(x, 8, 4.0)
    lsb = 4.0 / 128
    inside = np.abs(x) <= 4.0 - lsb
    assert np.abs(xq - x)[inside].max() <= lsb / 2 + 1e-12
    assert clipped[np.abs(x) > 4.0].all()
    p, n = sample_hold.dac_currents(x, 8, 4.0, 1e-9, 20e-12)
    assert (p - n) / 1e-9 == pytest.approx(xq, abs=1e-12)
    # bit errors: the same codes with per-bit gains
    err = np.full(7, 0.01)
    p2, n2 = sample_hold.dac_currents(x, 8, 4.0, 1e-9, 20e-12, err)
    assert (p2 - n2) / 1e-9 == pytest.approx(1.01 * xq, abs=1e-12)
    assert sample_hold.transistors(8) == 19


def test_readout():
    w = readout.read_weight(2.5e-9, 2e-9, 1e-9)
    assert w == pytest.approx(0.5)
    assert readout.read_weight(2.51e-9, 2e-9, 1e-9, adc_bits=8, full_scale=4.0) == pytest.approx(0.5)


def test_ekv_level_loop_and_mirror_models():
    # weak inversion (IC = I/I_spec ≤ 1e-6): the all-region loop is I_a I_b/I_c to ~√IC ≈ 1e-3;
    # towards moderate inversion each device's pinch-off overdrive gains ≈ √IC (the expansion of
    # 2 ln(e^√IC − 1) = ln IC + √IC + O(IC)), and the output device's too, so the loop reads
    # exp(√a + √b − √c − √out) times I_a I_b/I_c, to O(IC)
    i_s = 1e-6
    ia, ib, ic = 2e-13, 5e-13, 1e-12
    assert translinear.multiply_divide_ekv(ia, ib, ic, i_s) == pytest.approx(ia * ib / ic, rel=2e-3)
    ia, ib, ic = 1e-9, np.array([1e-10, 1e-9, 4e-9]), 2e-9
    got = translinear.multiply_divide_ekv(ia, ib, ic, i_s) / (ia * ib / ic)
    first_order = np.exp(np.sqrt(ia / i_s) + np.sqrt(ib / i_s) - np.sqrt(ic / i_s)
                         - np.sqrt(ia * ib / ic / i_s))
    assert got == pytest.approx(first_order, rel=5e-3)  # O(IC) ≤ 4e-3 here
    # mirror: output at V_DS = 0.3 V loses the reverse term e^{−V_DS/U_T} ≈ 9.2e-6 (weak inversion)
    ut = float(tr.thermal_voltage(tr.T_NOM_K))
    i = np.array([1e-11, 1e-9])
    assert mirror.mirror_ekv(i, i_s, 0.3 / ut) / i - 1 == pytest.approx(-np.exp(-0.3 / ut), rel=0.1)
