"""One training run (*unit*) of the ``pipeline`` experiment, and the multi-process check.

A unit is a dataset, a rule, a schedule and a seed. Its network is the network experiments'
FCN (:func:`._network_model.build_network`) with the study's hidden widths, made analog with the
network experiments' layer config (:func:`._network_analog.layer_config`: soft bounds ±τ with
Δw_min, the chosen periphery and update mode) and split into L stages. Every unit of one seed
starts from the same weights and trains on the same stream of micro-batches, whatever its
schedule, so the two schedules differ only in when each operation runs.

The test accuracy is read every ``eval_every_steps`` synchronous steps' worth of cycles, at the
same cycles under both schedules. Reading the test set draws read noise from the tiles'
generators, so their states are saved before and restored after: a run that is evaluated trains
exactly like one that is not (and like its multi-process twin, which is not evaluated).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from ..datasets import Dataset
from ..nn.convert import analog_layers
from ..optim import registry
from ..pipeline import (
    MicroBatches,
    PipelineJob,
    Stage,
    micro_batch_stream,
    run_distributed,
    simulate,
    split_stages,
    stage_tensors,
    sync_step_cycles,
    timeline,
)
from ..rng import child_seeds, torch_generator
from ._network_analog import gradient_write_lr, layer_config, to_analog
from ._network_model import build_network, init_parameters
from ._network_train import evaluate


@dataclass(frozen=True)
class PipelineUnit:
    """One training run."""

    dataset: str
    rule: str
    schedule: str
    seed_index: int
    seed: int

    @property
    def label(self) -> str:
        return (f"{self.dataset}, {registry.labels()[self.rule]}, {self.schedule}, "
                f"seed {self.seed_index}")


def rates(net_cfg, rule: str) -> tuple[float, float]:
    """(η, the gradient-write rate of the rule; α, the digital parameters' rate), as
    :func:`._network_analog.analog_model_and_optimizer`."""
    return gradient_write_lr(net_cfg, registry.RULES[rule]), net_cfg.analog_lr


def build_stage_modules(net_cfg, data: Dataset, rule: str, tau: float, n_stages: int,
                        seed: int) -> list[nn.Sequential]:
    """The unit's analog network (initial weights and tile seeds from ``seed``) in stages."""
    init_seed, _, tile_seed = child_seeds(seed, 3)
    model = build_network(net_cfg, data.image_shape, data.n_classes)
    init_parameters(model, torch_generator(init_seed))
    analog = to_analog(model, layer_config(net_cfg, rule, tau), tile_seed)
    return split_stages(nn.Sequential(*analog), n_stages)


def unit_batches(data: Dataset, micro_batch_size: int, n_micro_batches: int,
                 seed: int) -> MicroBatches:
    """The unit's micro-batches (the data order from ``seed``)."""
    order = torch_generator(child_seeds(seed, 3)[1])
    index = micro_batch_stream(data.train_x.shape[0], micro_batch_size, n_micro_batches, order)
    return MicroBatches(data.train_x, data.train_y, index)


def accuracy_pct(parts: list[nn.Module], x: torch.Tensor, y: torch.Tensor, batch: int) -> float:
    """Test accuracy (%) of the stages in sequence (:func:`._network_train.evaluate`), leaving
    every tile generator as it was."""
    tiles = [t for p in parts for _, layer in analog_layers(p) for t in layer.rule.tiles]
    states = [t.generator.get_state() for t in tiles]
    accuracy = evaluate(nn.Sequential(*parts), x, y, batch)[1]
    for t, s in zip(tiles, states, strict=True):
        t.generator.set_state(s)
    return accuracy


def train_unit(cfg, net_cfg, unit: PipelineUnit, data: Dataset, task=None) -> dict:
    """Train one unit under its schedule; its history ``{cycle, samples, test_acc, train_loss}``
    (evaluated at cycles 0, E, 2E, … and at the end) and its total cycles."""
    steps = cfg.steps(unit.dataset, data.train_x.shape[0])
    n_mb = steps * cfg.micro_batches
    parts = build_stage_modules(net_cfg, data, unit.rule, cfg.tau, cfg.n_stages, unit.seed)
    write_lr, digital_lr = rates(net_cfg, unit.rule)
    stages = [Stage(i, cfg.n_stages, p, write_lr, digital_lr) for i, p in enumerate(parts)]
    batches = unit_batches(data, cfg.micro_batch_size, n_mb, unit.seed)
    events = timeline(unit.schedule, cfg.n_stages, cfg.micro_batches, steps)
    every = cfg.eval_every_steps * sync_step_cycles(cfg.n_stages, cfg.micro_batches)
    history = {"cycle": [0], "samples": [0], "train_loss": [float("nan")],
               "test_acc": [accuracy_pct(parts, data.test_x, data.test_y, cfg.eval_batch_size)]}
    seen = {"losses": 0}

    def observe(cycle: int, result) -> None:
        losses = list(result.losses.values())[seen["losses"]:]
        seen["losses"] = len(result.losses)
        history["cycle"].append(cycle)
        history["samples"].append(stages[0].version * cfg.micro_batch_size)
        history["train_loss"].append(sum(losses) / len(losses) if losses else float("nan"))
        history["test_acc"].append(accuracy_pct(parts, data.test_x, data.test_y,
                                                 cfg.eval_batch_size))
        if task is not None:
            task.advance()

    result = simulate(stages, events, batches, observe=observe, observe_every=every)
    history["total_cycles"] = result.cycles
    return history


def multiprocess_check(cfg, studies: list[tuple[str, object, Dataset]], seed: int,
                       timeout_s: float = 300.0) -> dict[str, dict[str, dict[str, bool]]]:
    """``{dataset: {schedule: {rule: bool}}}`` for ``studies`` of (dataset name, network config,
    data): for ``cfg.check_steps`` steps of every schedule and rule, whether the
    one-process-per-stage run ends with exactly the weights (every tile, hidden array and
    digital parameter, ``torch.equal``) of the single-process run. One set of stage processes
    runs every job (their start-up is paid once)."""
    keys, jobs, singles = [], [], []
    n_mb = cfg.check_steps * cfg.micro_batches
    for name, net_cfg, data in studies:
        for schedule in cfg.schedules:
            for rule in cfg.rules:
                parts = build_stage_modules(net_cfg, data, rule, cfg.tau, cfg.n_stages, seed)
                write_lr, digital_lr = rates(net_cfg, rule)
                events = timeline(schedule, cfg.n_stages, cfg.micro_batches, cfg.check_steps)
                batches = unit_batches(data, cfg.micro_batch_size, n_mb, seed)
                jobs.append(PipelineJob(copy.deepcopy(parts), events, batches, write_lr,
                                        digital_lr))
                simulate([Stage(i, cfg.n_stages, p, write_lr, digital_lr)
                          for i, p in enumerate(parts)], events, batches)
                keys.append((name, schedule, rule))
                singles.append(parts)
    results = run_distributed(jobs, timeout_s=timeout_s)
    out: dict[str, dict[str, dict[str, bool]]] = {}
    for (name, schedule, rule), single, (multi, _) in zip(keys, singles, results):
        same = True
        for a, b in zip(single, multi):
            ta, tb = stage_tensors(a), stage_tensors(b)
            same = same and ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta)
        out.setdefault(name, {}).setdefault(schedule, {})[rule] = bool(same)
    return out
