"""η, λ ↔ circuit values: round trip, PTAT invariance, refusals; design config validation."""

import dataclasses

import pytest

from analogsgd.errors import ConfigError
from analogsgd.logdomain import mapping
from analogsgd.logdomain.accelerator import LogDomainDesign

D = LogDomainDesign()


@pytest.mark.parametrize("knob", ["hold_time", "i_tau"])
@pytest.mark.parametrize("eta,lam", [(0.06, 1e-3), (0.2, 0.05), (0.05, 0.0)])
def test_round_trip(knob, eta, lam):
    d = D.replace(eta_knob=knob)
    values = mapping.circuit_values(d, eta, lam)
    assert mapping.hyperparameters(d, values) == pytest.approx((eta, lam), rel=1e-12)
    # η = T I_τ / (C n U_T) written out
    assert values.hold_time_s * values.i_tau_a / (d.c_w_f * d.n_ut_v) == pytest.approx(eta, rel=1e-12)


@pytest.mark.parametrize("temp_c", [-20.0, 85.0])
def test_ptat_bias_keeps_eta_over_temperature(temp_c):
    v = mapping.circuit_values(D, 0.06, 1e-3, temp_c=temp_c)
    assert mapping.hyperparameters(D, v, temp_c=temp_c) == pytest.approx((0.06, 1e-3), rel=1e-12)
    d = D.replace(ptat_bias=False)
    v = mapping.circuit_values(d, 0.06, 1e-3, temp_c=temp_c)
    eta_t, _ = mapping.hyperparameters(d, v, temp_c=temp_c)
    # without PTAT, η ∝ 1/U_T ∝ 1/T_abs
    assert eta_t == pytest.approx(0.06 * D.temp_k / (temp_c + 273.15), rel=1e-12)


def test_shortest_hold_is_one_node_time_constant_at_the_smallest_loop_current():
    # C_node = 2·C_ox·W·L + C_wire = 2·8.4 fF/µm²·9 µm² + 40 fF = 191.2 fF, I_loop,min = I_qx =
    # 20 pA: η_min = (C_node/C)(I_τ/I_loop,min) = (0.1912/10)(50/20) = 0.0478, independent of nU_T
    assert D.i_loop_min_a == pytest.approx(20e-12)
    assert mapping.eta_range(D)[0] == pytest.approx(0.1912 / 10 * 50 / 20, rel=1e-12)
    # the old low end of the sweep (η = 0.005, a 34 µs hold) is below it and refused
    with pytest.raises(ConfigError, match="I_loop,min"):
        mapping.circuit_values(D, 0.005, 0.0)
    # with the I_τ knob a fixed hold shorter than the quiescent loops' settling realises no η
    short = D.replace(eta_knob="i_tau", t_hold_nom_s=100e-6)
    with pytest.raises(ConfigError, match="eta"):
        mapping.circuit_values(short, 0.06, 0.0)


def test_unrealisable_eta_is_refused_with_range():
    lo, hi = mapping.eta_range(D)
    with pytest.raises(ConfigError) as err:
        mapping.circuit_values(D, lo / 2, 0.0)
    assert err.value.field == "eta" and "hold time" in str(err.value) and f"{lo:.3g}" in str(err.value)
    with pytest.raises(ConfigError):
        mapping.circuit_values(D, hi * 2, 0.0)


@pytest.mark.parametrize("bad", [-1.0, float("nan"), 1e-9, 1e6])
def test_unrealisable_lambda_is_refused(bad):
    with pytest.raises(ConfigError) as err:
        mapping.circuit_values(D, 0.06, bad)
    assert err.value.field == "lambda"


def test_negative_eta_is_refused():
    with pytest.raises(ConfigError, match="eta must be a finite number > 0"):
        mapping.circuit_values(D, -0.01, 0.0)


def test_every_design_field_rejects_its_invalid_example():
    for f in dataclasses.fields(LogDomainDesign):
        check = f.metadata.get("check")
        if check is None:
            continue
        with pytest.raises(ConfigError) as err:
            LogDomainDesign(**{f.name: check.invalid_example()})
        assert f.name in err.value.field


def test_weight_quiescent_above_unit_is_refused():
    with pytest.raises(ConfigError, match="i_qw_a"):
        LogDomainDesign(i_qw_a=2e-9)


@pytest.mark.parametrize("cls_path", [
    "analogsgd.logdomain.simulate:SolverConfig",
    "analogsgd.logdomain.transistor:MosParams",
    "analogsgd.experiments.logdomain_regression:RegressionConfig",
    "analogsgd.experiments.logdomain_sweep:SweepConfig",
    "analogsgd.experiments.logdomain_precision:PrecisionConfig",
    "analogsgd.experiments.logdomain_montecarlo:MonteCarloConfig",
    "analogsgd.experiments.logdomain_cost:CostConfig",
])
def test_every_declared_constraint_is_enforced(cls_path):
    import importlib

    module, name = cls_path.split(":")
    cls = getattr(importlib.import_module(module), name)
    for f in dataclasses.fields(cls):
        check = f.metadata.get("check")
        if check is None:
            continue
        with pytest.raises(ConfigError) as err:
            cls(**{f.name: check.invalid_example()})
        assert f.name in err.value.field
