"""Bernoulli cell: a weak-inversion MOS whose gate sits on a capacitor (the volatile memory).

The stored variable is the capacitor voltage ``V_C``; the cell's current is exponential in it,
``I = I_s e^{V_C/(n U_T)}`` (gate-side capacitor, source grounded, docs/logdomain.md §12). With a net
capacitor current ``I_C`` (``C dV_C/dt = I_C``) the current obeys

.. math:: C\\,n U_T\\,\\frac{dI}{dt} = I\\,I_C .

Primitives (docs/logdomain.md §2, §12):

* log-domain integrator ``I_C = I_τ I_in / I``: ``dI/dt = I_τ I_in/(C n U_T)`` (a ramp);
* leak ``I_C = −I_λ``: ``I(t) = I_0 e^{−t I_λ/(C n U_T)}``;
* Bernoulli form ``I_C = I_ext − I``: ``dI/dt = I (I_ext − I)/(C n U_T)``, solved with ``z = 1/I``:
  ``I(t) = I_ext / (1 + (I_ext/I_0 − 1) e^{−I_ext t/(C n U_T)})``.

**Class-AB (sinh-domain) pair** used for signed weights (Frey 1993; Punzenberger & Enz 1998):
one capacitor voltage V drives two devices in antiphase, ``I^± = I_q e^{±V/(n U_T)}``, so
``I⁺I⁻ = I_q²`` (geometric-mean common-mode control built in) and
``w = (I⁺ − I⁻)/I_u = (2 I_q/I_u) sinh(V/(n U_T))``. With ``C dV/dt = I_C``,
``dw/dt = (I⁺ + I⁻)/(I_u n U_T C) · I_C``: a capacitor current ``I_C = I_u J/(I⁺ + I⁻)`` (a
translinear divider by the sum) integrates ``dw/dt = J/(C n U_T)`` linearly.

An off-current floor ``I_floor`` (sub-threshold leakage of the device) keeps the current from
vanishing when ``V_C`` falls: ``I = I_s e^{V_C/(n U_T)} + I_floor``.
"""

from __future__ import annotations

import numpy as np

#: class-AB pair: two storage transistors driven in antiphase from one capacitor + reset switch
TRANSISTORS = 3
CAPACITORS = 1


def cell_current(v_c, i_s, n_ut, i_floor=0.0):
    """I = I_s·exp(V_C/(n U_T)) + I_floor (A)."""
    return i_s * np.exp(np.asarray(v_c) / n_ut) + i_floor


def cell_voltage(i, i_s, n_ut):
    """V_C = n U_T ln(I/I_s) (V), the inverse of :func:`cell_current` without floor."""
    return n_ut * np.log(np.asarray(i) / i_s)


def dv_dt(i_cap, c_f):
    """dV_C/dt = I_C / C (V/s)."""
    return np.asarray(i_cap) / c_f


def integrator_ramp(i0, i_tau, i_in, c_f, n_ut, t):
    """Closed form of the log-domain integrator: I(t) = I_0 + I_τ I_in t/(C n U_T)."""
    return i0 + i_tau * i_in * np.asarray(t) / (c_f * n_ut)


def leak_decay(i0, i_lambda, c_f, n_ut, t):
    """Closed form under a constant sink: I(t) = I_0 exp(−I_λ t/(C n U_T))."""
    return i0 * np.exp(-i_lambda * np.asarray(t) / (c_f * n_ut))


def bernoulli_logistic(i0, i_ext, c_f, n_ut, t):
    """Closed form of C n U_T dI/dt = I (I_ext − I) (Bernoulli ODE via z = 1/I)."""
    return i_ext / (1.0 + (i_ext / i0 - 1.0) * np.exp(-i_ext * np.asarray(t) / (c_f * n_ut)))


def class_ab_pair(v_c, i_q, n_ut, i_floor=0.0):
    """(I⁺, I⁻) = (I_q e^{V/(nU_T)}, I_q e^{−V/(nU_T)}) + I_floor (A)."""
    x = np.asarray(v_c) / n_ut
    return i_q * np.exp(x) + i_floor, i_q * np.exp(-x) + i_floor


def class_ab_voltage(w, i_q, i_u, n_ut):
    """V storing weight w in a class-AB pair: n U_T asinh(w I_u/(2 I_q))."""
    return n_ut * np.arcsinh(np.asarray(w) * i_u / (2.0 * i_q))
