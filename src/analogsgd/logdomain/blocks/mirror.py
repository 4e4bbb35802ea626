"""Current mirror: copies, fans out and inverts the direction of a current.

A simple mirror (input diode, output device, same V_GS) gives ``I_out = g·I_in`` with

.. math:: g = e^{(\\Delta V_{T,in} - \\Delta V_{T,out})/(n U_T)}\\,\\frac{1+\\delta\\beta_{out}}{1+\\delta\\beta_{in}},

which in weak inversion is σ(g) ≈ √2·σ(ΔV_T)/(n U_T) (the β term is second order).
"""

from __future__ import annotations

import numpy as np

from .translinear import normalised_overdrive

#: simple two-transistor mirror (a cascode doubles it)
TRANSISTORS = 2


def mirror_gain(dvt: np.ndarray, dbeta: np.ndarray, n_ut) -> np.ndarray:
    """Gain of a simple mirror from (ΔV_T, δβ) of (input, output) on the last axis."""
    return np.exp((dvt[..., 0] - dvt[..., 1]) / n_ut) * (1 + dbeta[..., 1]) / (1 + dbeta[..., 0])


def mirror(i_in, gain=1.0):
    """I_out = g·I_in (A)."""
    return gain * np.asarray(i_in)


def mirror_ekv(i_in, i_spec: float, vds_out_over_ut: float):
    """A simple mirror with the all-region EKV law: the diode (V_D = V_G, reverse term
    negligible) fixes the pinch-off overdrive q of both devices; the output device at
    V_DS = ``vds_out_over_ut``·U_T carries ``I_spec[ln²(1 + e^{q/2}) − ln²(1 + e^{(q − V_DS/U_T)/2})]``.
    Its only departure from ``I_in`` is the reverse term, ≈ e^{−V_DS/U_T} in weak inversion."""
    q = normalised_overdrive(i_in, i_spec)
    return i_spec * (np.log1p(np.exp(q / 2.0)) ** 2 - np.log1p(np.exp((q - vds_out_over_ut) / 2.0)) ** 2)
