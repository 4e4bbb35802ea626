"""The log-domain experiments on tiny configs: summaries, reproducibility, early refusals."""

import json

import pytest

from analogsgd.errors import ConfigError
from analogsgd.experiments import RunContext, get_experiment
from analogsgd.runfolder import RunFolder


def _run(name, tmp_path, seed=0, **changes):
    exp = get_experiment(name)
    config = exp.config(quick=True).replace(**changes)
    ctx = RunContext(seed=seed, out=RunFolder(tmp_path / f"{name}-{seed}"), quick=True)
    return exp.run(config, ctx)


def test_regression_summary_and_same_seed_same_metrics(tmp_path):
    kw = dict(datasets=("synthetic-2f",), n_samples=40, epochs=1)
    a = _run("logdomain-regression", tmp_path / "a", **kw)
    b = _run("logdomain-regression", tmp_path / "b", **kw)
    s = a["summary"]
    for key in ("mse_vs_ideal_pct_max", "eta_decades", "lambda_decades"):
        assert key in s
    # nominal circuit vs ideal CT: far inside the paper's 0.87 % (measured ~1e-3 %)
    assert s["mse_vs_ideal_pct_max"] < 0.87
    assert json.dumps(a["summary"], default=str) == json.dumps(b["summary"], default=str)
    assert (tmp_path / "a" / "logdomain-regression-0" / "report.md").is_file()


def test_sweep_refuses_unrealisable_points_before_work(tmp_path):
    with pytest.raises(ConfigError) as err:
        _run("logdomain-sweep", tmp_path, dataset="synthetic-2f", n_samples=20, etas=[1e-4, 0.01],
             lams=[1e-3])
    assert err.value.field.endswith("eta")


def test_sweep_summary_covers_decades(tmp_path):
    m = _run("logdomain-sweep", tmp_path, dataset="synthetic-2f", n_samples=30, etas=[0.005, 0.5],
             lams=[1e-4, 1e-2])
    s = m["summary"]
    assert s["eta_decades"] == pytest.approx(2.0) and s["lambda_decades"] == pytest.approx(2.0)
    assert s["mse_vs_ideal_pct_max"] < 0.87


def test_cost_summary_has_cited_ratios(tmp_path):
    m = _run("logdomain-cost", tmp_path)
    s = m["summary"]
    # 4 multipliers (64·6 + 56·28 T) + 3 adders (8·28 T) + 8 flip-flops (24 T)
    assert s["digital_transistors_per_weight"] == 4 * (64 * 6 + 56 * 28) + 3 * 8 * 28 + 8 * 24
    assert s["digital_energy_per_update_pj_45nm"] == pytest.approx(4 * 0.2 + 3 * 0.03)
    assert any("Horowitz" in c for c in s["citations"])


def test_precision_and_montecarlo_run_on_tiny_configs(tmp_path):
    m = _run("logdomain-precision", tmp_path, dataset="synthetic-2f", epochs=1, repeats=3,
             bits_min=4, bits_max=12)
    s = m["summary"]
    assert 4 <= s["effective_bits"] <= 12 and s["enob_noise_only_min"] > 0
    mc = _run("logdomain-montecarlo", tmp_path, dataset="synthetic-2f", instances=[4, 4],
              temps_c=[27.0, 85.0], non_ptat_instances=0, unchopped_instances=0,
              variant_instances=0, hold_times_s=[1e-3, 1.0, 1e3])
    s = mc["summary"]
    assert s["instances"] == 8
    assert s["mse_vs_ideal_pct_mean"] <= s["mse_vs_ideal_pct_p99"] <= s["mse_vs_ideal_pct_worst"]
    # leakage doubles every 8 K: 58 K hotter drifts 2^(58/8) ≈ 152× faster, so retention is shorter
    r = s["retention_to_8bit_lsb_s"]
    assert r["85C"] < r["27C"]


def test_matched_bits_interpolates_log_linearly():
    from analogsgd.experiments.logdomain_precision import matched_bits

    # errors fall 4× per bit (MSE ∝ LSB²): the crossing of 0.5 between 1.0 (b=4) and 0.25 (b=5)
    assert matched_bits([4, 5, 6], [1.0, 0.25, 0.0625], 0.5) == pytest.approx(4.5)


def test_unknown_dataset_is_refused_at_construction():
    from analogsgd.experiments.logdomain_sweep import SweepConfig

    with pytest.raises(ConfigError, match="synthetic-<N>f"):
        SweepConfig(dataset="mnist")
