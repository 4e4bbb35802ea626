"""The runs (*units*) of a network study and how each one is built.

One unit is one training run: an algorithm (digital SGD, Analog SGD, Tiki-Taka), a device bound
τ (analog only) and a seed. Every unit of the same seed starts from the same initial weights and
sees the same mini-batch order, so the algorithms are compared pairwise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..datasets import Dataset
from ..rng import child_seeds, torch_generator
from ._network_common import LABELS, NetworkConfig
from ._network_model import build_network, init_parameters


@dataclass(frozen=True)
class Unit:
    """One training run."""

    algorithm: str
    tau: float | None
    seed_index: int
    seed: int

    @property
    def key(self) -> str:
        tau = "" if self.tau is None else f"_tau{self.tau:g}"
        return f"seed{self.seed_index}_{self.algorithm}{tau}"

    @property
    def label(self) -> str:
        tau = "" if self.tau is None else f", τ={self.tau:g}"
        return f"{LABELS[self.algorithm]}{tau}, seed {self.seed_index}"

    def rule_config(self, cfg: NetworkConfig):
        """The rule config of the unit's analog layers: the registered ``algorithm`` at the
        study's rates (:func:`~._network_analog.rule_config`). A study whose units differ in
        more than the kind (e.g. residual learning's tile count) carries the config in its unit
        and returns it here."""
        from ._network_analog import rule_config

        return rule_config(self.algorithm, cfg.analog_lr, cfg.transfer_every)


def plan_units(cfg: NetworkConfig, seed: int) -> list[Unit]:
    """Every run of the study: per seed, digital once, each analog algorithm at each τ."""
    units = []
    for i, s in enumerate(child_seeds(seed, cfg.n_seeds)):
        for alg in cfg.algorithms:
            for tau in ([None] if alg == "digital_sgd" else cfg.taus):
                units.append(Unit(alg, None if tau is None else float(tau), i, s))
    return units


def build_unit(cfg: NetworkConfig, unit: Unit, data: Dataset):
    """The model, optimizer and scheduler of a unit, and its data-order generator."""
    init_seed, order_seed, tile_seed = child_seeds(unit.seed, 3)
    model = build_network(cfg, data.image_shape, data.n_classes)
    init_parameters(model, torch_generator(init_seed))
    if unit.algorithm == "digital_sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=cfg.digital_lr)
    else:
        from ._network_analog import analog_model_and_optimizer

        model, optimizer = analog_model_and_optimizer(model, cfg, unit.algorithm, unit.tau, tile_seed,
                                                      rule=unit.rule_config(cfg))
    scheduler = (torch.optim.lr_scheduler.StepLR(optimizer, cfg.lr_step_epochs, cfg.lr_gamma)
                 if cfg.lr_step_epochs else None)
    return model, optimizer, scheduler, torch_generator(order_seed)


def long_curves(units: Sequence, history_of: Callable[[object], Mapping[str, list]],
                unit_columns: Mapping[str, Callable[[object], object]],
                series: tuple[str, ...]) -> dict[str, list]:
    """Learning curves in long format: one row per unit and recorded point, the columns
    ``unit_columns`` (a function of the unit each) followed by the history's lists ``series``
    (``history_of(unit)[name][i]``; the first list counts the points)."""
    curves: dict[str, list] = {k: [] for k in (*unit_columns, *series)}
    for unit in units:
        h = history_of(unit)
        for i in range(len(h[series[0]])):
            for k, column in unit_columns.items():
                curves[k].append(column(unit))
            for k in series:
                curves[k].append(h[k][i])
    return curves


def unit_timings(units: Sequence[Unit], histories: Mapping[str, dict]) -> dict:
    """Wall-clock seconds per epoch of every unit (training and test evaluation), by key."""
    return {u.key: {"seconds_per_epoch": float(np.mean(histories[u.key]["seconds"][1:]))
                    if len(histories[u.key]["seconds"]) > 1 else 0.0} for u in units}
