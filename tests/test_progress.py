"""Progress on a redirected stderr: a plain line at most every 10 s, each task with its own rate."""

import io

from analogsgd.progress import TqdmProgress


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_a_log_gets_a_line_every_ten_seconds_not_a_redraw_per_step():
    clock, log = Clock(), io.StringIO()          # StringIO is not a TTY, as a log file
    progress = TqdmProgress(clock=clock, stream=log)
    with progress.task(400, "train") as task:
        for _ in range(400):                     # 400 steps of 0.25 s (exact in binary): 100 s
            clock.t += 0.25
            task.advance()
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert len(lines) == 11 and lines[-1] == "train: 400/400 (100%) 01:40 done"
    assert lines[0] == "train: 40/400 (10%) 00:10, ETA 01:30"   # 0.25 s/step × 360 left


def test_each_phase_has_its_own_rate():
    """A fast phase then a slow one (digital SGD, then Tiki-Taka): the slow phase's ETA comes
    from its own rate (1 s/step × 90 steps left = 1:30), not from the fast phase's."""
    clock, log = Clock(), io.StringIO()
    progress = TqdmProgress(clock=clock, stream=log)
    for step_s in (2.0**-7, 1.0):
        with progress.task(100, f"{step_s}") as task:
            for _ in range(100):
                clock.t += step_s
                task.advance()
    slow = [ln for ln in log.getvalue().splitlines() if ln.startswith("1.0:")]
    assert slow[0] == "1.0: 10/100 (10%) 00:10, ETA 01:30"


def test_disabled_progress_writes_nothing():
    log = io.StringIO()
    with TqdmProgress(enabled=False, stream=log).task(10, "x") as task:
        task.advance(10)
    assert log.getvalue() == ""
