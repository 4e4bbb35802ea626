"""Run ngspice in batch mode and read its results back (docs/spice.md §2).

``ngspice -b file.cir`` in a fresh temporary folder, with a wall-clock limit; the netlist's
``.control`` block writes the probed vectors with ``wrdata`` (one scale column, named columns),
which is the robust path (docs/spice.md: the Python wrappers mis-read BSIM3's
informational messages). The executable is ``ngspice`` on ``PATH`` unless the argument or the
environment variable ``ANALOGSGD_NGSPICE`` names another one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import AnalogSGDError

ENV_EXECUTABLE = "ANALOGSGD_NGSPICE"
INSTALL_COMMAND = "apt-get install -y ngspice"
#: the file the generated ``.control`` block writes with ``wrdata``
RESULT_FILE = "result.txt"


class SpiceNotFoundError(AnalogSGDError, FileNotFoundError):
    """ngspice is not installed (or the configured executable does not exist)."""


class SpiceError(AnalogSGDError, RuntimeError):
    """ngspice ran but failed (error, time limit, or no result); carries the tail of its log."""


def not_found_message(executable: str = "ngspice") -> str:
    """The one-line message printed when the simulator is missing."""
    return (f"ngspice is not installed ({executable!r} not found): run `{INSTALL_COMMAND}` "
            "(Debian/Ubuntu) or set ANALOGSGD_NGSPICE to its path.")


def find_ngspice(executable: str | None = None) -> str:
    """Absolute path of the ngspice executable, or :class:`SpiceNotFoundError` (one line)."""
    name = executable or os.environ.get(ENV_EXECUTABLE) or "ngspice"
    path = shutil.which(name)
    if path is None:
        raise SpiceNotFoundError(not_found_message(name))
    return path


def missing_reason(executable: str | None = None) -> str | None:
    """None when ngspice can be run, else the one-line reason (for skips and the CLI)."""
    try:
        find_ngspice(executable)
    except SpiceNotFoundError as exc:
        return str(exc)
    return None


@dataclass
class SpiceResult:
    """Columns read back from ``wrdata`` (the scale first, under its ngspice name)."""

    columns: dict[str, np.ndarray]
    wall_s: float
    log: str

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    @property
    def scale(self) -> np.ndarray:
        return next(iter(self.columns.values()))


def read_wrdata(path: Path) -> dict[str, np.ndarray]:
    """Parse a ``wrdata`` file written with ``wr_singlescale`` and ``wr_vecnames``."""
    lines = path.read_text().splitlines()
    names = lines[0].split()
    data = np.loadtxt(lines[1:], ndmin=2)
    if data.shape[1] != len(names):
        raise SpiceError(f"wrdata file {path.name} has {data.shape[1]} columns for {len(names)} names")
    return {n: data[:, k] for k, n in enumerate(names)}


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def run_netlist(text: str, *, timeout_s: float = 120.0, executable: str | None = None,
                keep_dir: str | os.PathLike | None = None) -> SpiceResult:
    """Run the netlist ``text`` (its control block writes :data:`RESULT_FILE`) and read it back.

    ``wall_s`` is the wall time of the ngspice process alone (start to exit).
    Raises :class:`SpiceNotFoundError`, or :class:`SpiceError` with the tail of the log.
    """
    exe = find_ngspice(executable)
    with tempfile.TemporaryDirectory(prefix="analogsgd-spice-") as tmp:
        folder = Path(tmp)
        cir = folder / "circuit.cir"
        cir.write_text(text)
        t0 = time.perf_counter()
        try:
            proc = subprocess.run([exe, "-b", cir.name], cwd=folder, capture_output=True,
                                  text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired as exc:
            log = (exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) \
                else (exc.stdout or "")
            raise SpiceError(f"ngspice ran past its time limit of {timeout_s:g} s\n{_tail(log)}") from None
        wall = time.perf_counter() - t0
        log = proc.stdout + proc.stderr
        if keep_dir is not None:
            Path(keep_dir).mkdir(parents=True, exist_ok=True)
            shutil.copy(cir, Path(keep_dir) / cir.name)
            (Path(keep_dir) / "ngspice.log").write_text(log)
        result = folder / RESULT_FILE
        if proc.returncode != 0 or not result.exists():
            raise SpiceError(f"ngspice failed (exit {proc.returncode}); end of its log:\n{_tail(log)}")
        return SpiceResult(read_wrdata(result), wall, log)
