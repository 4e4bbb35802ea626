r"""The circuit-level ODE of the accelerator (the vector field, kept apart from the integrators).

State: the storage-capacitor voltage ``V`` of every weight and the bias (a class-AB pair each,
:mod:`.blocks.bernoulli_cell`), shape (M, P) for M instances. Within one hold the DAC outputs
are constant. With ``I^±_j = i_{s,j}^± e^{±V_j/(nU_T)} + I_{floor}`` and ``D_j = I^+_j + I^-_j``:

.. math::
   \hat y_{net} &= \tfrac{1}{I_u}\sum_k \big[I^+_k(g^{pp}_k x^+_k - g^{pn}_k x^-_k)
                    + I^-_k(g^{nn}_k x^-_k - g^{np}_k x^+_k)\big], \quad
   e_{net} = \hat y_{net} - (g^{y+} y^+ - g^{y-} y^-),\\
   e^\pm &= g^{e\pm}\,\tfrac12\big(\sqrt{e_{net}^2 + 4I_{qe}^2} \pm e_{net}\big),\\
   N_j &= \frac{I_{\tau,j}}{I_u}\big(g^a e^- x^+ + g^b e^+ x^- - g^c e^+ x^+ - g^d e^- x^-\big)
          - I_{\lambda,j}\big(g^{l+}_j I^+_j - g^{l-}_j I^-_j\big),\\
   C_j \dot V_j &= N_j / D_j - I_{leak,j}.

All gains 1 (and no floor, quiescent or leakage) recover
``dw/dt = −(I_τ/(C n U_T))(e x + λ w)`` exactly (docs/logdomain.md §5). The Jacobian
``∂f/∂V`` is diagonal plus rank one, ``J = diag(d) + a bᵀ`` (the cells couple only through the
scalar error), which the integrators solve in O(P) per instance by Sherman–Morrison.
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


def cell_currents(params: CircuitParams, v: np.ndarray):
    """(I⁺, I⁻, dI⁺/dV, dI⁻/dV) of the class-AB storage pairs."""
    x = v / params.n_ut
    ep = params.i_s_pos * np.exp(x)
    en = params.i_s_neg * np.exp(-x)
    return ep + params.i_floor, en + params.i_floor, ep / params.n_ut, -en / params.n_ut


def error_current(params: CircuitParams, inp: HoldInputs, ip: np.ndarray, i_n: np.ndarray) -> np.ndarray:
    """e_net (M,), A: prediction minus label, before the class-AB split."""
    p = params
    y_hat = ((p.g_pp * inp.xp - p.g_pn * inp.xn) * ip
             + (p.g_nn * inp.xn - p.g_np * inp.xp) * i_n).sum(1) / p.i_u
    return y_hat - (p.g_y_pos * inp.yp - p.g_y_neg * inp.yn)


def vector_field(params: CircuitParams, inp: HoldInputs, v: np.ndarray, jacobian: bool = True):
    """dV/dt (M, P) and, if ``jacobian``, (d, a, b) with ∂f/∂V = diag(d) + a bᵀ, and the sum of
    absolute branch currents into each node (for shot noise)."""
    p = params
    ip, i_n, dip, din = cell_currents(p, v)
    dsum = ip + i_n
    e = error_current(p, inp, ip, i_n)
    root = np.sqrt(e * e + 4.0 * p.i_qe * p.i_qe)
    ep = (p.g_e_pos * 0.5 * (root + e))[:, None]
    en = (p.g_e_neg * 0.5 * (root - e))[:, None]
    k_tau = p.i_tau / p.i_u
    src = k_tau * (p.g_a * en * inp.xp + p.g_b * ep * inp.xn)
    snk = k_tau * (p.g_c * ep * inp.xp + p.g_d * en * inp.xn)
    leak_p = p.i_lambda * p.g_leak_pos * ip
    leak_n = p.i_lambda * p.g_leak_neg * i_n
    num = src - snk - leak_p + leak_n
    f = (num / dsum - p.i_leak) / p.c_f
    abs_branch = (src + snk + leak_p + leak_n) / dsum + p.i_leak
    if not jacobian:
        return f, None, abs_branch
    dep = (p.g_e_pos * 0.5 * (e / root + 1.0))[:, None]
    den = (p.g_e_neg * 0.5 * (e / root - 1.0))[:, None]
    dnum = k_tau * ((p.g_a * inp.xp - p.g_d * inp.xn) * den + (p.g_b * inp.xn - p.g_c * inp.xp) * dep)
    a = dnum / (dsum * p.c_f)
    b = ((p.g_pp * inp.xp - p.g_pn * inp.xn) * dip + (p.g_nn * inp.xn - p.g_np * inp.xp) * din) / p.i_u
    dnum_dv = -p.i_lambda * (p.g_leak_pos * dip - p.g_leak_neg * din)
    d = (dnum_dv * dsum - num * (dip + din)) / (dsum * dsum * p.c_f)
    return f, (d, a, b), abs_branch


def stiffness(jac) -> np.ndarray:
    """A bound on the fastest rate |λ_max| of diag(d) + a bᵀ per instance, 1/s."""
    d, a, b = jac
    return np.abs(d).max(1) + np.abs((a * b).sum(1))


def read_weights(params: CircuitParams, v: np.ndarray) -> np.ndarray:
    """Weights and bias (M, P) read out from the capacitor voltages (see blocks.readout)."""
    from .blocks.readout import read_weight

    ip, i_n, _, _ = cell_currents(params, v)
    return read_weight(ip, i_n, params.i_u, params.g_read_pos, params.g_read_neg,
                       params.adc_bits, params.x_full_scale)


def initial_voltages(params: CircuitParams) -> np.ndarray:
    """Reset: the capacitor is shorted, V = 0 (I⁺ = I⁻ = I_qw, w ≈ 0)."""
    return np.zeros(params.shape)
