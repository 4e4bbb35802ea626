"""What the speed benchmarks share: block timing of every method against a digital baseline,
the results table, and a note of the machine (and its load) the numbers were taken on.

Imported by the ``bench_*.py`` scripts, which run as ``python benchmarks/bench_*.py`` (their
folder is then on ``sys.path``), and by ``_aihwkit_worker.py`` in aihwkit's own venv (so only
the standard library and torch are imported here).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import torch

#: runs n consecutive steps of one method and returns the seconds they took
Runner = Callable[[int], float]


def local_runner(step: Callable[[], object], sync: Callable[[], None] = lambda: None) -> Runner:
    """A :data:`Runner` of ``step`` in this process; ``sync`` (e.g. a CUDA synchronise) runs
    before each clock read."""
    def run(n: int) -> float:
        sync()
        t0 = time.perf_counter()
        for _ in range(n):
            step()
        sync()
        return time.perf_counter() - t0
    return run


def block_timing(runners: dict[str, Runner], rounds: int, block: int, block_s: float = 0.25,
                 warmup: int = 5, baseline: str = "digital") -> dict[str, dict]:
    """ms per step of every method, timed the same way for all: blocks of consecutive steps.

    Each method first runs ``warmup`` steps twice (compilation, caches); the second run sets its
    block length n = min(``block``, max(1, round(``block_s`` / step time))), so a slow method
    is not run for minutes. Then ``rounds`` rounds each time one block of n consecutive steps
    per method, the order reversed every other round so that load from other processes is
    spread over all methods. Per method: the median over rounds of (block time / n) in ``ms``,
    its min and max over rounds, ``ratio`` = median / the ``baseline``'s median, ``n`` and
    ``rounds``.
    """
    if baseline not in runners:
        raise ValueError(f"baseline {baseline!r} is not among the methods {list(runners)}")
    n: dict[str, int] = {}
    for name, run in runners.items():
        run(warmup)
        per_step = run(warmup) / warmup
        n[name] = min(block, max(1, round(block_s / per_step))) if per_step > 0 else block
    times: dict[str, list[float]] = {name: [] for name in runners}
    names = list(runners)
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            times[name].append(runners[name](n[name]) / n[name])
    med = {name: 1e3 * statistics.median(ts) for name, ts in times.items()}
    return {name: {"ms": round(med[name], 4), "ms_min": round(1e3 * min(times[name]), 4),
                   "ms_max": round(1e3 * max(times[name]), 4),
                   "ratio": round(med[name] / med[baseline], 3), "n": n[name], "rounds": rounds}
            for name in runners}


def loadavg() -> str | None:
    """The 1-, 5- and 15-minute load averages of ``/proc/loadavg`` (None where there is none)."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return None


def machine_note(**extra) -> dict:
    """CPU, versions, threads, date and load of a benchmark run (``extra`` entries added)."""
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import numba
        numba_version = numba.__version__
    except ImportError:
        numba_version = None
    return {"date_utc": datetime.now(UTC).isoformat(timespec="seconds"), "cpu": cpu, **extra,
            "logical_cpus": os.cpu_count(), "python": platform.python_version(),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "numba": numba_version, "loadavg_start": loadavg()}


def over(results: dict, pairs: dict[str, str]) -> dict[str, float]:
    """``{"name / other": median time of name over that of other}`` for every ``name: other``
    of ``pairs`` measured in ``results``."""
    return {f"{name} / {other}": round(results[name]["ms"] / results[other]["ms"], 3)
            for name, other in pairs.items() if name in results and other in results}


def report(results: dict, batches: list[int], out: Path, width: int) -> None:
    """Print every batch's table (ms per step: median and min–max over rounds, ratio to the
    digital step, and the analogsgd/aihwkit ratios) and write ``results`` to ``out``."""
    results["machine"]["loadavg_end"] = loadavg()
    for b in batches:
        rows = results["batches"][str(b)]
        print(f"\nbatch {b}: ms per step, median (min–max over rounds) of blocks of n steps")
        print(f"{'method':{width}s} {'ms':>9s} {'(min–max)':>19s} {'× digital':>10s} {'n':>4s}")
        for name, r in rows.items():
            span = f"({r['ms_min']:.3f}–{r['ms_max']:.3f})"
            print(f"{name:{width}s} {r['ms']:9.3f} {span:>19s} {r['ratio']:10.2f} {r['n']:4d}")
        for pair, ratio in results.get("over_aihwkit", {}).get(str(b), {}).items():
            print(f"{pair}: {ratio:.2f}")
    print(f"\nload average (1, 5, 15 min): start {results['machine']['loadavg_start']}, "
          f"end {results['machine']['loadavg_end']}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"wrote {out}")
