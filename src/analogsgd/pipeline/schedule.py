"""The cycle timelines of pipeline training as data, and their closed forms.

A network split into L stages, one per accelerator, trains on a stream of micro-batches. A
*clock cycle* is the time of one stage operation on one micro-batch: its forward pass ``F``, its
backward pass ``B`` (the error read of the stage's tiles) or its update ``U`` (the pulsed write of
the micro-batch's outer products onto the stage's tiles). In one cycle every stage does at most
one operation; an operation may use what a neighbour produced in an earlier cycle. (Wu et al.,
arXiv 2410.15155, define "clock cycle" and "stage"; only the abstract is public, so this unit is
inferred: see docs/pipeline.md.)

Two schedules, both as a list of :class:`Event` ``(cycle, stage, op, micro_batch)``:

* **synchronous** (GPipe-style): a step of M micro-batches runs all forwards, then all
  backwards, then each stage writes the M updates; every micro-batch of a step sees the same
  weights. Stage s (0 = input side) runs F(m) on cycle m + s, B(m) on cycle (M + L − 1) +
  m + (L − 1 − s), and its M updates right after its last backward. A step takes
  T_sync = 2(M + L − 1) + M cycles: M + L − 1 forward cycles, as many backward cycles, and the
  M update cycles of stage 0 (the other stages' updates fall in their bubbles);
* **asynchronous** (PipeDream-style, no flush): micro-batches flow continuously; each stage, on
  every cycle, writes the update of a micro-batch whose backward pass it finished (U), else runs a
  ready backward (B), else admits the next forward (F), with at most L − s micro-batches in flight
  on stage s. After the fill every stage is busy on every cycle (a computation density of 1),
  each micro-batch costing 3 cycles of each stage, N micro-batches taking 3N + 2(L − 1)
  cycles; the backward pass of micro-batch m on stage s reads the tiles min(m, L − 1 − s)
  updates after its forward pass did (its staleness).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import ConfigError

SCHEDULES = ("sync", "async")
OPS = ("F", "B", "U")


@dataclass(frozen=True, order=True)
class Event:
    """One stage operation: on ``cycle``, ``stage`` runs ``op`` ('F', 'B' or 'U') on
    micro-batch ``micro_batch`` (numbered from 0 over the whole run)."""

    cycle: int
    stage: int
    op: str
    micro_batch: int


def _check(name: str, value, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"pipeline.{name}", value, f"an integer >= {low}")
    return value


def sync_timeline(n_stages: int, micro_batches: int, steps: int) -> list[Event]:
    """The synchronous timeline of ``steps`` steps of M = ``micro_batches`` micro-batches on
    L = ``n_stages`` stages (module docstring), sorted by cycle then stage."""
    L, M = _check("n_stages", n_stages), _check("micro_batches", micro_batches)
    _check("steps", steps)
    period = sync_step_cycles(L, M)
    events = []
    for k in range(steps):
        t0, first = k * period, k * M
        for s in range(L):
            for m in range(M):
                events.append(Event(t0 + m + s, s, "F", first + m))
                events.append(Event(t0 + M + L - 1 + m + (L - 1 - s), s, "B", first + m))
            last_b = t0 + M + L - 1 + (M - 1) + (L - 1 - s)
            for m in range(M):
                events.append(Event(last_b + 1 + m, s, "U", first + m))
    return sorted(events)


def async_timeline(n_stages: int, n_micro_batches: int) -> list[Event]:
    """The asynchronous timeline of ``n_micro_batches`` micro-batches on ``n_stages`` stages
    (module docstring): each stage greedily picks U, then B, then F (oldest micro-batch first),
    F admitted while fewer than L − s micro-batches are in flight on stage s. Sorted by cycle
    then stage."""
    L, N = _check("n_stages", n_stages), _check("n_micro_batches", n_micro_batches)
    f_done = [{} for _ in range(L)]      # micro-batch -> cycle of its F on stage s
    b_done = [{} for _ in range(L)]
    next_f = [0] * L
    pending_u: list[list[int]] = [[] for _ in range(L)]   # backwards done, update not yet
    waiting_b: list[list[int]] = [[] for _ in range(L)]   # forwards done, backward not yet
    events: list[Event] = []
    cycle, updates = 0, 0
    while updates < N * L:
        chosen = []
        for s in range(L):
            if pending_u[s]:
                chosen.append((s, "U", pending_u[s][0]))
                continue
            ready = [m for m in waiting_b[s] if f_done[s][m] < cycle
                     and (s == L - 1 or b_done[s + 1].get(m, cycle) < cycle)]
            if ready:
                chosen.append((s, "B", min(ready)))
                continue
            m = next_f[s]
            if (m < N and len(waiting_b[s]) < L - s
                    and (s == 0 or f_done[s - 1].get(m, cycle) < cycle)):
                chosen.append((s, "F", m))
        for s, op, m in chosen:      # apply after choosing: an output is usable next cycle
            events.append(Event(cycle, s, op, m))
            if op == "F":
                f_done[s][m] = cycle
                next_f[s] += 1
                waiting_b[s].append(m)
            elif op == "B":
                b_done[s][m] = cycle
                waiting_b[s].remove(m)
                pending_u[s].append(m)
            else:
                pending_u[s].pop(0)
                updates += 1
        cycle += 1
    return events


def timeline(schedule: str, n_stages: int, micro_batches: int, steps: int) -> list[Event]:
    """The timeline of ``steps`` × ``micro_batches`` micro-batches under ``schedule``."""
    if schedule == "sync":
        return sync_timeline(n_stages, micro_batches, steps)
    if schedule == "async":
        return async_timeline(n_stages, _check("micro_batches", micro_batches)
                              * _check("steps", steps))
    raise ConfigError("pipeline.schedule", schedule, "one of " + ", ".join(map(repr, SCHEDULES)))


# -- closed forms -------------------------------------------------------------------------------
def sync_step_cycles(n_stages: int, micro_batches: int) -> int:
    """Cycles of one synchronous step: (M + L − 1) forward + (M + L − 1) backward + M update."""
    return 2 * (micro_batches + n_stages - 1) + micro_batches


def sync_bubble_fraction(n_stages: int, micro_batches: int) -> float:
    """Idle share of the stage-cycles of a synchronous step: 1 − 3ML / (L T_sync)
    = 2(L − 1) / (3M + 2(L − 1))."""
    return 2 * (n_stages - 1) / (3 * micro_batches + 2 * (n_stages - 1))


def async_total_cycles(n_stages: int, n_micro_batches: int) -> int:
    """Cycles of the asynchronous timeline of N micro-batches: 3N + 2(L − 1), i.e. 3 cycles per
    micro-batch on stage 0 (the stage that is busy longest) and 2(L − 1) cycles in which it
    waits, once, for its first error to come back from the last stage."""
    return 3 * n_micro_batches + 2 * (n_stages - 1)


def async_staleness(n_stages: int, stage: int, micro_batch: int | None = None) -> int:
    """Updates of stage s between the forward and the backward pass of micro-batch m in the
    asynchronous schedule: min(m, L − 1 − s) (the steady state's L − 1 − s when m is None; none
    on the last stage). The update with m's gradient follows its backward pass at once, so this
    is also the delay of the gradient in updates."""
    steady = n_stages - 1 - stage
    return steady if micro_batch is None else min(micro_batch, steady)


# -- measurements on a timeline -------------------------------------------------------------------
@dataclass(frozen=True)
class TimelineStats:
    """What a timeline costs and how stale it is.

    Attributes:
        cycles: cycles from the first event to the last, inclusive.
        busy_fraction: share of the L × cycles stage-cycles that hold an operation.
        bubble_fraction: 1 − busy_fraction.
        micro_batches: micro-batches trained (updated on every stage).
        staleness: per stage, (min, max, mean) over micro-batches of the number of the stage's
            updates between the micro-batch's forward and backward pass.
        update_delay: per stage, (min, max, mean) of the stage's updates between the forward
            pass of a micro-batch and the update with its gradient.
    """

    cycles: int
    busy_fraction: float
    bubble_fraction: float
    micro_batches: int
    staleness: tuple[tuple[int, int, float], ...]
    update_delay: tuple[tuple[int, int, float], ...]

    def samples_per_cycle(self, micro_batch_size: int) -> float:
        """Samples trained per clock cycle."""
        return self.micro_batches * micro_batch_size / self.cycles


def versions_seen(events: Iterable[Event], n_stages: int) -> dict[tuple[int, str, int], int]:
    """``{(stage, op, micro_batch): version}``: how many updates the stage had applied before
    the operation (its tiles' weight version when the operation read or wrote them)."""
    version = [0] * n_stages
    seen = {}
    for e in sorted(events):
        seen[(e.stage, e.op, e.micro_batch)] = version[e.stage]
        if e.op == "U":
            version[e.stage] += 1
    return seen


def timeline_stats(events: list[Event], n_stages: int) -> TimelineStats:
    """Cycles, busy share, micro-batches and per-stage staleness of ``events``."""
    if not events:
        raise ConfigError("timeline_stats.events", events, "a non-empty list of Events")
    first, last = min(e.cycle for e in events), max(e.cycle for e in events)
    cycles = last - first + 1
    seen = versions_seen(events, n_stages)
    stale, delay = [], []
    for s in range(n_stages):
        ms = sorted(m for (st, op, m) in seen if st == s and op == "F")
        gaps = [seen[(s, "B", m)] - seen[(s, "F", m)] for m in ms]
        lags = [seen[(s, "U", m)] - seen[(s, "F", m)] for m in ms]
        stale.append((min(gaps), max(gaps), sum(gaps) / len(gaps)))
        delay.append((min(lags), max(lags), sum(lags) / len(lags)))
    busy = len(events) / (n_stages * cycles)
    micro = len({e.micro_batch for e in events if e.op == "U" and e.stage == 0})
    return TimelineStats(cycles, busy, 1.0 - busy, micro, tuple(stale), tuple(delay))


def check_timeline(events: list[Event], n_stages: int) -> None:
    """Raise ValueError unless ``events`` is a valid timeline: one operation per stage and cycle,
    each micro-batch's F, B, U once on every stage, F(m) on s after F(m) on s − 1, B(m) on s
    after F(m) on s and B(m) on s + 1, U(m) after B(m)."""
    at: dict[tuple[int, int], Event] = {}
    when: dict[tuple[int, str, int], int] = {}
    for e in events:
        if (e.cycle, e.stage) in at:
            raise ValueError(f"two operations on stage {e.stage} at cycle {e.cycle}")
        if (e.stage, e.op, e.micro_batch) in when:
            raise ValueError(f"{e.op}({e.micro_batch}) twice on stage {e.stage}")
        at[(e.cycle, e.stage)] = e
        when[(e.stage, e.op, e.micro_batch)] = e.cycle
    for (s, op, m), c in when.items():
        need = {"F": [(s - 1, "F")] if s > 0 else [],
                "B": [(s, "F")] + ([(s + 1, "B")] if s < n_stages - 1 else []),
                "U": [(s, "B")]}[op]
        for dep in need:
            if when.get((dep[0], dep[1], m), c) >= c:
                raise ValueError(f"{op}({m}) on stage {s} at cycle {c} before {dep[1]}({m}) "
                                 f"on stage {dep[0]}")
