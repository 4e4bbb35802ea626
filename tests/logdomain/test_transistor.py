"""EKV weak-inversion model: closed form, decade slope, temperature, Pelgrom, region reports."""

import math

import numpy as np
import pytest

from analogsgd.logdomain import transistor as tr

P = tr.sky130_like()


def test_ekv_matches_closed_form():
    # independent evaluation of I_spec·exp((VG−VT0)/(nUT))·(exp(−VS/UT) − exp(−VD/UT))
    t = 300.15
    ut = 1.380649e-23 * t / 1.602176634e-19
    ispec = 2 * P.n * P.kp_a_per_v2 * (4 / 2) * ut ** 2
    vg, vs, vd = 0.3, 0.02, 0.05
    expected = ispec * math.exp((vg - P.vt0_v) / (P.n * ut)) * (math.exp(-vs / ut) - math.exp(-vd / ut))
    got = tr.ekv_current(P, 4, 2, vg, vs, vd, t)
    assert got == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("params", [tr.generic_bsim3(), tr.sky130_like()])
def test_decade_slope_is_n_ut_ln10(params):
    # in saturation (V_D = 1 V ≫ 4 U_T) the reverse term is e^{-38}: the slope is exactly n U_T ln 10
    vg = np.linspace(0.1, 0.35, 6)
    i = tr.ekv_current(params, 1, 1, vg, 0.0, 1.0)
    slope = np.diff(vg) / np.diff(np.log10(i))
    assert slope == pytest.approx(params.n * tr.thermal_voltage(tr.T_NOM_K) * math.log(10), rel=1e-9)
    assert tr.decade_slope_v(params) == pytest.approx(slope[0], rel=1e-9)


def test_generic_set_matches_bsim3_card_slope():
    # the generic BSIM3 card (docs/spice.md) measures 71.4 mV/dec (n = 1.20) at room temperature
    assert tr.decade_slope_v(tr.generic_bsim3()) * 1e3 == pytest.approx(71.4, abs=0.3)


def test_thermal_voltage_and_threshold_temperature():
    assert tr.thermal_voltage(300.15) == pytest.approx(25.865e-3, rel=1e-4)
    assert tr.vt0_at(P, tr.T_NOM_K + 50) == pytest.approx(P.vt0_v + 50 * P.vt_tc_v_per_k)


def test_full_ekv_reduces_to_weak_inversion_deep_below_threshold():
    # ln²(1+e^{x/2}) = e^x (1 − e^{x/2} + …): relative gap ≈ e^{x/2} = √IC
    vg = P.vt0_v - 0.35  # IC ≈ e^{-0.35/(nUT)} ≈ 3.6e-5
    weak = tr.ekv_current(P, 1, 1, vg, 0.0, 1.0)
    full = tr.ekv_current_full(P, 1, 1, vg, 0.0, 1.0)
    ic = weak / tr.specific_current(P, 1, 1)
    assert abs(full / weak - 1) < 1.5 * math.sqrt(ic)


def test_pelgrom_sigma_of_draws():
    rng = np.random.default_rng(1)
    dvt, db = tr.draw_mismatch(P, 4.0, 1.0, (40000,), rng)
    s_vt, s_b = tr.pelgrom_sigmas(P, 4.0, 1.0)
    assert s_vt == pytest.approx(P.a_vt_v_um / 2.0)
    # the sample std of 40000 normals has relative standard error 1/sqrt(2n) = 0.35 %; 5 sigma
    assert dvt.std() == pytest.approx(s_vt, rel=0.018)
    assert db.std() == pytest.approx(s_b, rel=0.018)


def test_region_reports_name_role_and_margin():
    ispec = 1e-6
    assert tr.check_weak_inversion("storage", 0.05e-6, ispec) is None
    v = tr.check_weak_inversion("storage", 1e-6, ispec)
    assert v.role == "storage" and v.kind == "weak-inversion" and v.value == pytest.approx(1.0)
    assert "1.00 decades" in v.excess
    assert tr.check_saturation("stack", 0.2, 300.15) is None
    s = tr.check_saturation("stack", 0.05, 300.15)
    assert s.kind == "saturation" and s.value == pytest.approx(0.05 / tr.thermal_voltage(300.15))


def test_design_with_too_much_current_is_refused():
    from analogsgd.errors import ConfigError
    from analogsgd.logdomain.accelerator import LogDomainDesign

    with pytest.raises(ConfigError, match="weak-inversion"):
        LogDomainDesign(i_u_a=50e-9)
