"""Optional numba kernel of the default integrator (``ros2-numba``): the same vector field
(:mod:`.circuit_ode`), the same ROS2 stages, Sherman–Morrison solves and substep rule
(:mod:`.simulate`), compiled, with one loop over instances and parameters instead of array
expressions. It exists because the array version is bound by Python overhead when M is small
(benchmarks/bench_logdomain.py); the tests check it against the NumPy path to round-off.
Without numba, :func:`available` is False and asking for it raises a ConfigError.
"""

from __future__ import annotations

import math

import numpy as np

try:  # pragma: no cover - depends on the environment
    import numba

    _NUMBA = True
except ImportError:  # pragma: no cover
    _NUMBA = False

GAMMA = 1.0 + 1.0 / math.sqrt(2.0)


def available() -> bool:
    return _NUMBA


def _field(m, v, P, n_ut, isp, isn, floor, c, iu, itau, ilam, ileak, iqe, gpp, gpn, gnp, gnn,
           gyp, gyn, gep, gen, ga, gb, gc, gd, glp, gln, xp, xn, yp, yn, f, d, a, b, absb, jac):
    """One instance's f (and d, a, b): the equations of circuit_ode.vector_field."""
    yhat = 0.0
    for j in range(P):  # half-cell currents, held in f and absb until loop 2 overwrites them
        x = v[m, j] / n_ut[m]
        ep_ = isp[m, j] * math.exp(x)
        en_ = isn[m, j] * math.exp(-x)
        f[j] = ep_
        absb[j] = en_
        ip = ep_ + floor
        inn = en_ + floor
        yhat += (gpp[m, j] * xp[m, j] - gpn[m, j] * xn[m, j]) * ip + \
            (gnn[m, j] * xn[m, j] - gnp[m, j] * xp[m, j]) * inn
    e = yhat / iu - (gyp[m] * yp[m] - gyn[m] * yn[m])
    root = math.sqrt(e * e + 4.0 * iqe * iqe)
    e_p = gep[m] * 0.5 * (root + e)
    e_n = gen[m] * 0.5 * (root - e)
    dep = gep[m] * 0.5 * (e / root + 1.0)
    den = gen[m] * 0.5 * (e / root - 1.0)
    for j in range(P):
        ep_ = f[j]
        en_ = absb[j]
        ip = ep_ + floor
        inn = en_ + floor
        dip = ep_ / n_ut[m]
        din = -en_ / n_ut[m]
        dsum = ip + inn
        kt = itau[m, j] / iu
        src = kt * (ga[m, j] * e_n * xp[m, j] + gb[m, j] * e_p * xn[m, j])
        snk = kt * (gc[m, j] * e_p * xp[m, j] + gd[m, j] * e_n * xn[m, j])
        lp = ilam[m, j] * glp[m, j] * ip
        ln = ilam[m, j] * gln[m, j] * inn
        num = src - snk - lp + ln
        f[j] = (num / dsum - ileak[m, j]) / c[m, j]
        absb[j] = (src + snk + lp + ln) / dsum + ileak[m, j]
        if jac:
            dnum = kt * ((ga[m, j] * xp[m, j] - gd[m, j] * xn[m, j]) * den
                         + (gb[m, j] * xn[m, j] - gc[m, j] * xp[m, j]) * dep)
            a[j] = dnum / (dsum * c[m, j])
            b[j] = ((gpp[m, j] * xp[m, j] - gpn[m, j] * xn[m, j]) * dip
                    + (gnn[m, j] * xn[m, j] - gnp[m, j] * xp[m, j]) * din) / iu
            dnv = -ilam[m, j] * (glp[m, j] * dip - gln[m, j] * din)
            d[j] = (dnv * dsum - num * (dip + din)) / (dsum * dsum * c[m, j])


def _solve(P, d, a, b, gh, r, out):
    num = 0.0
    ba = 0.0
    for j in range(P):
        delta = 1.0 - gh * d[j]
        num += b[j] * r[j] / delta
        ba += b[j] * a[j] / delta
    s = gh * num / (1.0 - gh * ba)
    for j in range(P):
        delta = 1.0 - gh * d[j]
        out[j] = (r[j] + s * a[j]) / delta


def _substeps(v, hold, n_ut, isp, isn, floor, c, iu, itau, ilam, ileak, iqe, gpp, gpn, gnp, gnn,
              gyp, gyn, gep, gen, ga, gb, gc, gd, glp, gln, xp, xn, yp, yn,
              z_max, dv_max, k_min, k_max):
    """Substep count K of a hold from the stiffness and slew at its start (simulate's rule)."""
    M, P = v.shape
    f = np.empty(P)
    d = np.empty(P)
    a = np.empty(P)
    b = np.empty(P)
    absb = np.empty(P)
    rho_max = 0.0
    slew_max = 0.0
    for m in range(M):
        _field(m, v, P, n_ut, isp, isn, floor, c, iu, itau, ilam, ileak, iqe, gpp, gpn, gnp, gnn,
               gyp, gyn, gep, gen, ga, gb, gc, gd, glp, gln, xp, xn, yp, yn, f, d, a, b, absb, True)
        dmax = 0.0
        ab = 0.0
        for j in range(P):
            dmax = max(dmax, abs(d[j]))
            ab += a[j] * b[j]
            slew_max = max(slew_max, abs(f[j]) / n_ut[m] * hold[m])
        rho_max = max(rho_max, (dmax + abs(ab)) * hold[m])
    K = max(math.ceil(rho_max / z_max), math.ceil(slew_max / dv_max), k_min)
    return min(K, k_max)


def _run(v, hold, n_ut, isp, isn, floor, c, iu, itau, ilam, ileak, iqe, gpp, gpn, gnp, gnn,
         gyp, gyn, gep, gen, ga, gb, gc, gd, glp, gln, xp, xn, yp, yn, K, noise, draws, q):
    """K ROS2 substeps of one hold for every instance, in place (noise: draws (K, M, P))."""
    M, P = v.shape
    f = np.empty(P)
    d = np.empty(P)
    a = np.empty(P)
    b = np.empty(P)
    absb = np.empty(P)
    f1 = np.empty(P)
    k1 = np.empty(P)
    k2 = np.empty(P)
    scratch = np.empty(P)
    vt = np.empty((M, P))
    for m in range(M):
        h = hold[m] / K
        gh = GAMMA * h
        for s in range(K):
            _field(m, v, P, n_ut, isp, isn, floor, c, iu, itau, ilam, ileak, iqe, gpp, gpn, gnp,
                   gnn, gyp, gyn, gep, gen, ga, gb, gc, gd, glp, gln, xp, xn, yp, yn, f, d, a, b,
                   absb, True)
            _solve(P, d, a, b, gh, f, k1)
            for j in range(P):
                vt[m, j] = v[m, j] + h * k1[j]
            _field(m, vt, P, n_ut, isp, isn, floor, c, iu, itau, ilam, ileak, iqe, gpp, gpn, gnp,
                   gnn, gyp, gyn, gep, gen, ga, gb, gc, gd, glp, gln, xp, xn, yp, yn, f1, d, a, b,
                   scratch, False)
            for j in range(P):
                f1[j] -= 2.0 * k1[j]
            _solve(P, d, a, b, gh, f1, k2)  # W-method: the stage-one Jacobian again
            for j in range(P):
                v[m, j] += h * (1.5 * k1[j] + 0.5 * k2[j])
                if noise:
                    v[m, j] += math.sqrt(q / (c[m, j] * c[m, j]) * absb[j] * h) * draws[s, m, j]


if _NUMBA:  # pragma: no branch
    _field = numba.njit(cache=True)(_field)
    _solve = numba.njit(cache=True)(_solve)
    _substeps = numba.njit(cache=True)(_substeps)
    _run = numba.njit(cache=True)(_run)


def _args(p, inp, v):
    return (v, p.hold_s, np.ascontiguousarray(p.n_ut[:, 0]), p.i_s_pos, p.i_s_neg,
            float(p.i_floor), p.c_f, float(p.i_u), p.i_tau, p.i_lambda, p.i_leak, float(p.i_qe),
            p.g_pp, p.g_pn, p.g_np, p.g_nn, p.g_y_pos, p.g_y_neg, p.g_e_pos, p.g_e_neg,
            p.g_a, p.g_b, p.g_c, p.g_d, p.g_leak_pos, p.g_leak_neg, inp.xp, inp.xn, inp.yp, inp.yn)


def integrate_hold(params, inp, v, solver, rng, q) -> int:
    """Advance ``v`` (M, P) over one hold in place with the compiled ROS2; returns K.

    Noise draws are taken from ``rng`` in the same order as the NumPy path (K × (M, P)).
    """
    args = _args(params, inp, v)
    K = int(_substeps(*args, float(solver.z_max), float(solver.dv_max), int(solver.k_min),
                      int(solver.k_max)))
    draws = rng.standard_normal((K,) + v.shape) if params.noise else np.zeros((1, 1, 1))
    _run(*args, K, bool(params.noise), draws, float(q))
    return K
