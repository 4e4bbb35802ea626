"""Streaming samples through the circuit: each sample held for T, integrated hold by hold.

Per hold the number of substeps K is fixed from the stiffness at the hold's start,
``K = clip(⌈max_m ρ_m T_m / z_max⌉, k_min, k_max)`` with ρ a bound on the fastest rate of
the Jacobian (:func:`..circuit_ode.stiffness`), raised so that no substep starts with a
slew ``|dV/dt|·h`` above ``dv_max·nU_T`` (the exponential nonlinearity); every instance takes K steps of its own
``h = T_m/K``. Shot noise of the storage node (one-sided PSD 2qI of the summed branch
currents) is added after each substep as ``√(q I_abs h)/C · ξ`` (Euler–Maruyama). The
reference :func:`simulate_lsoda` integrates the same field per instance with scipy's LSODA.

After every hold the states are checked: a NaN or infinite capacitor voltage stops the run with
:class:`~analogsgd.errors.NonFiniteError` naming the sample, the time and the instance, instead of
passing non-finite weights to the metrics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..config import Config, Interval, OneOf, param
from ..errors import NonFiniteError
from .circuit_ode import (
    cell_currents,
    hold_inputs,
    initial_voltages,
    read_weights,
    stiffness,
    vector_field,
)
from .instances import CircuitParams
from .integrators import ALL_INTEGRATORS, get_integrator
from .transistor import ELEMENTARY_CHARGE_C


@dataclass(frozen=True)
class SolverConfig(Config):
    """How the circuit ODE is integrated."""

    integrator: str = param("ros2", "integrator name ('ros2-numba': the compiled ROS2)",
                            OneOf(ALL_INTEGRATORS + ("ros2-numba",)))
    z_max: float = param(0.05, "largest ρ·h per substep (ρ: stiffness bound)", Interval(1e-4, 10.0))
    dv_max: float = param(0.25, "largest initial |ΔV| per substep, in units of n·U_T",
                          Interval(1e-4, 10.0))
    k_min: int = param(4, "fewest substeps per hold", Interval(1, 10000, integer=True))
    k_max: int = param(512, "most substeps per hold", Interval(1, 100000, integer=True))

    def check_invariants(self) -> None:
        if self.k_min > self.k_max:
            from ..errors import ConfigError

            raise ConfigError("SolverConfig.k_min", self.k_min, f"<= k_max = {self.k_max}",
                              "K is clipped to [k_min, k_max].")


@dataclass
class SimResult:
    weights: np.ndarray      # (S+1, M, P) read-out weights after each hold (row 0: reset)
    i_max: np.ndarray        # (M, P) largest storage-device current reached (either half), A
    i_min: np.ndarray        # (M, P) smallest storage-device current reached, A
    v_final: np.ndarray      # (M, P)
    substeps: int            # substeps taken in total (per instance)


def simulate(params: CircuitParams, X: np.ndarray, Y: np.ndarray, solver: SolverConfig = SolverConfig(),
             rng: np.random.Generator | None = None, v0: np.ndarray | None = None,
             progress=None) -> SimResult:
    """Stream samples (X (S, N), Y (S,)) through M circuit instances."""
    if params.noise and rng is None:
        raise ValueError("a circuit with noise needs a seeded np.random.Generator `rng`")
    compiled = solver.integrator == "ros2-numba"
    if compiled:
        from . import kernels

        if not kernels.available():
            from ..errors import ConfigError

            raise ConfigError("SolverConfig.integrator", solver.integrator,
                              "an integrator whose dependencies are installed",
                              "Install numba, or use integrator = 'ros2'.")
    else:
        integ = get_integrator(solver.integrator)
    v = initial_voltages(params) if v0 is None else v0.copy()
    S = len(X)
    out = np.empty((S + 1,) + v.shape)
    out[0] = read_weights(params, v)
    hold = params.hold_s[:, None]
    i_max = np.maximum(*cell_currents(params, v)[:2])
    i_min = np.minimum(*cell_currents(params, v)[:2])
    total = 0
    q_over_c2 = ELEMENTARY_CHARGE_C / params.c_f ** 2
    base = params
    for k in range(S):
        params = base.chopped(k)
        inp = hold_inputs(params, X[k], Y[k])
        if compiled:
            v = np.ascontiguousarray(v)
            check_finite_state(v, k, S, params.hold_s, start=True)
            total += kernels.integrate_hold(params, inp, v, solver, rng, ELEMENTARY_CHARGE_C)
            check_finite_state(v, k, S, params.hold_s)
            _track(params, v, i_max, i_min)
            out[k + 1] = read_weights(params, v)
            if progress is not None:
                progress.advance()
            continue

        def field(vv, jacobian=True, params=params, inp=inp):
            return vector_field(params, inp, vv, jacobian)

        first = field(v)
        check_finite_state(v, k, S, params.hold_s, start=True)
        check_finite_state(first[0], k, S, params.hold_s, start=True)
        rho = float((stiffness(first[1]) * params.hold_s).max())
        slew = float((np.abs(first[0]) / params.n_ut * hold).max())
        K = int(min(max(math.ceil(rho / solver.z_max), math.ceil(slew / solver.dv_max),
                        solver.k_min), solver.k_max))
        h = hold / K
        for j in range(K):
            v, absb = integ.step(field, v, h, first if j == 0 else None)
            if params.noise:
                v = v + np.sqrt(q_over_c2 * absb * h) * rng.standard_normal(v.shape)
        total += K
        check_finite_state(v, k, S, params.hold_s)
        _track(params, v, i_max, i_min)
        out[k + 1] = read_weights(params, v)
        if progress is not None:
            progress.advance()
    return SimResult(out, i_max, i_min, v, total)


def check_finite_state(v: np.ndarray, k: int, n_samples: int, hold_s: np.ndarray,
                       start: bool = False) -> None:
    """Raise :class:`NonFiniteError` if any state of ``v`` (M, P) is not finite at the end of
    hold ``k`` (or at its start, ``start=True``; a non-finite vector field there is reported too).

    The message names the sample (hold k of the stream), the simulated time, ``(k+1)·T_m`` (or
    ``k·T_m``), of the first bad instance m, and the parameter (bias last).
    """
    bad = ~np.isfinite(v)
    if not bad.any():
        return
    m, j = (int(i) for i in np.argwhere(bad)[0])
    when = (f"start of hold {k + 1}, t = {k * float(hold_s[m]):.6g} s" if start else
            f"end of hold {k + 1}, t = {(k + 1) * float(hold_s[m]):.6g} s")
    raise NonFiniteError(
        f"circuit state V became non-finite at sample {k} of {n_samples} ({when}) in instance {m}, "
        f"parameter {j} "
        f"({int(bad.sum())} of {bad.size} states NaN or inf); check the design's currents and the "
        "solver's z_max/dv_max.")


def _track(params, v, i_max, i_min) -> None:
    ip, i_n, _, _ = cell_currents(params, v)
    np.maximum(i_max, np.maximum(ip, i_n), out=i_max)
    np.minimum(i_min, np.minimum(ip, i_n), out=i_min)


def simulate_lsoda(params: CircuitParams, X: np.ndarray, Y: np.ndarray, rtol: float = 1e-8,
                   atol: float = 1e-10) -> SimResult:
    """Reference: the same equations per instance with scipy ``solve_ivp(method="LSODA")``.

    Noise is not integrated (set ``params.noise`` False to compare). ``atol`` is in volts.
    """
    from scipy.integrate import solve_ivp

    M, P = params.shape
    S = len(X)
    out = np.empty((S + 1, M, P))
    v_all = initial_voltages(params)
    out[0] = read_weights(params, v_all)
    for m in range(M):
        pm = params.take(slice(m, m + 1))
        v = v_all[m].copy()
        base_m = pm
        for k in range(S):
            pm = base_m.chopped(k)
            inp = hold_inputs(pm, X[k], Y[k])

            def fun(t, y, pm=pm, inp=inp):
                return vector_field(pm, inp, y[None], jacobian=False)[0][0]

            def jac(t, y, pm=pm, inp=inp):
                _, (d, a, b), _ = vector_field(pm, inp, y[None])
                return np.diag(d[0]) + np.outer(a[0], b[0])

            sol = solve_ivp(fun, (0.0, float(pm.hold_s[0])), v, method="LSODA", rtol=rtol,
                            atol=atol, jac=jac)
            v = sol.y[:, -1]
            check_finite_state(v[None], k, S, pm.hold_s)
            out[k + 1, m] = read_weights(pm, v[None])[0]
        v_all[m] = v
    return SimResult(out, np.full((M, P), np.nan), np.full((M, P), np.nan), v_all, 0)
