"""The few-states experiment: a tiny run end to end, the promised metrics and their shapes,
digital SGD's reference against its closed form, the few-state device, and a rule registered
after import being picked up."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch

from analogsgd.cli import main
from analogsgd.datasets.fashion_mnist import DEBIAN_PATH
from analogsgd.errors import ConfigError
from analogsgd.experiments import RunContext, get_experiment
from analogsgd.experiments._few_states_ls import final_loss, ls_rule
from analogsgd.experiments._few_states_net import network_config
from analogsgd.experiments._network_analog import layer_config
from analogsgd.experiments.few_states import FewStatesConfig, few_state_device
from analogsgd.experiments.few_states import run as run_few_states
from analogsgd.optim import registry
from analogsgd.optim.sgd import AnalogSGDConfig
from analogsgd.problems import LeastSquares
from analogsgd.rng import torch_generator
from analogsgd.runfolder import RunFolder

#: the quick config made smaller still: two seeds, 4 and 1000 states, 150 least-squares steps,
#: one epoch of 100 digits (10 network steps)
TINY = {"n_states": (4, 1000), "n_seeds": 2, "ls_d_in": 6, "ls_d_out": 4, "ls_n_samples": 40,
        "ls_steps": 150, "net_epochs": 1, "net_n_train": 100, "net_n_test": 50}
TINY_ARGS = [a for k, v in TINY.items()
             for a in ("--set", f"{k}={','.join(map(str, v)) if isinstance(v, tuple) else v}")]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("few-states")
    assert main(["run", "few-states", "--quick", "--seed", "2", "--out", str(out), "--no-progress",
                 *TINY_ARGS]) == 0
    return out


def test_quick_config_is_the_promised_reduction():
    exp = get_experiment("few-states")
    quick, full = exp.config(quick=True), exp.config()
    assert {4, 1000} <= set(quick.n_states) and quick.n_seeds == 2
    assert full.n_states == (4, 10, 20, 100, 1000) and full.n_seeds >= 3
    assert quick.net_periphery == full.net_periphery == "ideal"
    assert quick.rules == full.rules == () and quick.kinds == registry.kinds()
    assert quick.cnn is None and full.cnn.network == "fmnist-cnn" and full.cnn_epochs >= 1


def test_run_folder_has_every_artefact(run_dir):
    for name in ("config.json", "metrics.json", "report.md", "figures/few_states.png",
                 "curves/ls_loss.csv", "curves/network_curves.csv"):
        assert (run_dir / name).is_file(), name
    assert json.loads((run_dir / "config.json").read_text())["config"]["ls_steps"] == 150
    report = (run_dir / "report.md").read_text()
    assert "47.51" in report and "75.61" in report  # Li et al.'s Table 1 quoted


def test_metrics_have_the_two_tables_over_every_rule_and_state_count(run_dir):
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(metrics) == {"ls_error_over_digital", "accuracy_pct", "summary", "wall_time_s"}
    for key in ("ls_error_over_digital", "accuracy_pct"):
        table = metrics[key]
        assert tuple(table) == registry.kinds()
        for rule, by_n in table.items():
            assert set(by_n) == {"4", "1000"}, rule
            for stats in by_n.values():
                assert len(stats["seeds"]) == 2
                assert stats["mean"] == pytest.approx(np.mean(stats["seeds"]), rel=1e-12)
                assert stats["std"] == pytest.approx(np.std(stats["seeds"], ddof=1), rel=1e-12, abs=1e-15)
    for stats in metrics["accuracy_pct"]["digital_sgd"].values():  # one run per seed, repeated
        assert stats == metrics["accuracy_pct"]["digital_sgd"]["4"]
    for by_n in metrics["accuracy_pct"].values():
        assert all(0 <= v <= 100 for s in by_n.values() for v in s["seeds"])
    assert metrics["summary"]["dw_min"] == {"4": 0.5, "1000": 0.002}


def test_digital_ratio_is_one_and_analog_sgd_at_1000_states_is_finite(run_dir):
    ratio = json.loads((run_dir / "metrics.json").read_text())["ls_error_over_digital"]
    for stats in ratio["digital_sgd"].values():
        assert stats["mean"] == 1.0 and stats["std"] == 0.0 and stats["seeds"] == [1.0, 1.0]
    analog = ratio["analog_sgd"]["1000"]
    assert all(math.isfinite(v) and v > 0 for v in analog["seeds"])


def test_same_seed_gives_identical_metrics(run_dir, tmp_path):
    assert main(["run", "few-states", "--quick", "--seed", "2", "--out", str(tmp_path),
                 "--no-progress", *TINY_ARGS]) == 0
    a = json.loads((run_dir / "metrics.json").read_text())
    b = json.loads((tmp_path / "metrics.json").read_text())
    a.pop("wall_time_s"), b.pop("wall_time_s")
    assert a == b


def test_digital_reference_matches_the_stationary_sgd_loss():
    """Digital SGD W ← W − α((W − W*)H + ε) has the stationary error covariance per row
    Σ = ασ²(2H − αH²)⁻¹, so E f = ½ D_out tr(HΣ) = ½ D_out α σ² Σ_i 1/(2 − αλ_i).
    Averaged over the last 2 000 of 4 000 steps (the transient has decayed by e⁻⁵⁰), six seeds
    gave measured/closed form = 1.000 ± 0.008; 5 % is about six standard deviations."""
    cfg = FewStatesConfig(ls_d_in=10, ls_d_out=20, ls_n_samples=100, ls_steps=4000,
                          ls_record_every=1, ls_tail_fraction=0.5)
    problem = LeastSquares.random(10, 20, 100, 0.4, torch_generator(7))
    lam = torch.linalg.eigvalsh(problem.H).double()
    closed = 0.5 * 20 * cfg.ls_alpha * cfg.ls_sigma_sq * float((1 / (2 - cfg.ls_alpha * lam)).sum())
    loss, steps, curve = final_loss("digital_sgd", cfg, problem, 4, 11,
                                    RunContext(seed=0, out=RunFolder("/nonexistent-unused")))
    assert steps[-1] == 4000 and len(curve) == 4001
    assert loss == pytest.approx(closed, rel=0.05)


@pytest.mark.parametrize("n", [4, 10, 1000])
def test_the_few_state_device_has_n_states_in_both_parts(n):
    dev = few_state_device(n)
    assert (dev.tau_max - dev.tau_min) / dev.dw_min == pytest.approx(n, rel=1e-12)
    assert (dev.tau_min, dev.tau_max, dev.w_sym) == (-1.0, 1.0, 0.0)
    net = network_config(FewStatesConfig(), n)
    tile = layer_config(net, "analog_sgd", 1.0).tile
    assert tile.device == dev and tile.periphery == type(tile.periphery).ideal()
    rule, lr = ls_rule("tiki_taka", FewStatesConfig(), n, torch_generator(0))
    assert all(t.config.device == dev for t in rule.tiles) and lr == FewStatesConfig().ls_fast_lr


def test_unknown_rule_is_refused_with_the_field_named():
    with pytest.raises(ConfigError, match="FewStatesConfig.rules"):
        FewStatesConfig(rules=("analog_sgd", "no_such_rule"))
    assert FewStatesConfig(rules=("tiki_taka",)).kinds == ("digital_sgd", "tiki_taka")


@dataclasses.dataclass(frozen=True)
class ProbeRuleConfig(AnalogSGDConfig):
    """Analog SGD under another name: a rule registered only inside one test."""

    kind = "few_states_probe"
    label = "Probe rule"
    colour = "tab:olive"


def test_a_rule_registered_later_is_picked_up(monkeypatch, tmp_path):
    monkeypatch.setitem(registry.RULES, ProbeRuleConfig.kind, ProbeRuleConfig)  # removed after
    cfg = get_experiment("few-states").config(quick=True).replace(**{**TINY, "n_seeds": 1})
    assert cfg.kinds[-1] == "few_states_probe"
    out = RunFolder(tmp_path)
    metrics = run_few_states(cfg, RunContext(seed=0, out=out))
    for key in ("ls_error_over_digital", "accuracy_pct"):
        assert set(metrics[key]["few_states_probe"]) == {"4", "1000"}
    out.write_metrics(metrics)  # finite
    assert "Probe rule" in (tmp_path / "report.md").read_text()


@pytest.mark.skipif(not DEBIAN_PATH.is_dir(), reason="Debian package dataset-fashion-mnist not installed")
def test_the_cnn_part_runs_beside_the_fcn_with_its_own_checkpoints(tmp_path):
    """cnn_epochs > 0 adds fmnist-cnn's network on a Fashion-MNIST subset: accuracy_pct_cnn has
    the shape of accuracy_pct (digital SGD repeated under every n), its checkpoints are named
    cnn_<unit> beside the FCN's <unit>, and its curves are curves/cnn_curves.csv."""
    out = tmp_path / "run"
    args = [*TINY_ARGS, "--set", "rules=analog_sgd", "--set", "n_seeds=1",
            "--set", "cnn_epochs=1", "--set", "cnn_n_train=80", "--set", "cnn_n_test=40"]
    assert main(["run", "few-states", "--quick", "--out", str(out), "--no-progress", *args]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    cnn, fcn = metrics["accuracy_pct_cnn"], metrics["accuracy_pct"]
    assert set(cnn) == set(fcn) == {"digital_sgd", "analog_sgd"}
    assert all(set(cnn[k]) == {"4", "1000"} for k in cnn)
    assert cnn["digital_sgd"]["4"] == cnn["digital_sgd"]["1000"]
    assert metrics["summary"]["cnn_data"] == {"name": "Fashion-MNIST", "n_train": 80, "n_test": 40}
    names = {p.name for p in (out / "checkpoints").iterdir()}
    assert "cnn_seed0_analog_sgd_n4.pt" in names and "seed0_analog_sgd_n4.pt" in names
    assert (out / "curves" / "cnn_curves.csv").is_file()
    assert "## (c) Fashion-MNIST CNN" in (out / "report.md").read_text()
