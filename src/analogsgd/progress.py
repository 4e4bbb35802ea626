"""Progress reporting, injected into long computations (the core never prints).

The core calls ``progress.task(total, description)`` and then ``advance(n)`` on the returned
handle; the command line passes a tqdm-backed reporter, tests and library users get the silent
default. A computation made of phases with different rates (one training unit per algorithm)
opens one task per phase, so that each rate and ETA is its own.

On a terminal the reporter draws tqdm bars; when standard error is not a terminal (a log file,
a pipe) it writes a plain line at most every ``interval_s`` seconds (10 s) and one when a task
ends, instead of a stream of carriage-return redraws.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol, TextIO


class TaskHandle(Protocol):
    def advance(self, n: int = 1) -> None: ...


class Progress(Protocol):
    def task(self, total: int, description: str): ...


class _NullHandle:
    def advance(self, n: int = 1) -> None:
        pass


class NullProgress:
    """Reports nothing."""

    @contextmanager
    def task(self, total: int, description: str) -> Iterator[_NullHandle]:
        yield _NullHandle()


class _TqdmHandle:
    def __init__(self, bar):
        self._bar = bar

    def advance(self, n: int = 1) -> None:
        self._bar.update(n)


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60:02d}:{rest % 60:02d}"


class _LineHandle:
    """Plain progress lines, ``description: n/total (pct%) elapsed, ETA``, at most one per
    ``interval_s`` seconds; the rate is this task's own (done / elapsed)."""

    def __init__(self, total: int, description: str, stream: TextIO, interval_s: float,
                 clock: Callable[[], float]):
        self.total, self.description, self.stream = total, description, stream
        self.interval_s, self.clock = interval_s, clock
        self.done = 0
        self.start = self.last = clock()

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self.clock() - self.last >= self.interval_s:
            self.write()

    def write(self, final: bool = False) -> None:
        now = self.clock()
        self.last = now
        elapsed = now - self.start
        pct = f" ({100.0 * self.done / self.total:.0f}%)" if self.total else ""
        line = f"{self.description}: {self.done}/{self.total}{pct} {_clock(elapsed)}"
        if final:
            line += " done"
        elif self.done:
            line += f", ETA {_clock(elapsed / self.done * max(self.total - self.done, 0))}"
        print(line, file=self.stream, flush=True)


class TqdmProgress:
    """Progress on standard error (used by the command line): tqdm bars on a terminal, a plain
    line every ``interval_s`` seconds otherwise."""

    def __init__(self, enabled: bool = True, interval_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic, stream: TextIO | None = None):
        self.enabled, self.interval_s, self.clock = enabled, interval_s, clock
        self.stream = stream

    @contextmanager
    def task(self, total: int, description: str) -> Iterator[TaskHandle]:
        stream = self.stream or sys.stderr
        if not self.enabled:
            yield _NullHandle()
            return
        if not (hasattr(stream, "isatty") and stream.isatty()):
            handle = _LineHandle(total, description, stream, self.interval_s, self.clock)
            yield handle
            handle.write(final=True)
            return
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=description, file=stream, dynamic_ncols=True, leave=False)
        try:
            yield _TqdmHandle(bar)
        finally:
            bar.close()
