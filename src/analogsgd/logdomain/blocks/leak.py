"""The leak that realises L2 regularisation, and the storage node's junction leakage.

Class-AB weights (the accelerator's scheme, :func:`l2_leak_current_ab`): with
``w = (I⁺ − I⁻)/I_u`` stored in a sinh-domain pair, the decay ``dw/dt = −(I_λ/(C n U_T)) w`` needs
``I_C = −I_λ (g⁺I⁺ − g⁻I⁻)/(I⁺ + I⁻)``: two translinear dividers (I_λ I^±/(I⁺ + I⁻)), one sourcing
and one sinking. Mismatch (g⁺ ≠ g⁻) moves the decay's fixed point to w ≈ I_q(g⁻−g⁺)/I_u, tiny.

Offset-coded (class-A) weights, :func:`l2_leak_current`:
A weight is stored offset-coded, ``I_w = I_B + w I_u`` (see :mod:`..accelerator`). Weight decay
``dw/dt = −w/τ_λ`` needs ``C n U_T dI_w/dt = −I_λ (I_w − I_B)``, i.e. a capacitor current

.. math:: I_C = -g_s I_\\lambda + g_r \\frac{I_\\lambda I_B}{I_w},

a constant sink (one transistor) plus a translinear divider sourcing ``I_λ I_B/I_w``. With
mismatch (``g_s ≠ g_r``) the decay's fixed point moves from ``I_B`` to ``I_B g_r/g_s``.
Junction leakage of the storage node is a sink doubling every ``doubling_k`` kelvin.
"""

from __future__ import annotations

import numpy as np

#: two 4-T divider loops + 2-T sink mirror (class-AB leak)
TRANSISTORS = 10


def l2_leak_current(i_w, i_ref, i_lambda, gain_sink=1.0, gain_restore=1.0):
    """Capacitor current of the L2 leak: −g_s I_λ + g_r I_λ I_B / I_w (A)."""
    return i_lambda * (-gain_sink + gain_restore * np.asarray(i_ref) / np.asarray(i_w))


def junction_leakage(i_leak_nom_a, temp_k, t_nom_k=300.15, doubling_k=8.0):
    """Storage-node leakage I_leak(T) = I_leak,nom · 2^{(T − T_nom)/doubling_k} (A)."""
    return i_leak_nom_a * 2.0 ** ((np.asarray(temp_k) - t_nom_k) / doubling_k)


def l2_leak_current_ab(i_pos, i_neg, i_lambda, gain_pos=1.0, gain_neg=1.0):
    """Capacitor current of the class-AB L2 leak: −I_λ (g⁺I⁺ − g⁻I⁻)/(I⁺ + I⁻) (A)."""
    i_pos, i_neg = np.asarray(i_pos), np.asarray(i_neg)
    return -i_lambda * (gain_pos * i_pos - gain_neg * i_neg) / (i_pos + i_neg)
