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
