"""Progress reporting, injected into long computations (the core never prints).

The core calls ``progress.task(total, description)`` and then ``advance(n)`` on the returned
handle; the command line passes a tqdm-backed reporter, tests and library users get the silent
default.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator, Protocol


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


class TqdmProgress:
    """Progress bars on standard error (used by the command line)."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled

    @contextmanager
    def task(self, total: int, description: str) -> Iterator[_TqdmHandle]:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=description, file=sys.stderr, disable=not self.enabled,
                   dynamic_ncols=True, leave=False)
        try:
            yield _TqdmHandle(bar)
        finally:
            bar.close()
