"""Sparse pulsed update: the coincidences of a batch drawn one by one, at a cost ∝ pulses.

The dense fused update (:func:`~analogsgd.crossbar.fused.apply_moments`) visits every element
of the tile: four batch-moment matrices (four products of the size of a digital weight
gradient), then one count draw per element. At the pulse rates of training (lr·|x|·|d| a few
Δw_min per sample, BL 1–3 under bit-length management) most elements receive no pulse: in the
784×256 layer of ``benchmarks/bench_networks.py`` a batch of 1 fires about 1 000 coincidences
among 200 704 elements, a batch of 64 about 58 000. This module draws only the coincidences.

The process (the model of :mod:`~analogsgd.crossbar.pulse_trains`, counted per element):
element (i, j) receives, in each slot t < BL_b of sample b, a pulse with probability
q_bi p_bj, independently of every other element, slot and sample, of sign −sign(d_bi x_bj).
Its up and down counts are therefore the exact sums of independent Binomial(BL_b, p_bj q_bi)
(Poisson–binomial), whose mean and variance the dense ``moments`` draw matches (that draw is
exact in both moments but not in the higher ones; this one is exact in distribution). Elements
are independent, as in the ``moments`` model; the hardware's shared row and column trains
(``counting="bit_trains"``) correlate them.

Sampling, per replica, row i and sample b with q_bi > 0, over the BL_b·n_b (slot, column)
pairs of the n_b columns with p_bj > 0 (listed once per sample): each pair is a *candidate*
with probability ρ = q_bi·max_j p_bj, and a candidate is accepted with probability
p_bj / max_j p_bj, so that a pair fires with probability q_bi p_bj, independently (thinning of
independent Bernoulli trials). The candidates are drawn as

* for ρ < 1/4 and Nρ ≤ 450 (N = BL_b n_b): their number K ~ Binomial(N, ρ) by inversion of
  its CDF (float64; K = 0 at once when the uniform is below 1 − Nρ ≤ P(K = 0), the usual case,
  without a logarithm), then K distinct pairs uniformly (a pair drawn already in this pass is
  drawn again), so that the cost is ∝ Nρ, not N;
* otherwise one Bernoulli(q_bi p_bj) trial per pair.

Then every touched element is composed with its n_up, n_down pulses, cycle-to-cycle noise and
bounds by the same element arithmetic as the dense kernel (:func:`~analogsgd.crossbar.fused.element`).
Its cost is about one pass per (row, sample) and one hash per candidate
(:func:`expected_work`).

**Dense rows.** A row with more than ``DENSE_ROW_ABOVE``·in_size/B expected candidates costs
less drawn like the dense kernel: its four batch moments are summed in the kernel (rank B, the
row's share of :func:`~analogsgd.crossbar.pulse_trains.batch_moments` without the matrices) and
each element drawn from them by :func:`~analogsgd.crossbar.fused.moments_kernel`, with the
dense kernel's counters (so on inputs whose moment sums are exact it gives the dense kernel's
numbers bit for bit). Those rows match the counts' mean and variance, not their whole
distribution; ``dense_rows=False`` draws every row coincidence by coincidence.
``AnalogTile.update`` (``kernel="auto"``) takes this kernel up to batch 32 and wherever its
expected work is well below the element count.

Randomness: two 63-bit keys per update from the tile's ``torch.Generator`` (one for the pulses,
one for the c2c noise). Hash h = mix64(key + c·γ) of counter c = (stream << 32) + k, with
stream = (replica·B + b)·out_size + i and k the draw's index within its pass (k = 0: the count
K; the pair of a candidate from the top 32 bits of a hash, ⌊u₃₂ N / 2³²⌋, a bias below
N / 2³² ≈ 2·10⁻⁷ for N = 784; its acceptance from the low 32 bits). The c2c Gaussian of element
e is Irwin–Hall of mix64(key₂ + (e + 1)·γ), as in the dense kernel. Same seed → same numbers;
the numbers differ from the dense kernel's (another draw of the same counts).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..devices.variation import DeviceArray
from . import fused

#: a row whose expected candidates exceed DENSE_ROW_ABOVE × in_size / B is drawn from its batch
#: moments like the dense kernel (summed in the kernel, rank B: no moment matrices), element by
#: element and vectorised, instead of candidate by candidate; a candidate costs more the more
#: samples a row draws from (their p and x leave the cache), hence the 1/B (tuned on the
#: 784-256-10 network of benchmarks/bench_networks.py at batch 1 and 8)
DENSE_ROW_ABOVE = 0.125
#: compose_touched lists a row's touched columns in order by a scan when more than
#: 1/SCAN_ABOVE of the row is touched
SCAN_ABOVE = 32


def supports(devices: DeviceArray) -> bool:
    """True for the closed-form families (:data:`~analogsgd.crossbar.fused.LINEAR_STEP`,
    :data:`~analogsgd.crossbar.fused.CONSTANT_STEP`), whose n pulses ``fused.element``
    composes in one step; the pulse-by-pulse families take the dense kernel."""
    return fused.kernel_form(devices.device) in (fused.LINEAR_STEP, fused.CONSTANT_STEP)


def expected_work(p: Tensor, q: Tensor, bl: Tensor) -> float:
    """The sparse kernel's cost in its units: the expected candidates
    Σ_b BL_b (Σ_i q_bi)(max_j p_bj)·n_b (n_b the active columns of sample b; an upper bound
    where ρ ≥ 1/4) plus the passes, one per (row, sample) with q_bi > 0 and BL_b > 0."""
    active = (p > 0).sum(-1, keepdim=True)
    candidates = (bl * q.sum(-1, keepdim=True) * p.amax(-1, keepdim=True) * active).sum()
    passes = (((q > 0) & (bl > 0)).sum(-1, keepdim=True) * (active > 0)).sum()
    return float(candidates + passes)


def apply_sparse(w: Tensor, x: Tensor, d: Tensor, p: Tensor, q: Tensor, bl: Tensor,
                 devices: DeviceArray, keys: tuple[int, int], cache: dict | None = None,
                 dense_rows: bool = True) -> Tensor:
    """w' after the coincidences of one batch (x, d with their probabilities p, q and BL);
    ``keys``: (pulses, c2c noise). Shapes: w (..., out, in); x, p (..., B, in); d, q (..., B,
    out); bl (..., B, 1); leading (replica) dimensions broadcast to w's.

    A contiguous ``w`` is updated in place (its version counter advanced, as a torch in-place
    operation does) and returned: a copy would cost more than the update at batch 1."""
    consts = fused.device_constants(devices, w.dtype, cache)
    out = w.detach()
    if not out.is_contiguous():
        out = out.contiguous()
    out_size, in_size = w.shape[-2], w.shape[-1]
    lead = tuple(w.shape[:-2])
    batch = x.shape[-2]
    dt = w.dtype

    def rows(t: Tensor, width: int) -> np.ndarray:
        t = t.detach()
        if t.dtype != dt:
            t = t.to(dt)
        if t.shape[:-2] != lead:
            t = t.expand(lead + (batch, width))
        return fused._np(t).reshape(-1, batch, width)

    _sparse_kernel(fused._np(out).reshape(-1), rows(p, in_size), rows(x, in_size),
                   rows(q, out_size), rows(d, out_size), rows(bl, 1).reshape(-1, batch),
                   _layout(consts, "rows", in_size, cache), _layout(consts, "elements", in_size, cache),
                   float(devices.dw_min_c2c),
                   np.uint64(keys[0]), np.uint64(keys[1]), fused.kernel_form(devices.device),
                   bool(devices.device.hard_bounds), fused._CONSTANTS[dt],
                   float(DENSE_ROW_ABOVE * in_size / batch if dense_rows else np.inf))
    torch.autograd.graph.increment_version(out)
    return out


def _layout(consts: Tensor, kind: str, in_size: int, cache: dict | None) -> np.ndarray:
    """The (6, n) device constants rearranged for the sparse kernel, cached beside the array
    they come from: ``"elements"`` (n, 6), the six of one element in one cache line instead of
    six; ``"rows"`` (n / in_size, 6, in_size), each row's block contiguous for the dense loop."""
    if cache is not None and cache.get(f"{kind}_of") is consts:
        return cache[kind]
    if kind == "elements":
        arr = fused._np(consts.t().contiguous())
    else:
        arr = fused._np(consts.reshape(6, -1, in_size).transpose(0, 1).contiguous())
    if cache is not None:
        cache[f"{kind}_of"], cache[kind] = consts, arr
    return arr


if fused.NUMBA_AVAILABLE:
    import numba

    from .fused import (
        _GAMMA,
        active,
        as_like,
        element,
        inline,
        irwin_hall,
        mix,
        moments_kernel,
        unpack,
    )

    _S32 = np.uint64(32)
    _S11 = np.uint64(11)
    _LOW32 = np.uint64(0xFFFFFFFF)
    _INV32 = 1.0 / 4294967296.0
    _INV53 = 1.0 / 9007199254740992.0
    njit = numba.njit(cache=True, nogil=True, error_model="numpy")

    @inline
    def coincidence(j, fires, is_up, up, down, touched, n_touched):
        # a pulse on column j of the row if ``fires``: up where d x < 0 (ΔW = −lr d x > 0);
        # branch-free (whether a candidate fires is a coin toss the CPU cannot predict)
        first = fires and up[j] == 0.0 and down[j] == 0.0
        touched[n_touched] = j
        up[j] += 1.0 if fires and is_up else 0.0
        down[j] += 1.0 if fires and not is_up else 0.0
        return n_touched + (1 if first else 0)

    @njit
    def active_columns(p, cols, n_cols, p_max):
        # per sample b: the columns with p_bj > 0 and their largest p
        for b in range(p.shape[0]):
            n_cols[b] = active(p[b], cols[b])
            p_max[b] = max(p[b].max(), 0.0)

    @njit
    def draw_row(i, r, p, x, q, d, bl, cols, n_cols, p_max, key, up, down, stamp, touched,
                 pass_id):
        # the coincidences of row i of replica r over the batch into up/down; returns the
        # number of touched columns (listed in ``touched``) and the last pass number used
        batch = p.shape[0]
        out_size = q.shape[1]
        n_touched = 0
        for b in range(batch):
            qi = q[b, i]
            n = n_cols[b]
            slots = int(bl[b])
            if qi <= 0.0 or n == 0 or slots == 0:
                continue
            rho = qi * p_max[b]
            d_neg = d[b, i] < 0.0           # p, q > 0: x, d ≠ 0; up where signs differ
            pairs = slots * n                      # (slot, active column) pairs of the sample
            inv_n = 1.0 / n
            base = key + (np.uint64((r * batch + b) * out_size + i) << _S32) * _GAMMA
            pass_id += 1
            # (ρ < 1/4: −ln(1 − ρ) ≤ 4ρ/3, so Nρ ≤ 450 keeps P(K = 0) ≥ e⁻⁶⁰⁰ in float64)
            if rho < 0.25 and pairs * rho <= 450.0:
                # K ~ Binomial(pairs, ρ) by CDF inversion: K = 0 when u ≤ P(K = 0) = (1 − ρ)^pairs,
                # which holds at once when u ≤ 1 − pairs·ρ (a lower bound of it)
                u = (mix(base) >> _S11) * _INV53
                count = 0
                if u > 1.0 - pairs * rho:
                    pmf = np.exp(pairs * np.log1p(-rho))
                    cdf = pmf
                    odds = rho / (1.0 - rho)
                    while u > cdf and count < pairs:
                        pmf *= (pairs - count) / (count + 1.0) * odds
                        count += 1
                        cdf += pmf
                c = np.uint64(1)
                drawn = 0
                while drawn < count:  # K distinct pairs, uniformly
                    h = mix(base + c * _GAMMA)
                    c += np.uint64(1)
                    pair = int(((h >> _S32) * np.uint64(pairs)) >> _S32)
                    if stamp[pair] == pass_id:  # drawn already in this pass
                        continue
                    stamp[pair] = pass_id
                    drawn += 1
                    # its column pair mod n, without an integer division (slow): the float
                    # quotient of the half-integer pair + ½ is never within rounding of an integer
                    j = cols[b, pair - n * int((pair + 0.5) * inv_n)]
                    fires = (h & _LOW32) * _INV32 * p_max[b] < p[b, j]
                    n_touched = coincidence(j, fires, d_neg != (x[b, j] < 0.0), up, down, touched,
                                            n_touched)
            else:  # one Bernoulli(q p_j) trial per pair
                for pair in range(pairs):
                    j = cols[b, pair - n * int((pair + 0.5) * inv_n)]
                    h = mix(base + np.uint64(pair + 1) * _GAMMA)
                    fires = (h & _LOW32) * _INV32 < qi * p[b, j]
                    n_touched = coincidence(j, fires, d_neg != (x[b, j] < 0.0), up, down, touched,
                                            n_touched)
        return n_touched, pass_id

    @njit
    def compose_touched(w, row, up, down, touched, n_touched, dev, c2c, key_noise, family,
                        clip, cst):
        # the touched elements of row ``row`` (flat offset); more than a few are first listed
        # again in column order by a scan of the row (in the order of their first hit they
        # would be visited at random, a cache miss each: 5× slower at 22 % of a row touched)
        k = unpack(cst)
        c2c = as_like(c2c, k[1])
        if SCAN_ABOVE * n_touched > up.size:
            n_touched = 0
            for j in range(up.size):
                touched[n_touched] = j
                n_touched += 1 if (up[j] != 0.0 or down[j] != 0.0) else 0
        for s in range(n_touched):
            j = touched[s]
            e = row + j
            zc = irwin_hall(mix(key_noise + np.uint64(e + 1) * _GAMMA), k)
            w[e] = element(w[e], as_like(up[j], k[1]), as_like(down[j], k[1]), dev[e, 0],
                           dev[e, 1], dev[e, 2], dev[e, 3], dev[e, 4], dev[e, 5], c2c, zc,
                           family, clip, k)
            up[j] = 0.0
            down[j] = 0.0

    @njit
    def row_work(i, q, bl, n_cols, p_max):
        # expected candidates of row i (its share of expected_work)
        work = 0.0
        for b in range(q.shape[0]):
            work += bl[b] * q[b, i] * p_max[b] * n_cols[b]
        return work

    @njit
    def sample_powers(p, x, pp):
        # pp (4, B, in) = p, p·sign(x), p², p²·sign(x): the factors of batch_moments
        for b in range(p.shape[0]):
            for j in range(p.shape[1]):
                pj = p[b, j]
                sx = np.sign(x[b, j])
                pp[0, b, j] = pj
                pp[1, b, j] = pj * sx
                pp[2, b, j] = pj * pj
                pp[3, b, j] = pj * pj * sx

    @njit
    def row_moments(i, pp, q, d, bl, acc):
        # acc (4, in) = row i's m_tot, m_net, s_tot, s_net summed over the batch (rank B: the
        # row's share of batch_moments' four products, without the matrices)
        acc[:] = 0.0
        for b in range(pp.shape[1]):
            qb = bl[b] * q[b, i]
            if qb == 0.0:
                continue
            q2b = qb * q[b, i]
            sd = np.sign(d[b, i])
            a0, a1, a2, a3 = qb, qb * sd, q2b, q2b * sd
            for j in range(acc.shape[1]):
                acc[0, j] += a0 * pp[0, b, j]
                acc[1, j] += a1 * pp[1, b, j]
                acc[2, j] += a2 * pp[2, b, j]
                acc[3, j] += a3 * pp[3, b, j]

    @njit
    def sparse_kernel(w, p, x, q, d, bl, dev_rows, dev_t, c2c, key, key_noise, family, clip,
                      cst, dense_above):
        # w (R·out·in,); p, x (R, B, in); q, d (R, B, out); bl (R, B); the device constants as
        # dev_rows (R·out, 6, in) for dense rows (contiguous per row, so that the dense loop
        # vectorises) and dev_t (R·out·in, 6) for single elements; a row whose expected
        # candidates exceed dense_above is drawn densely
        replicas, batch, in_size = p.shape
        out_size = q.shape[2]
        pp = np.empty((4, batch, in_size), dtype=w.dtype)
        acc = np.empty((4, in_size), dtype=w.dtype)
        cols = np.empty((batch, in_size), dtype=np.int64)
        n_cols = np.zeros(batch, dtype=np.int64)
        p_max = np.zeros(batch)
        up = np.zeros(in_size)
        down = np.zeros(in_size)
        max_slots = 0
        for r in range(replicas):
            for b in range(batch):
                max_slots = max(max_slots, int(bl[r, b]))
        stamp = np.full(max_slots * in_size, -1, dtype=np.int64)  # last pass that drew a pair
        touched = np.empty(in_size + 1, dtype=np.int64)
        pass_id = 0
        for r in range(replicas):
            active_columns(p[r], cols, n_cols, p_max)
            powers = False
            for i in range(out_size):
                row = (r * out_size + i) * in_size
                if row_work(i, q[r], bl[r], n_cols, p_max) > dense_above:
                    if not powers:
                        sample_powers(p[r], x[r], pp)
                        powers = True
                    # the row from its moments, by the dense kernel (same counters)
                    row_moments(i, pp, q[r], d[r], bl[r], acc)
                    moments_kernel(w[row:row + in_size], acc, dev_rows[r * out_size + i], c2c,
                                   key, family, clip, cst, row)
                    continue
                n_touched, pass_id = draw_row(i, r, p[r], x[r], q[r], d[r], bl[r], cols,
                                              n_cols, p_max, key, up, down, stamp, touched,
                                              pass_id)
                compose_touched(w, row, up, down, touched, n_touched, dev_t, c2c, key_noise,
                                family, clip, cst)

    _sparse_kernel = sparse_kernel
