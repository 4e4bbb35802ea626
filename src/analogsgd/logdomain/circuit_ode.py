"""The circuit-level ODE of the accelerator (the vector field, kept apart from the integrators).

State: the storage-capacitor voltages ``V`` of every weight and the bias, shape (M, P) (M
instances). Within one hold the DAC outputs are constant. With ``I_j = i_s e^{V_j/(nU_T)} + I_floor``:

.. math::
   \\hat y_{net} &= \\tfrac{1}{I_u}\\sum_k \\big[I_k(g^{f+}_k x^+_k - g^{f-}_k x^-_k)
                    + I_{B,k}(g^{r+}_k x^-_k - g^{r-}_k x^+_k)\\big], \\quad
   e_{net} = \\hat y_{net} - (g^{y+} y^+ - g^{y-} y^-),\\\\
   e^\\pm &= g^{e\\pm}\\,\\tfrac12\\big(\\sqrt{e_{net}^2 + 4I_{qe}^2} \\pm e_{net}\\big),\\\\
   C_j \\dot V_j &= \\frac{I_{\\tau,j}}{I_u I_j}\\big(g^a e^- x^+ + g^b e^+ x^- - g^c e^+ x^+ - g^d e^- x^-\\big)
                 + I_{\\lambda,j}\\Big(-g^{ls}_j + g^{lr}_j\\frac{I_{B,j}}{I_j}\\Big) - I_{leak,j}.

All gains 1 recover ``dw/dt = −(I_τ/(C n U_T))(e x + λ w)`` exactly (docs/logdomain.md §5).
The Jacobian ``∂f/∂V`` is diagonal plus rank one, ``J = diag(d) + a bᵀ`` (the cells couple only
through the scalar error), which the integrators solve in O(P) per instance by
Sherman–Morrison.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .blocks import sample_hold
from .instances import CircuitParams


@dataclass(frozen=True)
class HoldInputs:
    """DAC currents held during one sample: x± (M, P) with the bias column, y± (M,)."""

    xp: np.ndarray
    xn: np.ndarray
    yp: np.ndarray
    yn: np.ndarray


def hold_inputs(params: CircuitParams, x: np.ndarray, y: float) -> HoldInputs:
    """DAC outputs for one sample ``x`` (N,), ``y`` (scalar), with each instance's DAC errors."""
    M, P = params.shape
    i_u, iq, bits, fs = params.i_u, params.i_qx, params.dac_bits, params.x_full_scale
    xp, xn = sample_hold.dac_currents(np.broadcast_to(x, (M, P - 1)), bits, fs, i_u, iq,
                                      params.dac_err_x)
    yp, yn = sample_hold.dac_currents(np.full(M, float(y)), bits, fs, i_u, iq, params.dac_err_y)
    # the bias input is the constant unit current ("x = 1")
    xp = np.concatenate([xp, np.full((M, 1), i_u)], axis=1)
    xn = np.concatenate([xn, np.zeros((M, 1))], axis=1)
    return HoldInputs(xp, xn, yp, yn)


def cell_currents(params: CircuitParams, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(I, dI/dV) of the storage cells."""
    i_exp = params.i_s * np.exp(v / params.n_ut)
    return i_exp + params.i_floor, i_exp / params.n_ut


def error_current(params: CircuitParams, inp: HoldInputs, i_w: np.ndarray) -> np.ndarray:
    """e_net (M,), A: prediction minus label, before the class-AB split."""
    p = params
    y_hat = ((p.g_fwd_pos * inp.xp - p.g_fwd_neg * inp.xn) * i_w
             + (p.g_ref_pos * inp.xn - p.g_ref_neg * inp.xp) * p.i_ref).sum(1) / p.i_u
    return y_hat - (p.g_y_pos * inp.yp - p.g_y_neg * inp.yn)


def vector_field(params: CircuitParams, inp: HoldInputs, v: np.ndarray, jacobian: bool = True):
    """dV/dt (M, P) and, if ``jacobian``, (d, a, b) with ∂f/∂V = diag(d) + a bᵀ, and the sum of
    absolute branch currents into each node (for shot noise)."""
    p = params
    i_w, di_dv = cell_currents(p, v)
    e = error_current(p, inp, i_w)
    root = np.sqrt(e * e + 4.0 * p.i_qe * p.i_qe)
    ep = (p.g_e_pos * 0.5 * (root + e))[:, None]
    en = (p.g_e_neg * 0.5 * (root - e))[:, None]
    src = p.g_a * en * inp.xp + p.g_b * ep * inp.xn
    snk = p.g_c * ep * inp.xp + p.g_d * en * inp.xn
    k_tau = p.i_tau / (p.i_u * i_w)
    drive = k_tau * (src - snk)
    restore = p.i_lambda * p.g_leak_restore * p.i_ref / i_w
    i_cap = drive - p.i_lambda * p.g_leak_sink + restore - p.i_leak
    f = i_cap / p.c_f
    abs_branch = k_tau * (src + snk) + p.i_lambda * p.g_leak_sink + restore + p.i_leak
    if not jacobian:
        return f, None, abs_branch
    dep = (p.g_e_pos * 0.5 * (e / root + 1.0))[:, None]
    den = (p.g_e_neg * 0.5 * (e / root - 1.0))[:, None]
    dnum = (p.g_a * inp.xp - p.g_d * inp.xn) * den + (p.g_b * inp.xn - p.g_c * inp.xp) * dep
    a = k_tau * dnum / p.c_f
    b = (p.g_fwd_pos * inp.xp - p.g_fwd_neg * inp.xn) / p.i_u * di_dv
    d = -(drive + restore) / i_w * di_dv / p.c_f
    return f, (d, a, b), abs_branch


def stiffness(jac) -> np.ndarray:
    """A bound on the fastest rate |λ_max| of diag(d) + a bᵀ per instance, 1/s."""
    d, a, b = jac
    return np.abs(d).max(1) + np.abs((a * b).sum(1))


def read_weights(params: CircuitParams, v: np.ndarray) -> np.ndarray:
    """Weights and bias (M, P) read out from the capacitor voltages (see blocks.readout)."""
    from .blocks.readout import read_weight

    i_w, _ = cell_currents(params, v)
    return read_weight(i_w, params.i_ref, params.i_u, params.g_read, params.g_read_ref,
                       params.adc_bits, params.x_full_scale)


def initial_voltages(params: CircuitParams) -> np.ndarray:
    """Reset: each cell is written to its reference current I_B (w = 0)."""
    return params.n_ut * np.log((params.i_ref - params.i_floor) / params.i_s)
