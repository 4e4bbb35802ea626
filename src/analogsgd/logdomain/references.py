"""The two ideals the circuit is compared against: discrete SGDr and the ideal continuous-time
SGDr ODE (docs/logdomain.md §7). Also b-bit fixed-point digital SGDr (precision study).

Parameters θ = [w; b], input u = [x; 1], Λ = diag(λ, …, λ, 0) (the bias is not regularised).

* Discrete SGDr: ``θ ← θ − η (u (uᵀθ − y) + Λ θ)``.
* Ideal CT SGDr, hold of length T, τ = T/η: ``dθ/dt = −(1/τ)(A θ − u y)``, ``A = u uᵀ + Λ``;
  exactly ``θ(T) = θ + Q diag((e^{−η d} − 1)/d) Qᵀ (Aθ − u y)`` with ``A = Q diag(d) Qᵀ``
  (the d → 0 limit is −η).

All are vectorised over M hyperparameter pairs: trajectories have shape (S+1, M, P).
"""

from __future__ import annotations

import numpy as np


def _prep(X, eta, lam):
    X = np.asarray(X, dtype=float)
    eta = np.atleast_1d(np.asarray(eta, dtype=float))
    lam = np.atleast_1d(np.asarray(lam, dtype=float))
    M = max(eta.size, lam.size)
    return X, np.broadcast_to(eta, (M,)), np.broadcast_to(lam, (M,)), M, X.shape[1] + 1


def _trajectory(X, Y, eta, lam, theta0, step) -> np.ndarray:
    """Run ``theta = step(theta, u, y, eta, lam, reg)`` over the samples; (S+1, M, P)."""
    X, eta, lam, M, P = _prep(X, eta, lam)
    theta = np.zeros((M, P)) if theta0 is None else np.array(theta0, dtype=float)
    reg = np.ones(P)
    reg[-1] = 0.0  # the bias is not regularised
    out = np.empty((len(X) + 1, M, P))
    out[0] = theta
    for k in range(len(X)):
        theta = step(theta, np.append(X[k], 1.0), Y[k], eta, lam, reg)
        out[k + 1] = theta
    return out


def _discrete_step(theta, u, y, eta, lam, reg):
    e = theta @ u - y
    return theta - eta[:, None] * (e[:, None] * u + lam[:, None] * reg * theta)


def discrete_sgdr(X, Y, eta, lam, theta0=None) -> np.ndarray:
    """Discrete SGDr trajectories (S+1, M, P)."""
    return _trajectory(X, Y, eta, lam, theta0, _discrete_step)


def _ideal_ct_step(theta, u, y, eta, lam, reg):
    A = np.outer(u, u)[None] + lam[:, None, None] * np.diag(reg)[None]
    d, Q = np.linalg.eigh(A)
    ed = -eta[:, None] * d
    small = np.abs(ed) < 1e-12
    phi = np.where(small, -eta[:, None], np.expm1(ed) / np.where(small, 1.0, d))
    g = np.einsum("mij,mj->mi", A, theta) - u * y
    return theta + np.einsum("mij,mj,mkj,mk->mi", Q, phi, Q, g)


def ideal_ct_sgdr(X, Y, eta, lam, theta0=None) -> np.ndarray:
    """Ideal continuous-time SGDr, exact per hold (matrix exponential by eigendecomposition)."""
    return _trajectory(X, Y, eta, lam, theta0, _ideal_ct_step)


def quantised_sgdr(X, Y, eta, lam, bits: int, full_scale: float, rng=None) -> np.ndarray:
    """b-bit fixed-point digital SGDr: weights stored on a uniform grid over ±full_scale.

    The update is computed exactly and the new weight rounded to nearest (or stochastically
    when ``rng`` is given) and clipped to the grid — an idealised b-bit weight memory.
    """
    lsb = 2.0 * full_scale / 2 ** bits

    def step(theta, u, y, eta, lam, reg):
        new = _discrete_step(theta, u, y, eta, lam, reg) / lsb
        new = np.rint(new) if rng is None else np.floor(new + rng.random(new.shape))
        return np.clip(new * lsb, -full_scale, full_scale - lsb)

    return _trajectory(X, Y, eta, lam, None, step)
