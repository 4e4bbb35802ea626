"""Training one unit of a network study, with a checkpoint after every epoch.

After each epoch a unit evaluates the test set and writes ``checkpoints/<unit>.pt`` (model,
optimizer, scheduler, data-order generator, history); with ``ctx.resume`` a unit continues from
its checkpoint, and a finished unit is read back instead of re-run, so a killed run resumed ends
with exactly the weights and metrics of an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import torch
from torch import nn

from ..datasets import Dataset
from ..errors import check_finite
from ..nn.optimizer import AnalogOptimizer
from ._network_common import NetworkConfig
from ._network_units import Unit, build_unit
from .base import RunContext


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int) -> tuple[float, float]:
    """(mean cross-entropy, accuracy in %) of ``model`` on ``(x, y)``."""
    model.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, x.shape[0], batch):
            out = model(x[i:i + batch])
            loss += float(nn.functional.cross_entropy(out, y[i:i + batch], reduction="sum"))
            correct += int((out.argmax(1) == y[i:i + batch]).sum())
    model.train()
    return loss / x.shape[0], 100.0 * correct / x.shape[0]


def save_unit(path: Path, model, optimizer, scheduler, **extra) -> None:
    """Write a unit's checkpoint (atomically, see :func:`analogsgd.checkpoint.save_checkpoint`)."""
    from ..checkpoint import save_checkpoint

    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(path, model, optimizer, scheduler, **extra)


def load_unit(path: Path, model, optimizer, scheduler, order: torch.Generator,
              identity: dict) -> dict:
    """Read a unit's checkpoint into its objects (refused unless it is ``identity``'s); return
    the extra entries (the history)."""
    from ..checkpoint import load_checkpoint

    return load_checkpoint(path, model, optimizer, scheduler, generators={"order": order},
                           identity=identity)


def checkpoint_path(ctx: RunContext, unit: Unit) -> Path:
    """``checkpoints/<unit>.pt`` of the run folder."""
    return ctx.out.path / "checkpoints" / f"{unit.key}.pt"


def train_unit(cfg: NetworkConfig, unit: Unit, data: Dataset, ctx: RunContext, task) -> dict:
    """Train one unit (resuming from its checkpoint when ``ctx.resume``); return its history."""
    model, optimizer, scheduler, order = build_unit(cfg, unit, data)
    path = checkpoint_path(ctx, unit)
    identity = {"experiment": ctx.experiment, "unit": unit.key, **dataclasses.asdict(unit)}
    n = data.train_x.shape[0]
    batches = math.ceil(n / cfg.batch_size)
    if ctx.resume and path.is_file():
        extra = load_unit(path, model, optimizer, scheduler, order, identity)
        ctx.resumed_from(extra.get("run_wall_time_s", 0.0))
        history = extra["history"]
        task.advance(batches * (len(history["epoch"]) - 1))
        if len(history["epoch"]) - 1 >= cfg.epochs:
            return history
    else:
        loss, acc = evaluate(model, data.test_x, data.test_y, cfg.eval_batch_size)
        history = {"epoch": [0], "train_loss": [float("nan")], "test_loss": [loss], "test_acc": [acc],
                   "seconds": [0.0]}
    for epoch in range(len(history["epoch"]), cfg.epochs + 1):
        start = time.perf_counter()
        perm = torch.randperm(n, generator=order)
        total = 0.0
        for b in range(batches):
            idx = perm[b * cfg.batch_size:(b + 1) * cfg.batch_size]
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(data.train_x[idx]), data.train_y[idx])
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * idx.numel()
            task.advance()
        check_finite(torch.tensor(total), f"{unit.label}: training loss", step=epoch * batches)
        if isinstance(optimizer, AnalogOptimizer):    # e.g. residual learning's warm start
            optimizer.end_epoch(total / n)
        if scheduler is not None:
            scheduler.step()
        test_loss, test_acc = evaluate(model, data.test_x, data.test_y, cfg.eval_batch_size)
        for key, value in (("epoch", epoch), ("train_loss", total / n), ("test_loss", test_loss),
                           ("test_acc", test_acc), ("seconds", time.perf_counter() - start)):
            history[key].append(value)
        save_unit(path, model, optimizer, scheduler, identity=identity, history=history,
                  order=order, unit=dataclasses.asdict(unit), run_wall_time_s=ctx.wall_time_s())
    return history
