"""A run folder: the resolved config, metrics, per-step curves, figures and a report.

Layout of ``runs/<experiment>-<timestamp>/``::

    config.json    resolved configuration, seed, package version, command line
    metrics.json   numbers, with a ``summary`` object
    curves/*.csv   per-step curves
    figures/*.png  figures
    report.md      a short human-readable report

Files are written atomically (write to a temporary name, then rename), so an interrupted run
never leaves a half-written file behind, with the mode any tool gives a new file (0666 less the
umask: 0644 under the usual umask 022, 0600 under 077).

``metrics.json`` never holds NaN or infinity: :meth:`RunFolder.write_metrics` refuses a
non-finite number anywhere in it (naming its key path), so a broken run stops instead of
writing ``null``; an experiment marks a value that is legitimately missing with ``None``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from .errors import NonFiniteError


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (np.floating, np.integer)):
        return _jsonable(value.item())
    if hasattr(value, "item") and callable(value.item) and getattr(value, "numel", lambda: 2)() == 1:
        return _jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, Path):
        return str(value)
    return value


def file_mode() -> int:
    """The mode of a new file under the process's umask (``open`` gives 0666 & ~umask; a
    ``tempfile.mkstemp`` file is 0600 whatever the umask, so its mode is set to this)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            umask = next(int(line.split()[1], 8) for line in fh if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError):
        umask = os.umask(0o022)
        os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: Path, write: Callable[[IO], None], mode: str = "w", sync: bool = False,
                 **open_kwargs: Any) -> None:
    """Create ``path`` through ``write(fh)`` on a temporary file in the same folder (opened with
    ``mode`` and ``open_kwargs``, given the umask's mode) and a rename, so that an interrupted
    write leaves the previous file intact; with ``sync`` the data reach the disk first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, file_mode())
        with os.fdopen(fd, mode, **open_kwargs) as fh:
            write(fh)
            if sync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str, newline: str | None = None) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`atomic_write`)."""
    atomic_write(path, lambda fh: fh.write(text), encoding="utf-8", newline=newline)


def non_finite_paths(value: Any, path: str = "") -> list[str]:
    """Key paths (``summary.loss[2]``) of every NaN or infinite number in a nested value
    (mappings, lists, tuples, numpy arrays and scalars, tensors); ``None`` counts as missing."""
    if isinstance(value, Mapping):
        return [p for k, v in value.items()
                for p in non_finite_paths(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, (list, tuple)):
        return [p for i, v in enumerate(value) for p in non_finite_paths(v, f"{path}[{i}]")]
    if isinstance(value, np.ndarray) or (hasattr(value, "tolist") and hasattr(value, "numel")):
        return non_finite_paths(value.tolist(), path)
    if isinstance(value, (float, np.floating)) and not math.isfinite(float(value)):
        return [f"{path} = {float(value)}"]
    return []


def require_finite(data: Mapping[str, Any], what: str) -> None:
    """Raise :class:`NonFiniteError` listing where ``data`` holds NaN or infinity."""
    bad = non_finite_paths(data)
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise NonFiniteError(f"{what} would hold non-finite numbers: {shown}; the run is broken "
                             "(lower the learning rate or check the device bounds)")


class RunFolder:
    """Writes the files of one run into ``path`` (created if needed)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    #: what a run writes, removed by :meth:`remove_results` (``--force``)
    RESULTS = ("config.json", "metrics.json", "timings.json", "report.md", "curves/*.csv",
               "figures/*.png", "checkpoints/*.pt")

    def remove_results(self) -> list[Path]:
        """Remove the files a previous run left here (the :attr:`RESULTS` patterns, nothing
        else), so that a forced new run mixes none of them into its own; return them."""
        removed = [p for pattern in self.RESULTS for p in self.path.glob(pattern) if p.is_file()]
        for p in removed:
            p.unlink()
        return removed

    def write_json(self, name: str, data: Mapping[str, Any]) -> Path:
        target = self.path / name
        atomic_write_text(target, json.dumps(_jsonable(data), indent=2, sort_keys=False) + "\n")
        return target

    def write_config(self, data: Mapping[str, Any]) -> Path:
        return self.write_json("config.json", data)

    def write_metrics(self, data: Mapping[str, Any]) -> Path:
        """Write ``metrics.json`` after refusing any NaN or infinite number in ``data``."""
        if "summary" not in data:
            raise ValueError("metrics must contain a 'summary' object")
        require_finite(data, f"{self.path / 'metrics.json'}")
        return self.write_json("metrics.json", data)

    def write_curves(self, name: str, columns: Mapping[str, Sequence[float]]) -> Path:
        """Write equally long columns as ``curves/<name>.csv`` (header = column names)."""
        lengths = {len(v) for v in columns.values()}
        if len(lengths) != 1:
            raise ValueError(f"curve columns of {name!r} differ in length: {sorted(lengths)}")
        target = self.path / "curves" / f"{name}.csv"
        rows = zip(*[list(map(_csv_cell, v)) for v in columns.values()])
        text = io.StringIO(newline="")
        writer = csv.writer(text)
        writer.writerow(list(columns))
        writer.writerows(rows)
        atomic_write_text(target, text.getvalue(), newline="")
        return target

    def figure_path(self, name: str) -> Path:
        target = self.path / "figures" / f"{name}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def save_figure(self, fig, name: str) -> Path:
        """Save a matplotlib figure as ``figures/<name>.png`` and close it."""
        import matplotlib.pyplot as plt

        target = self.figure_path(name)
        fig.savefig(target, dpi=120, bbox_inches="tight")
        plt.close(fig)
        return target

    def write_report(self, markdown: str) -> Path:
        target = self.path / "report.md"
        atomic_write_text(target, markdown)
        return target


def _csv_cell(v: Any) -> Any:
    v = _jsonable(v)
    return "" if v is None else v

