"""Sparse pulsed update: the coincidences of a batch drawn pass by pass, at a cost ∝ pulses.

The dense fused update (:func:`~analogsgd.crossbar.fused.apply_moments`) visits every element
of the tile: four batch-moment matrices (four products of the size of a digital weight
gradient), then one count draw per element. At the pulse rates of training (lr·|x|·|d| a few
Δw_min per sample, BL 1–3 under bit-length management) most elements receive no pulse: in the
784×256 layer of ``benchmarks/bench_networks.py`` a batch of 1 fires about 600 coincidences
among 200 704 elements, a batch of 8 about 52 000. This module draws only what a batch fires.

The process (the model of :mod:`~analogsgd.crossbar.pulse_trains`, counted per element):
element (i, j) receives, in each slot t < BL_b of sample b, a pulse with probability
q_bi p_bj, independently of every other element, slot and sample, of sign −sign(d_bi x_bj).
Its up and down counts are therefore the exact sums of independent Binomial(BL_b, p_bj q_bi)
(Poisson–binomial), whose mean and variance the dense ``moments`` draw matches (that draw is
exact in both moments but not in the higher ones; this one is exact in distribution, to the
2⁻²⁴ resolution of its uniforms). Elements are independent, as in the ``moments`` model; the
hardware's shared row and column trains (``counting="bit_trains"``) correlate them.

**Passes.** Row i of replica r is drawn sample by sample; the *pass* (i, b) (q_bi > 0, BL_b > 0)
tries the N = BL_b·n_b (slot, column) pairs of the n_b columns with p_bj > 0, in one of two
ways, chosen by its expected candidates C = N ρ, ρ = q_bi·max_j p_bj:

* **skipping** (C ≤ ``VECTOR_ABOVE``·in_size): the pairs are candidates with probability ρ
  each; the gaps between candidates are geometric, G = ⌊ln u / ln(1 − ρ)⌋ (u uniform), so the
  pass jumps from candidate to candidate at one hash and one logarithm each, in pair order
  (no pair twice), and accepts a candidate on column j with probability p_bj / max_j p_bj
  (thinning of independent Bernoulli trials: a pair fires with probability q_bi p_bj);
* **vectorised** (C above it): one Bernoulli(q_bi p_bj) trial per pair of every column (those
  with p = 0 never fire), two pairs per 64-bit hash, a loop that LLVM vectorises: about 0.3 ns a
  pair against about 25 ns a candidate.

A fired pair adds 1 to the element's up or down count (packed in one int64: up in the low,
down in the high 32 bits, so that the update of a count is one branch-free add).

**Composition.** After the batch, the row's elements with pulses are composed with their
n_up, n_down, cycle-to-cycle noise and bounds by the dense kernel's element arithmetic
(:func:`~analogsgd.crossbar.fused.element`): the touched columns gathered into a list and
composed there in one vectorised loop, or, when more than ``COMPOSE_ALL_ABOVE`` of the row
fired, in one vectorised loop over the whole row, where an element without pulses is left
exactly as it is (0 pulses compose to w, c2c noise times 0 adds 0). Both give the same numbers.

Randomness: two 63-bit keys per update from the tile's ``torch.Generator`` (one for the pulses,
one for the c2c noise). Hash h = mix64(key + c·γ) of counter c = (stream << 32) + k, with
stream = (replica·B + b)·out_size + i and k = 1, 2, … the hash's index within its pass. A
skipping hash gives the gap's uniform (top 32 bits, (m + ½)/2³²) and the acceptance (low 32
bits); a vectorised hash gives the uniforms of two pairs, (m + ½)/2²⁴ from bits 40–63 and
8–31. The c2c Gaussian of element e is Irwin–Hall of mix64(key₂ + (e + 1)·γ), as in the dense
kernel. Same seed → same numbers; the numbers differ from the dense kernel's (another draw of
the same counts).

:func:`update_sparse` runs the probabilities of :mod:`.fast_probabilities` and this kernel in
one compiled call (the tile's default update management); :func:`apply_sparse` takes given
p, q and BL.
"""

from __future__ import annotations

import sys

import numpy as np
import torch
from torch import Tensor

from ..devices.variation import DeviceArray
from . import fast_probabilities, fused

#: a pass with more than VECTOR_ABOVE × in_size expected candidates tries every pair,
#: vectorised (about 0.3 ns a pair), instead of skipping to its candidates (about 25 ns each):
#: timed on the 784×256 layer of benchmarks/bench_networks.py, 1/64 is near the break-even
VECTOR_ABOVE = 1.0 / 64.0
#: a row in which more than COMPOSE_ALL_ABOVE × in_size pairs fired is composed in one
#: vectorised loop over the row (2.3–2.9 ns an element) instead of gathered into a list and
#: composed there (compose_listed: about 9 ns an element at 200 a row, 23 ns at 20; timed on
#: the 784×256 layer of benchmarks/bench_networks.py, 0.25 and 0.35 were no faster)
COMPOSE_ALL_ABOVE = 0.125
#: columns (summed over the batch) up to which a warm-up loop loads their elements of every row
#: before the row loop: a transfer's one-hot write touches one element per row, whose cache
#: misses would otherwise come one at a time (each row's composition is long)
WARM_COLUMNS = 8
#: a touched list longer than in_size / SCAN_ABOVE is rebuilt in column order by a scan of the
#: row before a listed composition (in the order of their first hit the elements would be
#: gathered at random, a cache miss each)
SCAN_ABOVE = 32


def supports(devices: DeviceArray) -> bool:
    """True for the closed-form families (:data:`~analogsgd.crossbar.fused.LINEAR_STEP`,
    :data:`~analogsgd.crossbar.fused.CONSTANT_STEP`), whose n pulses ``fused.element``
    composes in one step; the pulse-by-pulse families take the dense kernel."""
    return fused.kernel_form(devices.device) in (fused.LINEAR_STEP, fused.CONSTANT_STEP)


def expected_work(p: Tensor, q: Tensor, bl: Tensor) -> float:
    """The skipping draw's cost in its units: the expected candidates
    Σ_b BL_b (Σ_i q_bi)(max_j p_bj)·n_b (n_b the active columns of sample b) plus the passes,
    one per (row, sample) with q_bi > 0 and BL_b > 0 (an upper bound of the kernel's cost, whose
    dense passes are vectorised)."""
    active = (p > 0).sum(-1, keepdim=True)
    candidates = (bl * q.sum(-1, keepdim=True) * p.amax(-1, keepdim=True) * active).sum()
    passes = (((q > 0) & (bl > 0)).sum(-1, keepdim=True) * (active > 0)).sum()
    return float(candidates + passes)


def _arguments(w: Tensor, devices: DeviceArray, keys: np.ndarray, cache: dict | None):
    """(w as a contiguous tensor updated in place, its flat numpy view, the kernel's arguments
    after the batch). ``keys``: the update's two keys as a uint64 array (:func:`key_array`),
    passed to the kernel as that array. What depends only on the tile's arrays and the keys'
    array object is cached beside the device constants it comes from (and the conductance
    tensor whose view it holds): a tile draws its keys into one kept array, so at batch 1,
    where the Python around the kernel costs more than the kernel, an update looks up the whole
    argument list."""
    consts = fused.device_constants(devices, w.dtype, cache)
    known = None if cache is None else cache.get("arguments")
    if known is not None and known[0] is consts and known[1] is w and known[2] is keys:
        return known[3]
    out = w.detach()
    if not out.is_contiguous():
        out = out.contiguous()
    in_size = w.shape[-1]
    args = (_layout(consts, "rows", in_size, cache), _layout(consts, "elements", in_size, cache),
            float(devices.dw_min_c2c), float(consts[2:4].max()) if consts.numel() else 0.0,
            keys, fused.kernel_form(devices.device), bool(devices.device.hard_bounds),
            fused._CONSTANTS[w.dtype], float(VECTOR_ABOVE * in_size),
            float(COMPOSE_ALL_ABOVE * in_size))
    found = (out, fused._np(out).reshape(-1), args)
    if cache is not None and w.is_contiguous():   # (a copy is no view of w to keep)
        cache["arguments"] = (consts, w, keys, found)
    return found


def key_array(keys) -> np.ndarray:
    """The kernels' form of an update's two keys (pulses, c2c noise): a uint64 array of 2 (one
    given as such is passed on as it is)."""
    if isinstance(keys, np.ndarray) and keys.dtype == np.uint64 and keys.shape == (2,):
        return keys
    return np.array([int(k) for k in keys], dtype=np.uint64)


def apply_sparse(w: Tensor, x: Tensor, d: Tensor, p: Tensor, q: Tensor, bl: Tensor,
                 devices: DeviceArray, keys, cache: dict | None = None,
                 kernel=None) -> Tensor:
    """w' after the coincidences of one batch (x, d with their probabilities p, q and BL);
    ``keys``: (pulses, c2c noise), a pair or :func:`key_array`'s form. Shapes: w (..., out,
    in); x, p (..., B, in); d, q (..., B, out); bl (..., B, 1); leading (replica) dimensions
    broadcast to w's.

    A contiguous ``w`` is updated in place (its version counter advanced, as a torch in-place
    operation does) and returned: a copy would cost more than the update at batch 1.
    ``kernel``: another compiled kernel of the same arguments in place of the sparse one (the
    bit-train kernel of :func:`~analogsgd.crossbar.trains.apply_trains`)."""
    out, view, args = _arguments(w, devices, key_array(keys), cache)
    out_size, in_size = w.shape[-2], w.shape[-1]
    batch = x.shape[-2]
    rows = batch_rows(w)
    (kernel or _sparse_kernel)(view, rows(p, in_size, batch), rows(x, in_size, batch),
                               rows(q, out_size, batch), rows(d, out_size, batch),
                               rows(bl, 1, batch).reshape(-1, batch), *args)
    torch.autograd.graph.increment_version(out)
    return w if w.is_contiguous() else out


def batch_rows(w: Tensor):
    """f(t, width, batch): a per-sample tensor t (..., B, width) as the kernels' (R, B, width)
    numpy array in w's float type, its leading (replica) dimensions broadcast to w's."""
    lead, dt = tuple(w.shape[:-2]), w.dtype

    def rows(t: Tensor, width: int, batch: int) -> np.ndarray:
        t = t.detach()
        if t.dtype != dt:
            t = t.to(dt)
        if t.shape[:-2] != lead:
            t = t.expand(lead + (batch, width))
        return fused._np(t).reshape(-1, batch, width)
    return rows


def fuses(w: Tensor, x: Tensor, d: Tensor) -> bool:
    """Whether :func:`update_sparse` takes x and d as they are: the same float type as ``w``,
    and leading (replica) dimensions equal to w's (or none)."""
    return (fused.NUMBA_AVAILABLE and x.dtype == d.dtype == w.dtype
            and x.shape[:-2] == d.shape[:-2] == w.shape[:-2])


def update_sparse(w: Tensor, x: Tensor, d: Tensor, lr: float, dw_min: float, desired_bl: int,
                  um_grad_scale: float, devices: DeviceArray, keys,
                  cache: dict | None = None, kernel=None) -> bool:
    """The probabilities of :func:`~analogsgd.crossbar.fast_probabilities.probabilities` and
    :func:`apply_sparse` in one compiled call, ``w`` updated in place; False (``w`` untouched)
    when x or d is not finite. Requires :func:`fuses` (x, d, w). ``kernel``: another compiled
    kernel of the same arguments in place of the sparse one (the bit-train kernel of
    :func:`~analogsgd.crossbar.trains.update_trains`)."""
    out, view, args = _arguments(w, devices, key_array(keys), cache)
    in_size, out_size, batch = w.shape[-1], w.shape[-2], x.shape[-2]
    cast = fast_probabilities.cast_to(w.dtype)
    finite, _ = (kernel or _fused_kernel)(fused._np(x).reshape(-1, batch, in_size),
                                          fused._np(d).reshape(-1, batch, out_size), cast(lr),
                                          cast(dw_min), cast(desired_bl), cast(um_grad_scale),
                                          cast(1.0), view, *args)
    if finite:
        torch.autograd.graph.increment_version(out)
    return bool(finite)


def _layout(consts: Tensor, kind: str, in_size: int, cache: dict | None) -> np.ndarray:
    """The (6, n) device constants rearranged for the kernel, cached beside the array they come
    from: ``"elements"`` (n, 6), the six of one element in one cache line instead of six;
    ``"rows"`` (n / in_size, 6, in_size), each row's block contiguous for the vectorised loop."""
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
    from numba.cpython.unsafe.numbers import trailing_zeros

    from .fused import (
        _GAMMA,
        SMALL_DECAY,
        active,
        as_like,
        element_of,
        inline,
        irwin_hall,
        mix,
        unpack,
    )

    _S8, _S32, _S40 = np.uint64(8), np.uint64(32), np.uint64(40)
    _ONE64 = np.uint64(1)
    _LITTLE_ENDIAN = sys.byteorder == "little"
    _LOW24 = np.uint64(0xFFFFFF)
    _LOW32 = np.uint64(0xFFFFFFFF)
    _UP, _DOWN = np.int64(1), np.int64(1 << 32)   # one pulse in the packed count
    _INV32 = 1.0 / 4294967296.0
    njit = numba.njit(cache=True, nogil=True, error_model="numpy")

    @inline
    def uniform24(bits, k):
        # (m + ½)/2²⁴ of a 24-bit integer m, in the arithmetic type: exact, never 0 or 1
        return (as_like(np.int64(bits), k[1]) + k[0]) * k[5]

    @njit
    def active_columns(p, cols, n_cols, p_max):
        # per sample b: the columns with p_bj > 0 and their largest p
        for b in range(p.shape[0]):
            n_cols[b] = active(p[b], cols[b])
            p_max[b] = max(p[b].max(), 0.0)

    @njit
    def skip_pass(base, rho, pairs, cols_b, n, p_b, p_max, x_b, d_neg, counts, touched,
                  n_touched):
        # the candidates of one pass by geometric gaps; returns (touched, pairs fired)
        inv_log = 1.0 / np.log1p(-rho)      # −0 for ρ = 1: every pair a candidate
        pos = -1
        col = -1
        fired = 0
        c = np.uint64(1)
        while True:
            h = mix(base + c * _GAMMA)
            c += np.uint64(1)
            gap = np.floor(np.log((float(h >> _S32) + 0.5) * _INV32) * inv_log)
            if pos + 1.0 + gap >= pairs:
                return n_touched, fired
            step = int(gap) + 1
            pos += step
            col += step
            while col >= n:  # the pair's column; the slot is not needed
                col -= n
            j = cols_b[col]
            fires = (h & _LOW32) * _INV32 * p_max < p_b[j]
            first = fires & (counts[j] == 0)
            touched[n_touched] = j
            n_touched += 1 if first else 0
            fired += 1 if fires else 0
            counts[j] += (_UP if d_neg != (x_b[j] < 0.0) else _DOWN) if fires else 0

    @njit
    def vector_pass(base, q_bi, slots, p_b, x_b, d_neg, counts, k):
        # one Bernoulli(q p_j) trial per slot and column, two columns per hash; returns the
        # pairs fired
        in_size = p_b.size
        half = in_size // 2
        up_pos = _UP if d_neg else _DOWN   # the code of a pulse on a column with x ≥ 0
        up_neg = _DOWN if d_neg else _UP
        fired = 0
        for s in range(slots):
            c0 = base + np.uint64(s * (half + 1) + 1) * _GAMMA
            for t in range(half):
                h = mix(c0 + np.uint64(t) * _GAMMA)
                u_a = uniform24(h >> _S40, k)
                u_b = uniform24((h >> _S8) & _LOW24, k)
                j = t + half
                f_a = u_a < q_bi * p_b[t]
                f_b = u_b < q_bi * p_b[j]
                counts[t] += (up_neg if x_b[t] < 0.0 else up_pos) if f_a else 0
                counts[j] += (up_neg if x_b[j] < 0.0 else up_pos) if f_b else 0
                fired += (1 if f_a else 0) + (1 if f_b else 0)
            if in_size % 2:  # the last column of an odd row
                j = in_size - 1
                f = uniform24(mix(c0 + np.uint64(half) * _GAMMA) >> _S40, k) < q_bi * p_b[j]
                counts[j] += (up_neg if x_b[j] < 0.0 else up_pos) if f else 0
                fired += 1 if f else 0
        return fired

    @inline
    def compose(we, e, code, a_up, a_down, l_up, l_down, lo, hi, c2c, key_noise, family,
                clip, k, small=False):
        n_up = as_like(code & np.int64(0xFFFFFFFF), k[1])
        n_down = as_like(code >> np.int64(32), k[1])
        zc = irwin_hall(mix(key_noise + np.uint64(e + 1) * _GAMMA), k)
        return element_of(we, n_up, n_down, a_up, a_down, l_up, l_down, lo, hi, c2c, zc,
                          family, clip, k, small)

    @njit
    def compose_row(w_row, row, counts, dev_row, c2c, l_max, key_noise, family, clip, k):
        # every element of the row (w_row: the row's span of w, starting at flat element
        # ``row``), vectorised (no pulses: w exactly); counts reset. (Indexing w itself at
        # row + j, which numba cannot prove non-negative, would keep LLVM from vectorising.)
        # Where the row's largest count times the tile's largest L± stays below SMALL_DECAY the
        # loop skips exp_neg's range reduction (the same numbers; 2.9 → 2.3 ns an element)
        top = 0
        for j in range(counts.size):
            top = max(top, (counts[j] & np.int64(0xFFFFFFFF)) + (counts[j] >> np.int64(32)))
        if top * l_max < SMALL_DECAY:
            for j in range(counts.size):
                w_row[j] = compose(w_row[j], row + j, counts[j], dev_row[0, j], dev_row[1, j],
                                   dev_row[2, j], dev_row[3, j], dev_row[4, j], dev_row[5, j],
                                   c2c, key_noise, family, clip, k, True)
        else:
            for j in range(counts.size):
                w_row[j] = compose(w_row[j], row + j, counts[j], dev_row[0, j], dev_row[1, j],
                                   dev_row[2, j], dev_row[3, j], dev_row[4, j], dev_row[5, j],
                                   c2c, key_noise, family, clip, k, False)
        counts[:] = 0

    @njit
    def compose_listed(w, row, counts, touched, n_touched, dev, l_max, c2c, key_noise, family,
                       clip, k, buf_w, buf_code, buf_e, buf_dev):
        # the listed elements of the row (w flat, ``row`` its first element, dev (n, 6)) gathered
        # into the buffers, composed in one vectorised loop (compose_row's, on the list only)
        # and scattered back; counts reset. The same numbers as compose_row. The gather's loads
        # are independent, so their cache misses overlap (an element-by-element composition,
        # long per element, took them one or two at a time: 3-4x slower from 20 elements up)
        top = 0
        for s in range(n_touched):
            j = touched[s]
            code = counts[j]
            counts[j] = 0
            buf_w[s] = w[row + j]
            buf_code[s] = code
            buf_e[s] = row + j
            for c in range(6):
                buf_dev[c, s] = dev[row + j, c]
            top = max(top, (code & np.int64(0xFFFFFFFF)) + (code >> np.int64(32)))
        if top * l_max < SMALL_DECAY:
            for s in range(n_touched):
                buf_w[s] = compose(buf_w[s], buf_e[s], buf_code[s], buf_dev[0, s], buf_dev[1, s],
                                   buf_dev[2, s], buf_dev[3, s], buf_dev[4, s], buf_dev[5, s],
                                   c2c, key_noise, family, clip, k, True)
        else:
            for s in range(n_touched):
                buf_w[s] = compose(buf_w[s], buf_e[s], buf_code[s], buf_dev[0, s], buf_dev[1, s],
                                   buf_dev[2, s], buf_dev[3, s], buf_dev[4, s], buf_dev[5, s],
                                   c2c, key_noise, family, clip, k, False)
        for s in range(n_touched):
            w[buf_e[s]] = buf_w[s]

    @njit
    def list_buffers(in_size, w, dev):
        # compose_listed's gather buffers for rows of in_size elements, and list_touched's
        # byte mask (whole 8-byte words, the padding always 0)
        return (np.empty(in_size, dtype=w.dtype), np.empty(in_size, dtype=np.int64),
                np.empty(in_size, dtype=np.int64), np.empty((6, in_size), dtype=dev.dtype),
                np.zeros(8 * ((in_size + 7) // 8), dtype=np.uint8))

    @njit
    def compose_fired(w, row, counts, touched, n_touched, fired, all_above, dev_row, dev, c2c,
                      l_max, key_noise, family, clip, k, buffers):
        # the composition of a row in which ``fired`` pairs fired: the whole row when more than
        # all_above, else its touched columns (n_touched of them listed in ``touched``, in
        # column order if the list is long; n_touched < 0: no list, scan the row)
        in_size = counts.size
        if fired > all_above:
            compose_row(w[row:row + in_size], row, counts, dev_row, c2c, l_max, key_noise,
                        family, clip, k)
            return
        buf_w, buf_code, buf_e, buf_dev, mask = buffers
        if n_touched < 0 or SCAN_ABOVE * n_touched > in_size:
            n_touched = list_touched(counts, touched, mask)
        compose_listed(w, row, counts, touched, n_touched, dev, l_max, c2c, key_noise, family,
                       clip, k, buf_w, buf_code, buf_e, buf_dev)

    @njit
    def batch_probabilities(x, d, lr, dw_min, desired_bl, g, one):
        # (finite, p, q, BL) of fast_probabilities' pass over a batch x (R, B, in), d (R, B, out)
        p = np.empty_like(x)
        q = np.empty_like(d)
        bl = np.empty(x.shape[:2], dtype=x.dtype)
        finite, _ = fast_probabilities.probabilities_kernel(
            x.reshape(-1, x.shape[2]), d.reshape(-1, d.shape[2]), lr, dw_min, desired_bl, g,
            one, p.reshape(-1, x.shape[2]), q.reshape(-1, d.shape[2]), bl.reshape(-1))
        return finite, p, q, bl

    @njit
    def warm_columns(w, dev, cols, n_cols, first, out_size, in_size):
        # loads the elements of the listed columns (cols[b, :n_cols[b]]) of every row of the
        # replica whose first element is ``first``; returns their sum, to keep the loads
        warm = 0.0
        for i in range(out_size):
            row = first + i * in_size
            for b in range(n_cols.size):
                for a in range(n_cols[b]):
                    e = row + cols[b, a]
                    warm += w[e] + dev[e, 0] + dev[e, 5]
        return warm

    @njit
    def list_touched(counts, touched, mask):
        # the columns with pulses, in order: one byte per column (a vectorised loop), then the
        # set bytes of each 8-byte word of the mask by their trailing zeros (the lowest column
        # first on a little-endian machine; elsewhere a scan that tests every column). At a few
        # % of the row 2-3x faster than that scan
        if not _LITTLE_ENDIAN:
            n = 0
            for j in range(counts.size):
                touched[n] = j
                n += 1 if counts[j] != 0 else 0
            return n
        for j in range(counts.size):
            mask[j] = 1 if counts[j] != 0 else 0
        words = mask.view(np.uint64)
        n = 0
        for i in range(words.size):
            word = words[i]
            while word != 0:
                touched[n] = 8 * i + (np.int64(trailing_zeros(word)) >> 3)
                n += 1
                word &= word - _ONE64
        return n

    @njit
    def sparse_kernel(w, p, x, q, d, bl, dev_rows, dev_t, c2c, l_max, keys, family, clip, cst,
                      vector_above, all_above):
        # w (R·out·in,); p, x (R, B, in); q, d (R, B, out); bl (R, B); the device constants as
        # dev_rows (R·out, 6, in) for whole rows and dev_t (R·out·in, 6) for single elements.
        # Returns the sum of the warmed elements (so that their loads are kept)
        replicas, batch, in_size = p.shape
        out_size = q.shape[2]
        key, key_noise = keys[0], keys[1]
        k = unpack(cst)
        c2c = as_like(c2c, k[1])
        cols = np.empty((batch, in_size), dtype=np.int64)
        n_cols = np.zeros(batch, dtype=np.int64)
        p_max = np.zeros(batch)
        counts = np.zeros(in_size, dtype=np.int64)
        touched = np.empty(in_size + 1, dtype=np.int64)
        buffers = list_buffers(in_size, w, dev_t)
        warm = 0.0
        for r in range(replicas):
            active_columns(p[r], cols, n_cols, p_max)
            if n_cols.sum() <= WARM_COLUMNS:
                warm += warm_columns(w, dev_t, cols, n_cols, r * out_size * in_size, out_size,
                                     in_size)
            for i in range(out_size):
                row = (r * out_size + i) * in_size
                n_touched = 0
                fired = 0
                listed = True
                for b in range(batch):
                    q_bi = q[r, b, i]
                    n = n_cols[b]
                    slots = int(bl[r, b])
                    if q_bi <= 0.0 or n == 0 or slots == 0:
                        continue
                    rho = float(q_bi) * p_max[b]
                    base = key + (np.uint64((r * batch + b) * out_size + i) << _S32) * _GAMMA
                    d_neg = d[r, b, i] < 0.0
                    if slots * n * rho > vector_above:
                        fired += vector_pass(base, q_bi, slots, p[r, b], x[r, b], d_neg, counts, k)
                        listed = False
                    else:
                        n_touched, f = skip_pass(base, rho, slots * n, cols[b], n, p[r, b],
                                                 p_max[b], x[r, b], d_neg, counts, touched,
                                                 n_touched)
                        fired += f
                if fired > 0:
                    compose_fired(w, row, counts, touched, n_touched if listed else -1, fired,
                                  all_above, dev_rows[r * out_size + i], dev_t, c2c, l_max,
                                  key_noise, family, clip, k, buffers)
        return warm

    @njit
    def fused_kernel(x, d, lr, dw_min, desired_bl, g, one, w, dev_rows, dev_t, c2c, l_max, keys,
                     family, clip, cst, vector_above, all_above):
        # fast_probabilities' pass, then (if x and d are finite) the sparse kernel; returns
        # (finite, the kernel's warm-up sum)
        finite, p, q, bl = batch_probabilities(x, d, lr, dw_min, desired_bl, g, one)
        warm = 0.0
        if finite:
            warm = sparse_kernel(w, p, x, q, d, bl, dev_rows, dev_t, c2c, l_max, keys, family,
                                 clip, cst, vector_above, all_above)
        return finite, warm

    _sparse_kernel, _fused_kernel = sparse_kernel, fused_kernel
