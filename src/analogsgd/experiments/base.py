"""The experiment protocol: a name, a config class with quick and full presets, and a run."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..progress import NullProgress, Progress
from ..runfolder import RunFolder


@dataclass
class RunContext:
    """What a running experiment may use besides its config.

    Attributes:
        seed: the run seed.
        out: the run folder.
        quick: the reduced variant is running.
        progress: where to report progress.
        resume: continue from the checkpoints already in ``out`` (``analogsgd run --resume``;
            only for an experiment with ``checkpoints=True``).
        experiment: the experiment's name (part of the identity stored in each checkpoint).
        started: ``time.perf_counter()`` when this process started the run.
        earlier_s: wall-clock seconds the run had spent before this process resumed it (the
            largest ``run_wall_time_s`` among the checkpoints read back, see
            :meth:`resumed_from`).
    """

    seed: int
    out: RunFolder
    quick: bool = False
    progress: Progress = field(default_factory=NullProgress)
    resume: bool = False
    experiment: str = ""
    started: float = field(default_factory=time.perf_counter)
    earlier_s: float = 0.0

    def wall_time_s(self) -> float:
        """Wall-clock seconds of the whole run so far, earlier processes included (stored in
        each checkpoint so that a resumed run reports the time of the whole run)."""
        return self.earlier_s + time.perf_counter() - self.started

    def resumed_from(self, run_wall_time_s: float) -> None:
        """Count the time a checkpoint read back says the run had spent when it was written."""
        self.earlier_s = max(self.earlier_s, float(run_wall_time_s))


@dataclass(frozen=True)
class Experiment:
    """A named experiment.

    Attributes:
        name: command-line name, e.g. ``"ls-asymptotic"``.
        description: one line for ``analogsgd list``.
        full: builds the full (paper) config.
        quick: builds the reduced config (a few minutes at most on 2 CPU cores).
        run: ``run(config, ctx) -> metrics``; metrics hold a ``summary`` dict. The run writes its
            curves, figures and ``report.md`` through ``ctx.out``.
        references: papers the experiment reproduces, written into the report.
        check: optional ``check(config)`` for checks that need more than the config itself
            (e.g. that a dataset's files exist); the command line calls it before it creates
            the run folder, so a failure leaves nothing behind.
        checkpoints: the run writes checkpoints and continues from them with ``ctx.resume``
            (``analogsgd run NAME --resume`` refuses an experiment without them).
    """

    name: str
    description: str
    full: Callable[[], Any]
    quick: Callable[[], Any]
    run: Callable[[Any, RunContext], dict]
    references: tuple[str, ...] = ()
    check: Callable[[Any], None] | None = None
    checkpoints: bool = False

    def config(self, quick: bool = False) -> Any:
        return self.quick() if quick else self.full()
