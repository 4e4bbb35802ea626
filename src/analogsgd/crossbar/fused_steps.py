"""Fused pulsed update for the families without closed-form composition (power step, exp step).

The device states its response through
:meth:`~analogsgd.devices.base.AbstractDevice.step_kernel_constants` (form ``"power"`` or
``"exp"``, exponents γ±); the kernel knows no device type. Per element, with N = n₊ + n₋ pulses,
c± = step± n±/N and f(w) = c₊ q₊(w) − c₋ q₋(w) (the order average of one pulse: the torch path,
:meth:`~analogsgd.devices.base.AbstractDevice.compose_pulses`, integrates the up and down
pulses of an element as one flow dw/ds = n₊ step₊ q₊ − n₋ step₋ q₋, and this is that flow's
per-pulse step; with one sign it is exactly the device's one-pulse step w + step₊ q₊(w)):

* **N ≤ K_EXACT = 8**: N pulses w ← clamp(w + f(w), τ_min, τ_max), each with the device's
  response arithmetic (ω = (τ_max − w)/(τ_max − τ_min) clamped, then ω^γ or 1 − e^{−γx}) in the
  tile's dtype. K = 8: N exact pulses cost N + 1 response evaluations, the approximation below
  4S + 2 ≥ 6, so exactness up to 8 pulses costs at most 1.5× the approximation, and covers the
  counts of most batch-1 updates and transfers.
* **N > K_EXACT**: the N pulses form the Euler chain of unit step of dw/dt = f, whose modified
  equation is dw/dt = f − ½ f f' + O(f³). Its flow over t = N is the flow of f (classical RK4 in
  S = clamp(⌈N(c₊ + c₋) max(1, 1/γ_min)/(0.1 (τ_max − τ_min))⌉, 1, 32) substeps: at most a
  tenth of the range per substep, less where γ < 1 makes ω^γ steep at the bound) plus
  −½ ∫ f f' dt propagated to the end, which for an autonomous scalar flow is
  −½ f(w_N) ln(f(w_N)/f(w_0)) exactly (f' ≤ 0 for both families, so |f| only falls and the
  ratio is in (0, 1]). Measured error against the pulse-by-pulse chain (float64, w on a grid of
  the range, N = 9 … 200, up shares 1, 0.8, 0.5, 0, step = range/2000 and range/200): at most
  1.5 % of one step for γ ≥ 1 (power γ ∈ {1.5/2, 3}, exp γ ∈ {2, 5/3}); for a power step with
  γ = 0.5, whose response is not smooth at the bound, up to 0.2 of one step (near the bound).
  The torch path's flow (no correction) is 0.02–0.19 steps off the chain on the same grid.
  SUBSTEP_RANGE = 0.05 would cut the γ ≥ 1 error to 0.12 % at about 1.6× the time of a batch-64
  update (measured at 256×256).

Then, as :meth:`~analogsgd.devices.variation.DeviceArray.apply_pulses` does: c2c noise
σ_c2c √(n₊(step₊q₊)² + n₋(step₋q₋)²) z at the composed weight, and the clip to the bounds.

Elements are processed in blocks of ``BLOCK``: the count draw, then stage by stage (one exact
pulse, one RK4 stage, the correction, the noise) a straight loop over the block with the
per-element trip counts as masks, all response evaluations in one loop (:func:`stage_rate`);
ω^γ = e^{γ ln ω} with a branch-free ln (exponent reduction by comparisons, atanh series) and the
branch-free e^{−t} of :mod:`analogsgd.crossbar.fused`, no libm call. The sparse batch-1 kernel
gathers the active elements of a row into blocks and runs the same stages, so it gives the
moments kernel's numbers.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from . import fused as _f

#: counts up to this composed pulse by pulse (see the module docstring)
K_EXACT = 8
#: RK4 substeps: at most this many, each moving at most ``SUBSTEP_RANGE`` of τ_max − τ_min
MAX_SUBSTEPS, SUBSTEP_RANGE = 32, 0.1
#: elements per block of the vectorised kernel
BLOCK = 256
#: the kernel's family ids (fused.POWER_STEP, fused.EXP_STEP)
POWER, EXP = 2, 3


def _log_constants(dtype) -> np.ndarray:
    """ln on (0, 1]: reduction thresholds 2^-32 … 2^-1, factors 2^32 … 2, exponents 32 … 1,
    √½, then the atanh series 2/(2j+1), j = 0 … 11 (float64; float32 uses j ≤ 5: s² ≤ 0.0295)."""
    values = [2.0 ** -e for e in (32, 16, 8, 4, 2, 1)] + [2.0 ** e for e in (32, 16, 8, 4, 2, 1)]
    values += [32.0, 16.0, 8.0, 4.0, 2.0, 1.0, math.sqrt(0.5)]
    values += [2.0 / (2 * j + 1) for j in range(12)]
    values += [0.0, MAX_SUBSTEPS, 1.0 / SUBSTEP_RANGE, float(K_EXACT)]
    return np.array(values, dtype=dtype)


_LOG = {torch.float32: _log_constants(np.float32), torch.float64: _log_constants(np.float64)}


def log_series(s2, kl):
    """atanh series of ln m (numba overload below)."""
    raise NotImplementedError


if _f.NUMBA_AVAILABLE:
    numba = _f.numba
    njit, inline = _f.njit, _f.inline
    exp_neg, as_like, unpack, hashes = _f.exp_neg, _f.as_like, _f.unpack, _f.hashes
    moments_counts, outer_counts, active = _f.moments_counts, _f.outer_counts, _f.active

    def log_series11(s2, kl):
        p = kl[30]
        p = p * s2 + kl[29]
        p = p * s2 + kl[28]
        p = p * s2 + kl[27]
        p = p * s2 + kl[26]
        p = p * s2 + kl[25]
        p = p * s2 + kl[24]
        p = p * s2 + kl[23]
        p = p * s2 + kl[22]
        p = p * s2 + kl[21]
        p = p * s2 + kl[20]
        return p * s2 + kl[19]

    def log_series5(s2, kl):
        p = kl[24]
        p = p * s2 + kl[23]
        p = p * s2 + kl[22]
        p = p * s2 + kl[21]
        p = p * s2 + kl[20]
        return p * s2 + kl[19]

    @numba.extending.overload(log_series, inline="always")
    def _log_series(s2, kl):
        return log_series5 if s2 == numba.types.float32 else log_series11

    @inline
    def halve(x, e, i, k, kl):
        small = x < kl[i]
        return x * (kl[6 + i] if small else k[1]), e + (kl[12 + i] if small else k[2])

    @inline
    def log_unit(x, k, kl):
        # ln x for 0 < x ≤ 1 without libm: x = m 2^(−e) with m in [√½, 1] by six branch-free
        # halvings of the exponent, ln m = 2 atanh(s), s = (m − 1)/(m + 1), |s| ≤ 0.172
        x, e = halve(x, k[2], 0, k, kl)
        x, e = halve(x, e, 1, k, kl)
        x, e = halve(x, e, 2, k, kl)
        x, e = halve(x, e, 3, k, kl)
        x, e = halve(x, e, 4, k, kl)
        x, e = halve(x, e, 5, k, kl)
        small = x < kl[18]
        x = x * (k[22] if small else k[1])
        e = e + (k[1] if small else k[2])
        s = (x - k[1]) / (x + k[1])
        return s * log_series(s * s, kl) - e * k[7] - e * k[8]

    @inline
    def response(x, g, power, k, kl):
        # one response at the distance x in [0, 1] (fraction of the range) to the bound the pulse
        # moves toward: power x^γ = e^(−γ(−ln x)) (0 at x = 0), exp 1 − e^(−γx)
        if power:
            t = exp_neg(-g * log_unit(max(x, k[10]), k, kl), k)
            return t if x > k[2] else k[2]
        return k[1] - exp_neg(g * x, k)

    @inline
    def responses(w, lo, hi, g_up, g_down, power, k, kl):
        # the devices' response_up/response_down (power_step.py, exp_step.py) at w in [lo, hi]:
        # ω = (τ_max − w)/(τ_max − τ_min) clamped to [0, 1]; q₊ at ω, q₋ at 1 − ω
        # (exp_step computes (w − τ_min)/(τ_max − τ_min): the same to one rounding of x)
        om = min(max((hi - w) / (hi - lo), k[2]), k[1])
        return response(om, g_up, power, k, kl), response(k[1] - om, g_down, power, k, kl)

    @njit
    def stage_rate(dst, x, kprev, coef, h, cu, cd, dev, start, size, power, cst, lcst):
        # dst = f(clamp(x + coef·h·kprev)), f = c₊q₊ − c₋q₋: the one loop that evaluates the
        # responses (vectorised; every other stage is a few element-wise operations). dst must
        # not be kprev (nor any input): LLVM's runtime alias check would then take its scalar
        # loop, 6× slower (kprev is read even for coef = 0, so give a finite row)
        k = unpack(cst)
        kl = unpack_log(lcst)
        for i in range(size):
            e = start + i
            lo, hi = dev[2, e], dev[3, e]
            at = min(max(x[i] + coef * h[i] * kprev[i], lo), hi)
            q_up, q_down = responses(at, lo, hi, dev[4, e], dev[5, e], power, k, kl)
            dst[i] = cu[i] * q_up - cd[i] * q_down

    @njit
    def unpack_log(c):
        return (c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12],
                c[13], c[14], c[15], c[16], c[17], c[18], c[19], c[20], c[21], c[22], c[23],
                c[24], c[25], c[26], c[27], c[28], c[29], c[30], c[31], c[32], c[33], c[34])

    @njit
    def compose_block(b, dev, start, size, power, cst, lcst):
        # b: (13, BLOCK) rows n₊, n₋, z_c2c, x (the block's weights, composed in place), then
        # work rows N, c₊, c₋, S, exact count, h, f0 and two stage rates (rows of one C array:
        # contiguous, so that the stage loops vectorise)
        k = unpack(cst)
        kl = unpack_log(lcst)
        nu, nd, x = b[0], b[1], b[3]
        tot, cu, cd, sb, ex, hs, f0, ka, kb = b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12]
        n_small, n_subs = k[2], k[2]
        for i in range(size):
            e = start + i
            total = nu[i] + nd[i]
            safe = max(total, k[1])
            tot[i] = total
            cu[i] = dev[0, e] * (nu[i] / safe)       # n±/N exactly 1 for single-sign counts
            cd[i] = dev[1, e] * (nd[i] / safe)
            # substeps: ⌈N (c₊ + c₋)/(σ range)⌉, times 1/γ for γ < 1 (ω^γ steep at the bound)
            stiff = max(k[1], k[1] / min(dev[4, e], dev[5, e]))
            subs = np.ceil(total * (cu[i] + cd[i]) * kl[33] * stiff / (dev[3, e] - dev[2, e]))
            small = total <= kl[34]
            sb[i] = k[2] if small else min(max(subs, k[1]), kl[32])
            ex[i] = total if small else k[2]
            hs[i] = total / max(sb[i], k[1])
            n_small = max(n_small, ex[i])
            n_subs = max(n_subs, sb[i])
        for j in range(int(n_small)):             # exact pulses, N ≤ K_EXACT
            jf = as_like(j, k[1])
            stage_rate(ka, x, kb, k[2], hs, cu, cd, dev, start, size, power, cst, lcst)
            for i in range(size):
                new = min(max(x[i] + ka[i], dev[2, start + i]), dev[3, start + i])
                x[i] = new if jf < ex[i] else x[i]
        if n_subs == k[2]:
            return
        stage_rate(f0, x, kb, k[2], hs, cu, cd, dev, start, size, power, cst, lcst)
        for s in range(int(n_subs)):              # RK4 on dw/dt = f, N > K_EXACT
            sf = as_like(s, k[1])
            if s == 0:
                ka[:size] = f0[:size]
            else:
                stage_rate(ka, x, kb, k[2], hs, cu, cd, dev, start, size, power, cst, lcst)
            acc = b[8]   # the exact counts are no longer needed
            acc[:size] = ka[:size]
            stage_rate(kb, x, ka, k[0], hs, cu, cd, dev, start, size, power, cst, lcst)
            for i in range(size):
                acc[i] += k[22] * kb[i]
            stage_rate(ka, x, kb, k[0], hs, cu, cd, dev, start, size, power, cst, lcst)
            for i in range(size):
                acc[i] += k[22] * ka[i]
            stage_rate(kb, x, ka, k[1], hs, cu, cd, dev, start, size, power, cst, lcst)
            for i in range(size):
                e = start + i
                new = min(max(x[i] + hs[i] * (acc[i] + kb[i]) * k[25], dev[2, e]), dev[3, e])
                x[i] = new if sf < sb[i] else x[i]
        stage_rate(ka, x, kb, k[2], hs, cu, cd, dev, start, size, power, cst, lcst)
        for i in range(size):
            # −½ f(w_N) ln(f(w_N)/f(w_0)) (ratio in (0, 1]); −½ (f(w_N) − f(w_0)) where the
            # ratio is not positive (f(w_0) = 0, or a sign change by rounding)
            e = start + i
            f_end, f_start = ka[i], f0[i]
            ratio = f_end / (f_start if f_start != k[2] else k[1])
            ok = (ratio > k[10]) & (f_start != k[2])
            log_r = log_unit(min(max(ratio, k[10]), k[1]), k, kl)
            corr = -k[0] * f_end * log_r if ok else -k[0] * (f_end - f_start)
            new = min(max(x[i] + corr, dev[2, e]), dev[3, e])
            x[i] = new if sb[i] > k[2] else x[i]

    @njit
    def finish_block(w, b, dev, start, size, power, c2c, clip, cst, lcst):
        # apply_pulses: c2c noise at the composed weight, then the clip; w[start + i] ← result
        k = unpack(cst)
        kl = unpack_log(lcst)
        nu, nd, zc, x = b[0], b[1], b[2], b[3]
        for i in range(size):
            e = start + i
            lo, hi = dev[2, e], dev[3, e]
            new = x[i]
            if c2c > k[2]:
                q_up, q_down = responses(min(max(new, lo), hi), lo, hi, dev[4, e], dev[5, e],
                                         power, k, kl)
                a, b = dev[0, e] * q_up, dev[1, e] * q_down
                new += c2c * np.sqrt(nu[i] * a * a + nd[i] * b * b) * zc[i]
            w[e] = min(max(new, lo), hi) if clip else new

    @njit
    def moments_kernel(w, m, dev, c2c, key, family, clip, cst, lcst):
        # m: (4, n) = m_tot, m_net, s_tot, s_net; dev: (6, n) = step±, τ_min, τ_max, γ±
        k = unpack(cst)
        c2c = as_like(c2c, k[1])
        power = family == POWER
        bufs = np.zeros((13, BLOCK), dtype=w.dtype)
        nu, nd, zc, x = bufs[0], bufs[1], bufs[2], bufs[3]
        for start in range(0, w.size, BLOCK):
            size = min(BLOCK, w.size - start)
            for i in range(size):
                e = start + i
                nu[i], nd[i], zc[i] = moments_counts(e, m[0, e], m[1, e], m[2, e], m[3, e], key, k)
                x[i] = w[e]
            compose_block(bufs, dev, start, size, power, cst, lcst)
            finish_block(w, bufs, dev, start, size, power, c2c, clip, cst, lcst)

    @njit
    def outer_kernel(w, qb, q2b, sd, pp, out_size, in_size, dev, c2c, key, family, clip, cst, lcst):
        # sparse batch-1 update, as fused.outer_kernel: the active elements of a row are gathered
        # into blocks (their d2d constants into gdev) and composed by the same block stages
        k = unpack(cst)
        c2c = as_like(c2c, k[1])
        power = family == POWER
        replicas = qb.size // out_size
        cols = np.empty(in_size, dtype=np.intp)
        bufs = np.zeros((13, BLOCK), dtype=w.dtype)
        nu, nd, zc, x = bufs[0], bufs[1], bufs[2], bufs[3]
        gdev = np.zeros((6, BLOCK), dtype=w.dtype)
        gw = np.zeros(BLOCK, dtype=w.dtype)
        idx = np.empty(BLOCK, dtype=np.intp)
        for r in range(replicas):
            n_cols = active(pp[r, 0], cols)
            p, p2, sx = pp[r, 0], pp[r, 1], pp[r, 2]
            for i in range(out_size):
                ri = r * out_size + i
                if qb[ri] <= 0.0:
                    continue
                base = ri * in_size
                for c0 in range(0, n_cols, BLOCK):
                    size = min(BLOCK, n_cols - c0)
                    for c in range(size):
                        j = cols[c0 + c]
                        e = base + j
                        idx[c] = e
                        nu[c], nd[c], zc[c] = outer_counts(e, qb[ri], q2b[ri], sd[ri], p[j],
                                                           p2[j], sx[j], key, k)
                        x[c] = w[e]
                        for t in range(6):
                            gdev[t, c] = dev[t, e]
                    compose_block(bufs, gdev, 0, size, power, cst, lcst)
                    finish_block(gw, bufs, gdev, 0, size, power, c2c, clip, cst, lcst)
                    for c in range(size):
                        w[idx[c]] = gw[c]

    @njit
    def counts_kernel(w, n_up, n_down, dev, family, cst, lcst):
        # compose given counts (no noise, no clip): the composition alone, for the tests
        power = family == POWER
        bufs = np.zeros((13, BLOCK), dtype=w.dtype)
        for start in range(0, w.size, BLOCK):
            size = min(BLOCK, w.size - start)
            for i in range(size):
                bufs[0, i], bufs[1, i], bufs[3, i] = n_up[start + i], n_down[start + i], w[start + i]
            compose_block(bufs, dev, start, size, power, cst, lcst)
            for i in range(size):
                w[start + i] = bufs[3, i]
