"""Part (b) of ``few-states``: every rule training a network on few-state devices.

The network, data and rates are those of the base experiment named by ``network``
(``digits-fcn`` or ``fmnist-cnn``, their full config), with the study's budget, periphery and
devices: the network experiments' device 'paper' with τ = 1 and Δw_min = 2/n is exactly
:func:`~.few_states.few_state_device` (n). Training, checkpoints and resuming are those of
:mod:`._network_train`; each unit's checkpoint is named after its rule, n_states and seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..checkpoint import check_checkpoint_path
from ..optim import registry
from ..rng import child_seeds
from ._network_common import NetworkConfig
from ._network_data import load_data
from ._network_summary import _stats
from ._network_train import checkpoint_path, train_unit
from ._network_units import Unit, long_curves
from .base import RunContext
from .few_states import TAU, FewStatesConfig


@dataclass(frozen=True)
class StatesUnit(Unit):
    """One training run: a rule, n_states (None for digital SGD) and a seed."""

    n_states: int | None = None
    #: the study part ('' for the network part, 'cnn' for the CNN part): a prefix of the key
    part: str = ""

    @property
    def key(self) -> str:
        n = "" if self.n_states is None else f"_n{self.n_states}"
        prefix = f"{self.part}_" if self.part else ""
        return f"{prefix}seed{self.seed_index}_{self.algorithm}{n}"

    @property
    def label(self) -> str:
        n = "" if self.n_states is None else f", {self.n_states} states"
        return f"{registry.labels()[self.algorithm]}{n}, seed {self.seed_index}"


def network_config(cfg: FewStatesConfig, n_states: int) -> NetworkConfig:
    """The base experiment's full config with the study's budget, periphery and n_states
    device (τ = 1, Δw_min = 2/n)."""
    from . import get_experiment

    base = get_experiment(cfg.network).config()
    changes = {"epochs": cfg.net_epochs, "lr_step_epochs": 0, "taus": (TAU,),
               "dw_min": 2 * TAU / n_states, "periphery": cfg.net_periphery,
               "update_mode": cfg.net_update_mode, "n_seeds": cfg.n_seeds,
               "weight_scaling_omega": cfg.net_weight_scaling_omega,
               "data_path": cfg.data_path or base.data_path}
    changes.update({k: v for k, v in (("n_train", cfg.net_n_train), ("n_test", cfg.net_n_test)) if v})
    return base.replace(**changes)


def plan(cfg: FewStatesConfig, seed: int, part: str = "") -> list[StatesUnit]:
    """Per seed: digital SGD once, every analog rule at every n_states. Every unit of a seed
    starts from the same weights and sees the same mini-batches."""
    units = []
    for i, s in enumerate(child_seeds(seed, cfg.n_seeds)):
        for kind in cfg.kinds:
            for n in ([None] if kind == "digital_sgd" else cfg.n_states):
                units.append(StatesUnit(kind, None if n is None else TAU, i, s, n, part))
    return units


def network_study(cfg: FewStatesConfig, ctx: RunContext, seed: int, part: str = "") -> dict:
    """``{"accuracy": {rule: {n: stats}}, "data": {...}}`` (digital SGD's stats repeated under
    every n); writes ``curves/network_curves.csv`` (``curves/<part>_curves.csv`` for another
    ``part``, whose checkpoints are named ``<part>_<unit>``)."""
    data = load_data(network_config(cfg, cfg.n_states[0]))
    units = plan(cfg, seed, part)
    for unit in units:  # before any training: a checkpoint path that cannot be written
        check_checkpoint_path(checkpoint_path(ctx, unit))
    histories: dict[str, dict] = {}
    for unit in units:
        net_cfg = network_config(cfg, unit.n_states or cfg.n_states[0])
        batches = math.ceil(data.train_x.shape[0] / net_cfg.batch_size)
        with ctx.progress.task(net_cfg.epochs * batches, f"{cfg.network}: {unit.label}") as task:
            histories[unit.key] = train_unit(net_cfg, unit, data, ctx, task)
    ctx.out.write_curves(f"{part}_curves" if part else "network_curves", _curves(units, histories))
    accuracy = {}
    for kind in cfg.kinds:
        accuracy[kind] = {}
        for n in cfg.n_states:
            want = None if kind == "digital_sgd" else n
            finals = [histories[u.key]["test_acc"][-1] for u in units
                      if u.algorithm == kind and u.n_states == want]
            accuracy[kind][f"{n}"] = _stats(finals)
    return {"accuracy": accuracy,
            "data": {"name": data.name, "n_train": int(data.train_x.shape[0]),
                     "n_test": int(data.test_x.shape[0])}}


def _curves(units: list[StatesUnit], histories: dict[str, dict]) -> dict[str, list]:
    """Long-format learning curves: one row per unit and epoch."""
    return long_curves(units, lambda u: histories[u.key],
                       {"rule": lambda u: u.algorithm,
                        "n_states": lambda u: "" if u.n_states is None else u.n_states,
                        "seed": lambda u: u.seed_index},
                       ("epoch", "train_loss", "test_loss", "test_acc"))
