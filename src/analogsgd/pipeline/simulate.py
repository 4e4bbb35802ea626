"""The single-process execution of a pipeline timeline.

:func:`simulate` runs the events of a timeline (:mod:`.schedule`) in cycle order on the
:class:`~.stages.Stage` objects of one process. What a stage sends its neighbour (activations
forward, errors backward) waits in a mailbox until the neighbour's operation, on a later cycle,
takes it. Each stage holds an explicit weight version, the number of updates it has applied; the
version every operation saw is recorded, so the staleness the execution met can be compared with
the one the schedule promises (:func:`.schedule.versions_seen`).

Within a cycle the stages are independent (each uses only what was produced on earlier cycles,
and each owns its tiles' generators), so the order in which one cycle's operations run changes
nothing; the multi-process execution (:mod:`.distributed`) runs them concurrently and gives the
same numbers.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from .schedule import Event
from .stages import Stage


@dataclass(frozen=True)
class MicroBatches:
    """The stream of micro-batches: micro-batch m is rows ``index[m]`` of ``(x, y)``."""

    x: Tensor
    y: Tensor
    index: tuple[Tensor, ...]

    def __len__(self) -> int:
        return len(self.index)

    def inputs(self, m: int) -> Tensor:
        return self.x[self.index[m]]

    def labels(self, m: int) -> Tensor:
        return self.y[self.index[m]]

    def size(self, m: int) -> int:
        return int(self.index[m].numel())

    def for_stage(self, stage: int, n_stages: int) -> MicroBatches:
        """Only what stage ``stage`` reads, in stream order: the rows of the inputs on stage 0,
        of the labels on the last stage (the same values, bit for bit)."""
        rows = torch.cat(self.index) if self.index else torch.zeros(0, dtype=torch.long)
        sizes = [int(i.numel()) for i in self.index]
        starts = itertools.accumulate(sizes, initial=0)
        index = tuple(torch.arange(a, a + n) for a, n in zip(starts, sizes))
        x = self.x[rows] if stage == 0 else self.x[:0]
        y = self.y[rows] if stage == n_stages - 1 else self.y[:0]
        return MicroBatches(x, y, index)


def micro_batch_stream(n_samples: int, micro_batch_size: int, n_micro_batches: int,
                       generator: torch.Generator) -> tuple[Tensor, ...]:
    """``n_micro_batches`` index tensors of ``micro_batch_size`` rows: epochs of a fresh
    permutation of the ``n_samples`` rows from ``generator``, each cut into whole micro-batches
    (an epoch's remainder is dropped)."""
    per_epoch = n_samples // micro_batch_size
    if per_epoch < 1:
        raise ValueError(f"{n_samples} samples do not fill one micro-batch of {micro_batch_size}")
    out: list[Tensor] = []
    while len(out) < n_micro_batches:
        perm = torch.randperm(n_samples, generator=generator)
        for i in range(per_epoch):
            out.append(perm[i * micro_batch_size:(i + 1) * micro_batch_size])
    return tuple(out[:n_micro_batches])


@dataclass
class SimulationResult:
    """What :func:`simulate` measured.

    Attributes:
        losses: the training loss of each micro-batch (from the last stage's forward pass).
        versions: ``{(stage, op, micro_batch): version}`` of every operation executed.
        cycles: the last cycle executed + 1.
    """

    losses: dict[int, float] = field(default_factory=dict)
    versions: dict[tuple[int, str, int], int] = field(default_factory=dict)
    cycles: int = 0


def simulate(stages: Sequence[Stage], events: Sequence[Event], batches: MicroBatches,
             observe: Callable[[int, SimulationResult], None] | None = None,
             observe_every: int = 0) -> SimulationResult:
    """Run ``events`` on ``stages`` in cycle order; with ``observe``, call
    ``observe(cycle, result)`` after every cycle that is a multiple of ``observe_every`` (counted
    from 1: after cycle c − 1 ends, ``observe(c, ...)`` sees the weights of c cycles) and after
    the last cycle."""
    n = len(stages)
    acts: dict[tuple[int, int], Tensor] = {}     # (receiving stage, m) -> activations
    errs: dict[tuple[int, int], Tensor] = {}     # (receiving stage, m) -> error
    result = SimulationResult()
    ordered = sorted(events)
    last_seen = -1
    for i, e in enumerate(ordered):
        stage = stages[e.stage]
        result.versions[(e.stage, e.op, e.micro_batch)] = stage.version
        m = e.micro_batch
        if e.op == "F":
            x = batches.inputs(m) if stage.is_first else acts.pop((e.stage, m))
            out = stage.forward(m, x, batches.labels(m) if stage.is_last else None)
            if stage.is_last:
                result.losses[m] = float(out)
            else:
                acts[(e.stage + 1, m)] = out
        elif e.op == "B":
            grad = stage.backward(m, None if stage.is_last else errs.pop((e.stage, m)))
            if not stage.is_first:
                errs[(e.stage - 1, m)] = grad
        else:
            stage.update(m)
        end_of_cycle = i + 1 == len(ordered) or ordered[i + 1].cycle != e.cycle
        if end_of_cycle:
            result.cycles = e.cycle + 1
            if observe is not None and observe_every and result.cycles % observe_every == 0:
                observe(result.cycles, result)
                last_seen = result.cycles
    if observe is not None and last_seen != result.cycles:
        observe(result.cycles, result)
    if n and (acts or errs):
        raise RuntimeError(f"the timeline left {len(acts) + len(errs)} messages undelivered")
    return result
