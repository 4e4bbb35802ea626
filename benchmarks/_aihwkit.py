"""Drive ``_aihwkit_worker.py`` in aihwkit's venv, so its steps join the same timing rounds.

aihwkit (IBM, ``pip install aihwkit``; a C++ build tied to one torch version) is the reference
these benchmarks compare with, never a dependency: its venv is found through the environment
variable ``AIHWKIT_VENV`` (default ``tools/aihwkit/.venv`` under the repository root). Without
it the benchmarks say so and leave the aihwkit columns out.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import torch
from _timing import Runner

#: the device and update that both sides use (aihwkit's defaults), as printed by the benchmarks
DEVICE = ("SoftBounds ±0.6, Δw_min 1e-3; d2d: Δw_min 0.3, bounds 0.3, up/down 0.01; c2c 0.3 "
          "(aihwkit SoftBoundsDevice defaults; analogsgd.devices.presets.aihwkit_soft_bounds)")
UPDATE = ("pulsed, BL 31, bit-length and update management (aihwkit UpdateParameters defaults); "
          "analogsgd counts pulse coincidences by their moments (UpdateConfig.counting='moments') "
          "unless a method says 'bit_trains', aihwkit draws every pulse train")

ROOT = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).resolve().parent / "_aihwkit_worker.py"


def venv_python() -> tuple[Path | None, str]:
    """(the venv's python, '') or (None, why not)."""
    venv = Path(os.environ.get("AIHWKIT_VENV", ROOT / "tools" / "aihwkit" / ".venv"))
    python = venv / "bin" / "python"
    if not python.exists():
        return None, f"no aihwkit venv at {venv} (set AIHWKIT_VENV to the venv of an aihwkit install)"
    return python, ""


class AihwkitWorker:
    """One worker process; :meth:`setup` returns a :data:`~_timing.Runner` per aihwkit method."""

    def __init__(self, python: Path):
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self.proc = subprocess.Popen([str(python), str(WORKER)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env)
        try:
            self.info = self.ask({"cmd": "info"})
        except BaseException:
            self.proc.kill()   # a worker that cannot answer is not left running
            raise

    def ask(self, msg: dict) -> dict:
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the aihwkit worker ended (exit code {self.proc.wait()}); "
                               "its error is printed above")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"aihwkit worker: {answer['error']}")
        return answer

    def setup(self, bench: str, data: dict, prefix: str = "aihwkit_") -> tuple[dict[str, Runner], dict]:
        """Build the worker's methods of ``bench`` from ``data`` (tensors, passed as a file)."""
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "data.pt"
            torch.save(data, path)
            answer = self.ask({"cmd": "setup", "bench": bench, "data": str(path)})

        def runner(method: str) -> Runner:
            def run(n: int) -> tuple[float, float]:
                answer = self.ask({"cmd": "block", "method": method, "n": n})
                return answer["s"], answer["cpu_s"]
            return run
        return {prefix + m: runner(m) for m in answer["methods"]}, answer["settings"]

    def close(self) -> None:
        """Ask the worker to quit and wait for it."""
        if self.proc.poll() is None:
            self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=60)


def start(enabled: bool = True) -> tuple[AihwkitWorker | None, str]:
    """(a running worker, '') or (None, why there is none, also printed)."""
    if not enabled:
        reason = "aihwkit comparison switched off (--no-aihwkit)"
    else:
        python, reason = venv_python()
        if python is not None:
            try:
                return AihwkitWorker(python), ""
            except (OSError, RuntimeError, json.JSONDecodeError) as err:
                reason = f"the aihwkit worker did not start with {python}: {err}"
    print(f"aihwkit: {reason}; the aihwkit columns are skipped")
    return None, reason
