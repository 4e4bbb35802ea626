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

Sampling, per replica, row i, sample b with q_bi > 0 and slot t, over the n_b columns with
p_bj > 0 (listed once per sample): each column is a *candidate* with probability
ρ = q_bi·max_j p_bj, and a candidate is accepted with probability p_bj / max_j p_bj, so that
column j fires with probability q_bi p_bj, independently (thinning of independent Bernoulli
trials). The candidates are drawn as

* for ρ < 1/4 (and n_b ρ ≤ 600): their number K ~ Binomial(n_b, ρ) by inversion of its CDF
  (float64; P(K = 0) = (1 − ρ)^n_b ≥ e⁻⁶⁰⁰), then K distinct columns uniformly (a drawn column
  already taken in this slot is drawn again), so that the cost is ∝ ρ n_b, not n_b;
* otherwise one Bernoulli(q_bi p_bj) trial per column.

Then every touched element is composed with its n_up, n_down pulses, cycle-to-cycle noise and
bounds by the same element arithmetic as the dense kernel (:func:`~analogsgd.crossbar.fused.element`).

Randomness: two 63-bit keys per update from the tile's ``torch.Generator`` (one for the pulses,
one for the c2c noise). Hash h = mix64(key + c·γ) of counter c = (stream << 32) + k, with
stream = ((replica·B + b)·64 + t)·out_size + i and k the draw's index within its slot
(k = 0: the count K; the column of a candidate from the top 32 bits of a hash, ⌊u₃₂ n_b / 2³²⌋,
a bias below n_b / 2³² ≈ 2·10⁻⁷ for n_b = 784; its acceptance from the low 32 bits). The c2c
Gaussian of element e is Irwin–Hall of mix64(key₂ + (e + 1)·γ), as in the dense kernel. Same seed →
same numbers; the numbers differ from the dense kernel's (another draw of the same counts).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..devices.variation import DeviceArray
from . import fused

#: slots per sample the stream index leaves room for (BL ≤ 63)
MAX_SLOTS = 63


def expected_candidates(p: Tensor, q: Tensor, bl: Tensor) -> float:
    """Σ_b BL_b (Σ_i q_bi)(max_j p_bj)·n_b: the number of candidates the sampler visits (its
    cost) in expectation, n_b the active columns of sample b (an upper bound for ρ ≥ 1/4)."""
    active = (p > 0).sum(-1, keepdim=True)
    return float((bl * q.sum(-1, keepdim=True) * p.amax(-1, keepdim=True) * active).sum())


def apply_sparse(w: Tensor, x: Tensor, d: Tensor, p: Tensor, q: Tensor, bl: Tensor,
                 devices: DeviceArray, keys: tuple[int, int], cache: dict | None = None) -> Tensor:
    """w' after the coincidences of one batch (x, d with their probabilities p, q and BL);
    ``keys``: (pulses, c2c noise). Shapes: w (..., out, in); x, p (..., B, in); d, q (..., B,
    out); bl (..., B, 1); leading (replica) dimensions broadcast to w's."""
    consts = fused.device_constants(devices, w.dtype, cache)
    out = w.detach().clone(memory_format=torch.contiguous_format)
    out_size, in_size = w.shape[-2], w.shape[-1]
    lead = tuple(w.shape[:-2])
    batch = x.shape[-2]
    dt = w.dtype

    def rows(t: Tensor, width: int) -> np.ndarray:
        return fused._np(t.to(dt).expand(lead + (batch, width)).reshape(-1, batch, width))

    sx = torch.sign(x)
    sd = torch.sign(d)
    blr = bl.to(dt).expand(lead + (batch, 1)).reshape(-1, batch)
    if bool((blr > MAX_SLOTS).any()):
        raise ValueError(f"the sparse update counts at most {MAX_SLOTS} slots per sample")
    _sparse_kernel(fused._np(out).reshape(-1), rows(p, in_size), rows(sx, in_size),
                   rows(q, out_size), rows(sd, out_size), fused._np(blr), _interleaved(consts, cache),
                   float(devices.dw_min_c2c), np.uint64(keys[0]), np.uint64(keys[1]),
                   fused.kernel_form(devices.device), bool(devices.device.hard_bounds),
                   fused._CONSTANTS[dt])
    return out


def _interleaved(consts: Tensor, cache: dict | None) -> np.ndarray:
    """The (6, n) device constants as (n, 6): the sparse kernel reads the six of one element at
    a time, one cache line instead of six; cached beside the (6, n) array they come from."""
    if cache is not None and cache.get("interleaved_of") is consts:
        return cache["interleaved"]
    arr = fused._np(consts.t().contiguous())
    if cache is not None:
        cache["interleaved_of"], cache["interleaved"] = consts, arr
    return arr


if fused.NUMBA_AVAILABLE:
    import numba

    from .fused import _GAMMA, as_like, element, inline, irwin_hall, mix, unpack

    _S32 = np.uint64(32)
    _S11 = np.uint64(11)
    _LOW32 = np.uint64(0xFFFFFFFF)
    _INV32 = 1.0 / 4294967296.0
    _INV53 = 1.0 / 9007199254740992.0
    njit = numba.njit(cache=True, nogil=True, error_model="numpy")

    @inline
    def coincidence(j, fires, sign, up, down, touched, n_touched):
        # a pulse on column j of the row if ``fires``: up where sign < 0 (ΔW = −lr d x > 0);
        # branch-free (whether a candidate fires is a coin toss the CPU cannot predict)
        first = fires and up[j] == 0.0 and down[j] == 0.0
        touched[n_touched] = j
        is_up = sign < 0.0
        up[j] += 1.0 if fires and is_up else 0.0
        down[j] += 1.0 if fires and not is_up else 0.0
        return n_touched + (1 if first else 0)

    @njit
    def active_columns(p, cols, n_cols, p_max):
        # per sample b: the columns with p_bj > 0 and their largest p
        batch, in_size = p.shape
        for b in range(batch):
            n = 0
            top = 0.0
            for j in range(in_size):
                pj = p[b, j]
                if pj > 0.0:
                    cols[b, n] = j
                    n += 1
                    top = max(top, pj)
            n_cols[b] = n
            p_max[b] = top

    @njit
    def draw_row(i, r, p, sx, q, sd, bl, cols, n_cols, p_max, key, up, down, stamp, touched,
                 pass_id):
        # the coincidences of row i of replica r over the batch into up/down; returns the
        # number of touched columns (listed in ``touched``) and the last slot number used
        batch = p.shape[0]
        out_size = q.shape[1]
        n_touched = 0
        for b in range(batch):
            qi = q[b, i]
            n = n_cols[b]
            if qi <= 0.0 or n == 0:
                continue
            rho = qi * p_max[b]
            sdi = sd[b, i]
            log_q = np.log1p(-rho) if rho < 1.0 else 0.0
            sparse_slots = rho < 0.25 and n * -log_q <= 600.0
            p0 = np.exp(n * log_q) if sparse_slots else 0.0
            odds = rho / (1.0 - rho) if sparse_slots else 0.0
            for t in range(int(bl[b])):
                stream = np.uint64(((r * batch + b) * 64 + t) * out_size + i) << _S32
                base = key + stream * _GAMMA
                pass_id += 1
                if sparse_slots:  # K ~ Binomial(n, ρ) by CDF inversion, then K distinct columns
                    u = (mix(base) >> _S11) * _INV53
                    pmf = p0
                    cdf = p0
                    count = 0
                    while u > cdf and count < n:
                        pmf *= (n - count) / (count + 1.0) * odds
                        count += 1
                        cdf += pmf
                    c = np.uint64(1)
                    drawn = 0
                    while drawn < count:
                        h = mix(base + c * _GAMMA)
                        c += np.uint64(1)
                        j = cols[b, int(((h >> _S32) * np.uint64(n)) >> _S32)]
                        if stamp[j] == pass_id:  # drawn already in this slot
                            continue
                        stamp[j] = pass_id
                        drawn += 1
                        fires = (h & _LOW32) * _INV32 * p_max[b] < p[b, j]
                        n_touched = coincidence(j, fires, sdi * sx[b, j], up, down, touched,
                                                n_touched)
                else:  # one Bernoulli(q p_j) trial per active column
                    for s in range(n):
                        j = cols[b, s]
                        h = mix(base + np.uint64(s + 1) * _GAMMA)
                        fires = (h & _LOW32) * _INV32 < qi * p[b, j]
                        n_touched = coincidence(j, fires, sdi * sx[b, j], up, down, touched,
                                                n_touched)
        return n_touched, pass_id

    @njit
    def compose_touched(w, row, up, down, touched, n_touched, dev, c2c, key_noise, family,
                        clip, cst):
        # the touched elements of row ``row`` (flat offset), in the order they were first hit
        k = unpack(cst)
        c2c = as_like(c2c, k[1])
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
    def sparse_kernel(w, p, sx, q, sd, bl, dev, c2c, key, key_noise, family, clip, cst):
        # w (R·out·in,); p, sx (R, B, in); q, sd (R, B, out); bl (R, B); dev (R·out·in, 6)
        replicas, batch, in_size = p.shape
        out_size = q.shape[2]
        cols = np.empty((batch, in_size), dtype=np.int64)
        n_cols = np.zeros(batch, dtype=np.int64)
        p_max = np.zeros(batch)
        up = np.zeros(in_size)
        down = np.zeros(in_size)
        stamp = np.full(in_size, -1, dtype=np.int64)        # the last slot that drew a column
        touched = np.empty(in_size + 1, dtype=np.int64)
        pass_id = 0
        for r in range(replicas):
            active_columns(p[r], cols, n_cols, p_max)
            for i in range(out_size):
                n_touched, pass_id = draw_row(i, r, p[r], sx[r], q[r], sd[r], bl[r], cols,
                                              n_cols, p_max, key, up, down, stamp, touched,
                                              pass_id)
                compose_touched(w, (r * out_size + i) * in_size, up, down, touched, n_touched,
                                dev, c2c, key_noise, family, clip, cst)

    _sparse_kernel = sparse_kernel
