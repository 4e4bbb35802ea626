"""Translinear multiplier / divider (Gilbert's translinear principle in weak-inversion MOS).

In a closed loop of gate-source junctions, clockwise (CW) and counter-clockwise (CCW) voltages
balance, ``Σ_CW V_GS = Σ_CCW V_GS``. With ``V_GS,i = V_T0 + ΔV_T,i + n U_T ln(I_i/(I_s(1+δβ_i)))``
the output current of a four-transistor loop is

.. math:: I_{out} = g\\,\\frac{I_a I_b}{I_c}, \\qquad
          g = \\exp\\Big(\\sum_i s_i \\frac{\\Delta V_{T,i}}{n U_T}\\Big)\\prod_i (1+\\delta\\beta_i)^{-s_i},

with ``s_i = +1`` on the CW side (``I_a``, ``I_b``) and ``−1`` on the CCW side (``I_c``, ``I_out``).
A six-transistor loop gives the three-input product/divide ``g·I_a I_b I_c/(I_d I_e)`` used for
the gradient drive ``I_τ·I_e·I_x/(I_u·I_w)`` of the Bernoulli cell.
"""

from __future__ import annotations

import numpy as np

#: 4-transistor loop + 2 level-shift/bias devices
TRANSISTORS_MULTIPLIER = 6
#: 6-transistor loop (3 CW, 3 CCW) + 2 bias devices
TRANSISTORS_MULTIPLIER_DIVIDER = 8
#: signs of a 4-T loop's devices: I_a, I_b (CW), I_c, I_out (CCW)
SIGNS_4 = np.array([1.0, 1.0, -1.0, -1.0])
#: signs of a 6-T loop's devices: 3 CW inputs, 1 CCW input and the CCW output
SIGNS_6 = np.array([1.0, 1.0, 1.0, -1.0, -1.0, -1.0])


def loop_gain(dvt: np.ndarray, dbeta: np.ndarray, signs: np.ndarray, n_ut) -> np.ndarray:
    """Gain error g of a translinear loop from per-transistor (ΔV_T, δβ), last axis = devices."""
    log_g = (dvt * signs).sum(-1) / n_ut - (np.log1p(dbeta) * signs).sum(-1)
    return np.exp(log_g)


def multiply_divide(i_a, i_b, i_c, gain=1.0):
    """I_out = g·I_a·I_b/I_c (A); all inputs must be positive (class-A log-domain)."""
    return gain * np.asarray(i_a) * np.asarray(i_b) / np.asarray(i_c)


def normalised_overdrive(i, i_spec):
    """(V_P − V_S)/U_T of a saturated device carrying ``i``: the inverse of the all-region EKV
    law ``i = I_spec ln²(1 + e^{q/2})`` (Enz, Krummenacher, Vittoz 1995), ``q = 2 ln(e^{√(i/I_spec)} − 1)``;
    in weak inversion ``q → ln(i/I_spec)``."""
    return 2.0 * np.log(np.expm1(np.sqrt(np.asarray(i, dtype=float) / i_spec)))


def multiply_divide_ekv(i_a, i_b, i_c, i_spec: float):
    """The 4-T up-down loop evaluated with the all-region EKV law of each device (saturation).

    Every device pair shares a gate or a source, so KVL in pinch-off voltages gives
    ``q_out = q_a + q_b − q_c`` with ``q`` of :func:`normalised_overdrive`, and
    ``I_out = I_spec ln²(1 + e^{q_out/2})``. In weak inversion this is ``I_a I_b/I_c``; towards
    moderate inversion each q gains ≈ √(I/I_spec), which the loop does not cancel.
    """
    q = (normalised_overdrive(i_a, i_spec) + normalised_overdrive(i_b, i_spec)
         - normalised_overdrive(i_c, i_spec))
    return i_spec * np.log1p(np.exp(q / 2.0)) ** 2
