"""spice-validate end to end on a tiny config: the summary has every block and size."""

from __future__ import annotations

import json
import math

import pytest

from analogsgd.experiments.base import RunContext
from analogsgd.experiments.spice_validate import EXPERIMENT, SpiceValidateConfig
from analogsgd.runfolder import RunFolder


@pytest.mark.ngspice
def test_summary_has_every_block_and_size(tmp_path):
    # the smallest run through every stage but the bandwidth study (whose lagging loops make
    # ngspice take tens of seconds; `analogsgd run spice-validate --quick` runs it)
    cfg = SpiceValidateConfig(feature_counts=[1], n_samples=3, block_points=5, bandwidth_i_tau_a=0.0)
    out = RunFolder(tmp_path)
    metrics = EXPERIMENT.run(cfg, RunContext(seed=3, out=out))
    out.write_metrics(metrics)
    s = json.loads((tmp_path / "metrics.json").read_text())["summary"]
    assert set(s["blocks"]) == {"transistor", "translinear", "mirror", "bernoulli_cell", "leak"}
    for part in ("accelerator", "accelerator_ideal_arithmetic"):
        assert set(s[part]) == {"1-feature"}
    assert s["accelerator_bandwidth_study"] == {}
    for group in (s["blocks"], s["accelerator"], s["accelerator_ideal_arithmetic"]):
        for v in group.values():
            assert set(v) == {"nmse_behavioural_vs_spice_pct", "rms_behavioural_vs_spice_pct_of_fs",
                              "nmse_spice_vs_ideal_pct", "rms_spice_vs_ideal_pct_of_fs",
                              "speedup_vs_spice"}
            assert all(math.isfinite(x) and x >= 0 for x in v.values())
            assert v["rms_behavioural_vs_spice_pct_of_fs"] == pytest.approx(
                10 * v["nmse_behavioural_vs_spice_pct"] ** 0.5)
    # the loop's behavioural column is its EKV-level model, not the ideal function
    tl = metrics["blocks"]["translinear"]
    assert tl["nmse_behavioural_vs_ideal_pct"] > 0
    assert s["ekv_fit"]["held_out"]["interleaved_gate_voltages"]["max_rel_err_pct"] < 3.0
    assert s["worst_accelerator_run"] in ("1-feature/translinear", "1-feature/ideal_arithmetic")
    assert s["ekv_fit"]["decades"] >= 4
    assert (tmp_path / "report.md").read_text().count("EKV fit") == 1
    assert (tmp_path / "figures" / "blocks.png").exists()
    assert (tmp_path / "figures" / "accelerator_1f.png").exists()


def test_config_refuses_unrealisable_eta():
    from analogsgd.errors import ConfigError

    with pytest.raises(ConfigError, match="eta"):
        SpiceValidateConfig(eta=1.0, design=SpiceValidateConfig().design.__class__(
            technology="generic-bsim3", t_hold_max_s=1e-6))


def test_worst_accelerator_key_includes_the_short_hold_and_nan():
    from analogsgd.experiments.spice_validate import worst_runs

    k = "nmse_behavioural_vs_spice_pct"
    w = worst_runs({"1-feature": {k: 0.003}}, {"1-feature": {k: 0.002}}, {"1-feature": {k: 1.85}})
    assert w["worst_accelerator_run"] == "1-feature/short_hold"
    assert w["nmse_worst_accelerator_behavioural_vs_spice_pct"] == 1.85
    assert w["rms_worst_accelerator_behavioural_vs_spice_pct_of_fs"] == pytest.approx(10 * 1.85 ** 0.5)
    assert w["nmse_worst_realisable_accelerator_behavioural_vs_spice_pct"] == 0.003
    w = worst_runs({"1-feature": {k: float("nan")}}, {"1-feature": {k: 0.002}}, {})
    assert w["worst_accelerator_run"] == "1-feature/translinear"
    assert math.isnan(w["nmse_worst_accelerator_behavioural_vs_spice_pct"])
