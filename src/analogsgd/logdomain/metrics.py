"""Error metrics between weight trajectories (docs/logdomain.md §7).

``nmse_pct(a, ref) = 100 · mean_{k,j} (a_kj − ref_kj)² / max_{k,j} |ref_kj|²`` over every
recorded instant k (the end of each hold) and every parameter j (weights and bias): the mean
*squared* error normalised to the square of the reference weights' full scale (their largest
magnitude over the run), in percent. Its square root is the rms error as a percentage of the
full scale, ``rms_pct_of_fs = 100·√(nmse_pct/100) = 10·√nmse_pct``: an NMSE of 0.87 % is an rms
error of 9.3 % of full scale. Every report carries both (:func:`both`). Comparisons with discrete
SGDr use the ideal CT run's full scale, so that a diverging discrete run shows as a large error.
``final_nmse_pct`` is the same on the last instant only.

Worst cases are taken with :func:`worst`, which propagates NaN (Python's ``max`` skips it), and
claims are judged with :func:`below`, which is False for a NaN.
"""

from __future__ import annotations

import math

import numpy as np


def full_scale(ref: np.ndarray) -> np.ndarray:
    """max |ref| over time and parameters, per instance: ref (S+1, M, P) → (M,)."""
    return np.abs(ref).max(axis=(0, 2))


def nmse_pct(a: np.ndarray, ref: np.ndarray, scale: np.ndarray | None = None) -> np.ndarray:
    """Trajectory MSE normalised to the full scale squared, in percent, per instance (M,).

    ``scale`` overrides the full scale (e.g. the ideal CT run's when ``ref`` is a discrete run
    that may diverge, whose own full scale would hide the divergence).
    """
    fs = full_scale(ref) if scale is None else scale
    return 100.0 * ((a - ref) ** 2).mean(axis=(0, 2)) / fs ** 2


def final_nmse_pct(a: np.ndarray, ref: np.ndarray, scale: np.ndarray | None = None) -> np.ndarray:
    """:func:`nmse_pct` on the last recorded instant only, per instance (M,)."""
    fs = full_scale(ref) if scale is None else scale
    return 100.0 * ((a[-1] - ref[-1]) ** 2).mean(-1) / fs ** 2


def rms_pct_of_fs(nmse):
    """rms error in percent of the full scale from an NMSE in percent: ``10·√nmse``."""
    return 10.0 * np.sqrt(nmse)


def both(what: str, nmse) -> dict:
    """``{nmse_<what>_pct: x, rms_<what>_pct_of_fs: 10√x}`` for one NMSE value (or a label).

    A non-numeric ``nmse`` (e.g. "diverged (discrete SGDr)") is passed to both keys.
    """
    if isinstance(nmse, str):
        return {f"nmse_{what}_pct": nmse, f"rms_{what}_pct_of_fs": nmse}
    x = float(nmse)
    return {f"nmse_{what}_pct": x, f"rms_{what}_pct_of_fs": float(rms_pct_of_fs(x))}


def worst(values) -> float:
    """The largest value, NaN if any value is NaN (unlike Python's ``max``)."""
    arr = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=float)
    return float(np.max(arr)) if arr.size else math.nan


def below(value: float, bound: float) -> bool:
    """``value < bound`` that is False for NaN (a claim never holds on a non-finite run)."""
    return bool(math.isfinite(value) and value < bound)
