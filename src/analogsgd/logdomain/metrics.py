"""Error metrics between weight trajectories (docs/logdomain.md §7).

``mse_pct(a, ref) = 100 · mean_{k,j} (a_kj − ref_kj)² / max_{k,j} |ref_kj|²`` over every
recorded instant k (the end of each hold) and every parameter j (weights and bias): the mean
square error normalised to the reference weights' full scale (their largest magnitude over
the run), in percent. Comparisons with discrete SGDr use the ideal CT run's full scale, so that a
diverging discrete run shows as a large error. ``final_mse_pct`` is the same on the last instant only.
"""

from __future__ import annotations

import numpy as np


def full_scale(ref: np.ndarray) -> np.ndarray:
    """max |ref| over time and parameters, per instance: ref (S+1, M, P) → (M,)."""
    return np.abs(ref).max(axis=(0, 2))


def mse_pct(a: np.ndarray, ref: np.ndarray, scale: np.ndarray | None = None) -> np.ndarray:
    """Normalised trajectory MSE in percent, per instance (M,).

    ``scale`` overrides the full scale (e.g. the ideal CT run's when ``ref`` is a discrete run
    that may diverge, whose own full scale would hide the divergence).
    """
    fs = full_scale(ref) if scale is None else scale
    return 100.0 * ((a - ref) ** 2).mean(axis=(0, 2)) / fs ** 2


def final_mse_pct(a: np.ndarray, ref: np.ndarray, scale: np.ndarray | None = None) -> np.ndarray:
    fs = full_scale(ref) if scale is None else scale
    return 100.0 * ((a[-1] - ref[-1]) ** 2).mean(-1) / fs ** 2


def rms_error(a: np.ndarray, ref: np.ndarray) -> np.ndarray:
    return np.sqrt(((a - ref) ** 2).mean(axis=(0, 2)))
