"""A run folder: the resolved config, metrics, per-step curves, figures and a report.

Layout of ``runs/<experiment>-<timestamp>/``::

    config.json    resolved configuration, seed, package version, command line
    metrics.json   numbers, with a ``summary`` object
    curves/*.csv   per-step curves
    figures/*.png  figures
    report.md      a short human-readable report

Files are written atomically (write to a temporary name, then rename), so an interrupted run
never leaves a half-written file behind.
"""

from __future__ import annotations

import csv
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping, Sequence

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


def atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class RunFolder:
    """Writes the files of one run into ``path`` (created if needed)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    def write_json(self, name: str, data: Mapping[str, Any]) -> Path:
        target = self.path / name
        atomic_write_text(target, json.dumps(_jsonable(data), indent=2, sort_keys=False) + "\n")
        return target

    def write_config(self, data: Mapping[str, Any]) -> Path:
        return self.write_json("config.json", data)

    def write_metrics(self, data: Mapping[str, Any]) -> Path:
        if "summary" not in data:
            raise ValueError("metrics must contain a 'summary' object")
        return self.write_json("metrics.json", data)

    def write_curves(self, name: str, columns: Mapping[str, Sequence[float]]) -> Path:
        """Write equally long columns as ``curves/<name>.csv`` (header = column names)."""
        lengths = {len(v) for v in columns.values()}
        if len(lengths) != 1:
            raise ValueError(f"curve columns of {name!r} differ in length: {sorted(lengths)}")
        target = self.path / "curves" / f"{name}.csv"
        target.parent.mkdir(parents=True, exist_ok=True)
        rows = zip(*[list(map(_csv_cell, v)) for v in columns.values()])
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(list(columns))
            writer.writerows(rows)
        os.replace(tmp, target)
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


def require_finite_summary(summary: Mapping[str, Any]) -> None:
    """Refuse to write a summary holding NaN (a sign of a broken run)."""
    for key, value in summary.items():
        if isinstance(value, float) and math.isnan(value):
            raise NonFiniteError(f"summary value {key!r} is NaN")
