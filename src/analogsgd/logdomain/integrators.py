"""Integrators of the circuit ODE, registered by name, apart from the vector field.

Fixed-step linearly implicit (Rosenbrock) schemes in the log variable V, vectorised over all
instances. The Jacobian is ``diag(d) + a bᵀ`` (:func:`..circuit_ode.vector_field`), so each
stage solve ``(I − γhJ)k = r`` is done exactly by Sherman–Morrison in O(P):

.. math:: (Δ - γh\\,a b^T)^{-1} r = Δ^{-1}r + \\frac{γh\\,Δ^{-1}a\\,(b^TΔ^{-1}r)}{1 - γh\\,b^TΔ^{-1}a},
          \\qquad Δ = I - γh\\,\\mathrm{diag}(d).

* ``ros2``: the two-stage L-stable Rosenbrock W-method of Verwer, Spee, Blom & Hundsdorfer,
  SIAM J. Sci. Comput. 20 (1999), Eq. (2.3), γ = 1 + 1/√2, order 2.
* ``rosenbrock-euler``: linearly implicit Euler, order 1.

``lsoda`` (scipy ``solve_ivp``, per instance, explicit tolerances) is the reference used to check
them; it lives in :mod:`..simulate`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

Field = Callable[[np.ndarray], tuple]


def solve_rank1(d, a, b, gh, r):
    """Solve (I − gh·(diag(d) + a bᵀ)) k = r per instance (gh: (M, 1))."""
    delta = 1.0 - gh * d
    dr = r / delta
    da = a / delta
    num = (b * dr).sum(1, keepdims=True)
    den = 1.0 - gh[:, 0:1] * (b * da).sum(1, keepdims=True)
    return dr + gh * da * num / den


class Ros2:
    """Two-stage L-stable Rosenbrock method (Verwer et al. 1999), order 2."""

    name = "ros2"
    order = 2
    gamma = 1.0 + 1.0 / math.sqrt(2.0)

    def step(self, field: Field, v: np.ndarray, h: np.ndarray, first=None):
        f0, (d, a, b), absb = first if first is not None else field(v)
        gh = self.gamma * h
        k1 = solve_rank1(d, a, b, gh, f0)
        f1, _, _ = field(v + h * k1, jacobian=False)
        k2 = solve_rank1(d, a, b, gh, f1 - 2.0 * k1)
        return v + h * (1.5 * k1 + 0.5 * k2), absb


class RosenbrockEuler:
    """Linearly implicit Euler, order 1."""

    name = "rosenbrock-euler"
    order = 1

    def step(self, field: Field, v: np.ndarray, h: np.ndarray, first=None):
        f0, (d, a, b), absb = first if first is not None else field(v)
        return v + h * solve_rank1(d, a, b, h, f0), absb


INTEGRATORS = {cls.name: cls for cls in (Ros2, RosenbrockEuler)}
ALL_INTEGRATORS = tuple(INTEGRATORS)


def get_integrator(name: str):
    from ..errors import ConfigError

    if name not in INTEGRATORS:
        raise ConfigError("integrator", name, "one of " + ", ".join(INTEGRATORS))
    return INTEGRATORS[name]()
