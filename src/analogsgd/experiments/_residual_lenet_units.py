"""The units of ``residual-lenet`` and the study that trains them.

One unit is one training run: a dataset (with its n_states), a seed and a table column, a
baseline rule or residual learning with N tiles. The unit carries its rule config
(:meth:`LeNetUnit.rule_config`), so the shared network code (:mod:`._network_units`,
:mod:`._network_analog`, :mod:`._network_train`) builds and trains it like any other unit:
checkpoints after every epoch (the residual rule's warm-start state, target tile, switches and
loss history travel in each analog layer's state), ``--resume``, seeded data order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from ..checkpoint import check_checkpoint_path
from ..optim import registry
from ..optim.residual import ResidualConfig
from ..rng import child_seeds
from ._network_analog import rule_config
from ._network_common import NetworkConfig
from ._network_data import load_data
from ._network_summary import _stats
from ._network_train import checkpoint_path, train_unit
from ._network_units import Unit, long_curves, unit_timings
from .base import RunContext
from .residual_lenet import DATASETS, ResidualLeNetConfig

#: the devices' bounds ±TAU (Li et al.'s SoftBoundsDevice(w_min=−1, w_max=1))
TAU = 1.0
#: images one run of Li et al.'s Table 1 processes: 100 epochs of 60 000 training images
PAPER_IMAGES = 100 * 60_000


@dataclass(frozen=True)
class LeNetUnit(Unit):
    """One run: ``dataset`` at ``n_states``, a seed, and the rule config of its column
    (``n_tiles`` > 0: residual learning with that many tiles)."""

    dataset: str = "fashion-mnist"
    n_states: int = 4
    n_tiles: int = 0
    rule: Any = None

    @property
    def column(self) -> str:
        """The table column: the baseline's kind, or ``residual_N``."""
        return f"residual_{self.n_tiles}" if self.n_tiles else self.algorithm

    @property
    def key(self) -> str:
        return f"{DATASETS[self.dataset][0]}_seed{self.seed_index}_{self.column}"

    @property
    def label(self) -> str:
        tiles = f" ({self.n_tiles} tiles)" if self.n_tiles else ""
        return (f"{DATASETS[self.dataset][1]} #{self.n_states}: "
                f"{registry.labels()[self.algorithm]}{tiles}, seed {self.seed_index}")

    def rule_config(self, cfg: NetworkConfig):
        return self.rule


def network_config(cfg: ResidualLeNetConfig, dataset: str, residual: bool) -> NetworkConfig:
    """``fmnist-cnn``'s network (LeNet-5, tanh) with the study's data, budget and schedule,
    exact reads, pulsed updates, no output scale, and the devices SoftBounds(±1, Δw_min = 2/n);
    every rate is residual learning's or the baselines' rate of ``dataset``."""
    from . import get_experiment

    per = cfg.of(dataset)
    lr = per["residual_lr"] if residual else per["baseline_lr"]
    return get_experiment("fmnist-cnn").config().replace(
        dataset=dataset, data_path=cfg.data_path(dataset), n_train=cfg.n_train,
        n_test=cfg.n_test, epochs=cfg.epochs, batch_size=per["batch_size"], n_seeds=cfg.n_seeds,
        lr_step_epochs=cfg.lr_step_epochs, lr_gamma=cfg.lr_gamma, taus=(TAU,),
        dw_min=2 * TAU / per["n_states"], periphery="ideal", update_mode="pulsed",
        learn_out_scale=False, weight_scaling_omega=0.0, analog_lr=lr, fast_lr=lr,
        transfer_every=1)


def residual_rule(cfg: ResidualLeNetConfig, dataset: str, n_tiles: int) -> ResidualConfig:
    """Residual learning with ``n_tiles`` tiles and the dataset's γ; transfer periods and rates
    the authors' LeNet-5 ones (the registered defaults), unscheduled; the gradient tile's rate
    follows the schedule."""
    return ResidualConfig(n_tiles=n_tiles, gamma=cfg.of(dataset)["gamma"],
                          warm_start=cfg.warm_start, schedule_gradient_lr=True,
                          schedule_transfer_lr=False)


def plan(cfg: ResidualLeNetConfig, seed: int) -> list[LeNetUnit]:
    """Per dataset and seed: every baseline, then residual learning at every tile count. A
    dataset's seeds depend on its place in :data:`DATASETS`, not on which datasets are run."""
    dataset_seeds = dict(zip(DATASETS, child_seeds(seed, len(DATASETS)), strict=True))
    units = []
    for dataset in cfg.datasets:
        n = cfg.of(dataset)["n_states"]
        net = network_config(cfg, dataset, residual=False)
        for i, s in enumerate(child_seeds(dataset_seeds[dataset], cfg.n_seeds)):
            for kind in cfg.baselines:
                rule = rule_config(kind, net.analog_lr, net.transfer_every)
                units.append(LeNetUnit(kind, TAU, i, s, dataset, n, 0, rule))
            for tiles in cfg.residual_tiles:
                units.append(LeNetUnit("residual", TAU, i, s, dataset, n, int(tiles),
                                       residual_rule(cfg, dataset, int(tiles))))
    return units


def warm_targets(path) -> list[int]:
    """The warm start's target tile of every analog layer, read from a unit's checkpoint (N − 1
    once warming is over)."""
    state = torch.load(path, weights_only=True)["model"]
    return [int(v["rule"]["warm"]["target"]) for k, v in state.items()
            if k.endswith("_extra_state") and "warm" in v.get("rule", {})]


def lenet_study(cfg: ResidualLeNetConfig, ctx: RunContext) -> dict:
    """Train every unit (or read it back when resuming); return the metrics and write the
    curves (``curves/lenet_curves.csv``) and ``timings.json``."""
    units = plan(cfg, ctx.seed)
    for unit in units:  # before any training: a checkpoint path that cannot be written
        check_checkpoint_path(checkpoint_path(ctx, unit))
    histories: dict[str, dict] = {}
    data_info = {}
    for dataset in cfg.datasets:
        data = load_data(network_config(cfg, dataset, residual=False))
        data_info[dataset] = {"name": data.name, "n_train": int(data.train_x.shape[0]),
                              "n_test": int(data.test_x.shape[0])}
        for unit in (u for u in units if u.dataset == dataset):
            net = network_config(cfg, dataset, residual=bool(unit.n_tiles))
            steps = net.epochs * math.ceil(data.train_x.shape[0] / net.batch_size)
            with ctx.progress.task(steps, f"residual-lenet: {unit.label}") as task:
                histories[unit.key] = train_unit(net, unit, data, ctx, task)
    ctx.out.write_curves("lenet_curves", _curves(units, histories))
    ctx.out.write_json("timings.json", {
        "units": unit_timings(units, histories),
        "note": "wall-clock seconds per epoch (training and test evaluation); not part of metrics"})
    return _metrics(cfg, ctx, units, histories, data_info)


def _metrics(cfg, ctx, units, histories, data_info) -> dict:
    accuracy: dict[str, dict] = {}
    warm: dict[str, dict] = {}
    for dataset in cfg.datasets:
        mine = [u for u in units if u.dataset == dataset]
        finals = {c: [histories[u.key]["test_acc"][-1] for u in mine if u.column == c]
                  for c in cfg.columns}
        table: dict[str, Any] = {k: _stats(finals[k]) for k in cfg.baselines}
        if cfg.residual_tiles:
            table["residual"] = {f"{n}": _stats(finals[f"residual_{n}"])
                                 for n in cfg.residual_tiles}
            warm[dataset] = {f"{n}": [warm_targets(checkpoint_path(ctx, u))[0] for u in mine
                                      if u.n_tiles == n] for n in cfg.residual_tiles}
        accuracy[dataset] = table
    images = {d: cfg.epochs * data_info[d]["n_train"] for d in cfg.datasets}
    summary = {
        "columns": list(cfg.columns), "n_seeds": cfg.n_seeds, "epochs": cfg.epochs,
        "data": data_info,
        "n_states": {d: cfg.of(d)["n_states"] for d in cfg.datasets},
        "dw_min": {d: 2 * TAU / cfg.of(d)["n_states"] for d in cfg.datasets},
        "steps_per_unit": {d: cfg.epochs * math.ceil(data_info[d]["n_train"]
                                                     / cfg.of(d)["batch_size"])
                           for d in cfg.datasets},
        "fraction_of_paper_images": {d: images[d] / PAPER_IMAGES for d in cfg.datasets},
        "warm_start_final_target": warm,
        "ordering": {d: ordering(accuracy[d]) for d in cfg.datasets},
    }
    return {"accuracy_pct": accuracy, "summary": summary}


def ordering(table: dict) -> dict:
    """The paper's ordering at few states, TT-v1 < TT-v2 < residual learning (its best tile
    count) ≤ mixed precision, checked on the means (each comparison where both were run)."""
    mean = {k: v["mean"] for k, v in table.items() if k != "residual"}
    if table.get("residual"):
        mean["residual"] = max(v["mean"] for v in table["residual"].values())
    pairs = (("tiki_taka", "tiki_taka_v2", "lt"), ("tiki_taka_v2", "residual", "lt"),
             ("residual", "mixed_precision", "le"))
    return {f"{a} {'<' if op == 'lt' else '≤'} {b}":
            bool(mean[a] < mean[b] if op == "lt" else mean[a] <= mean[b])
            for a, b, op in pairs if a in mean and b in mean}


def _curves(units: list[LeNetUnit], histories: dict[str, dict]) -> dict[str, list]:
    """Long-format learning curves: one row per unit and epoch."""
    return long_curves(units, lambda u: histories[u.key],
                       {"dataset": lambda u: u.dataset, "n_states": lambda u: u.n_states,
                        "column": lambda u: u.column, "seed": lambda u: u.seed_index},
                       ("epoch", "train_loss", "test_loss", "test_acc"))
