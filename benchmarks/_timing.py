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

#: runs n consecutive steps of one method and returns (wall-clock s, CPU s of its process)
Runner = Callable[[int], tuple[float, float]]


def run_block(step: Callable[[], object], n: int,
              sync: Callable[[], None] = lambda: None) -> tuple[float, float]:
    """(wall-clock seconds, process CPU seconds) of ``n`` consecutive calls of ``step``.

    The CPU time (``time.process_time``: all threads of this process) leaves out the time the
    process waited for a core, so on a loaded machine it is the better estimate of what the step
    costs on an idle one; ``sync`` (e.g. a CUDA synchronise) runs before each clock read.
    """
    sync()
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(n):
        step()
    sync()
    return time.perf_counter() - t0, time.process_time() - c0


def local_runner(step: Callable[[], object], sync: Callable[[], None] = lambda: None) -> Runner:
    """A :data:`Runner` of ``step`` in this process."""
    return lambda n: run_block(step, n, sync)


def _stats(values: list[float], key: str) -> dict:
    return {key: round(1e3 * statistics.median(values), 4),
            f"{key}_min": round(1e3 * min(values), 4), f"{key}_max": round(1e3 * max(values), 4)}


def block_timing(runners: dict[str, Runner], rounds: int, block: int, block_s: float = 0.25,
                 warmup: int = 5, baseline: str = "digital") -> dict[str, dict]:
    """ms per step of every method, timed the same way for all: blocks of consecutive steps.

    Each method first runs ``warmup`` steps twice (compilation, caches); the second run sets its
    block length n = min(``block``, max(1, round(``block_s`` / step time))), so a slow method
    is not run for minutes. Then ``rounds`` rounds each time one block of n consecutive steps
    per method, the order reversed every other round so that load from other processes is
    spread over all methods. Per method, over the rounds, of (block time / n): the median wall
    time ``ms`` with ``ms_min`` and ``ms_max``, the same of the process CPU time (``cpu_ms``...),
    ``ratio`` and ``cpu_ratio`` = median / the ``baseline``'s median, ``n`` and ``rounds``.
    """
    if baseline not in runners:
        raise ValueError(f"baseline {baseline!r} is not among the methods {list(runners)}")
    n: dict[str, int] = {}
    for name, run in runners.items():
        run(warmup)
        per_step = run(warmup)[0] / warmup
        n[name] = min(block, max(1, round(block_s / per_step))) if per_step > 0 else block
    wall: dict[str, list[float]] = {name: [] for name in runners}
    cpu: dict[str, list[float]] = {name: [] for name in runners}
    names = list(runners)
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            w, c = runners[name](n[name])
            wall[name].append(w / n[name])
            cpu[name].append(c / n[name])
    out = {name: {**_stats(wall[name], "ms"), **_stats(cpu[name], "cpu_ms"), "n": n[name],
                  "rounds": rounds} for name in runners}
    for r in out.values():
        r["ratio"] = round(r["ms"] / out[baseline]["ms"], 3)
        r["cpu_ratio"] = round(r["cpu_ms"] / out[baseline]["cpu_ms"], 3)
    return out


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


def over(results: dict, pairs: dict[str, str]) -> dict[str, dict]:
    """``{"name / other": {"wall": ratio, "cpu": ratio}}`` of the median times, for every
    ``name: other`` of ``pairs`` measured in ``results``."""
    return {f"{name} / {other}": {"wall": round(results[name]["ms"] / results[other]["ms"], 3),
                                  "cpu": round(results[name]["cpu_ms"] / results[other]["cpu_ms"], 3)}
            for name, other in pairs.items() if name in results and other in results}


def show_settings(title: str, settings: dict[str, str]) -> None:
    """Print ``title:`` and one indented ``key: text`` line per setting."""
    print(f"{title}:")
    for key, text in settings.items():
        print(f"  {key}: {text}")


AIHWKIT_SETTINGS_TITLE = "aihwkit rpu_configs (fields that differ from aihwkit's defaults)"


def report(results: dict, batches: list[int], out: Path, width: int) -> None:
    """Print every batch's table (ms per step, wall clock and process CPU: median and min–max
    over rounds, ratio to the digital step; the analogsgd/aihwkit ratios) and write ``results``
    to ``out``."""
    results["machine"]["loadavg_end"] = loadavg()
    for b in batches:
        rows = results["batches"][str(b)]
        print(f"\nbatch {b}: ms per step, median (min–max over rounds) of blocks of n steps")
        print(f"{'method':{width}s} {'wall ms':>9s} {'(min–max)':>19s} {'× dig.':>7s} "
              f"{'CPU ms':>9s} {'(min–max)':>19s} {'× dig.':>7s} {'n':>4s}")
        for name, r in rows.items():
            span = f"({r['ms_min']:.3f}–{r['ms_max']:.3f})"
            cspan = f"({r['cpu_ms_min']:.3f}–{r['cpu_ms_max']:.3f})"
            print(f"{name:{width}s} {r['ms']:9.3f} {span:>19s} {r['ratio']:7.2f} "
                  f"{r['cpu_ms']:9.3f} {cspan:>19s} {r['cpu_ratio']:7.2f} {r['n']:4d}")
        for pair, ratio in results.get("over_aihwkit", {}).get(str(b), {}).items():
            print(f"{pair}: {ratio['wall']:.2f} (wall), {ratio['cpu']:.2f} (CPU)")
    print(f"\nload average (1, 5, 15 min): start {results['machine']['loadavg_start']}, "
          f"end {results['machine']['loadavg_end']}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"wrote {out}")
