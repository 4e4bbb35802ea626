"""Compiled ``bit_trains`` counting: the shared row and column trains of the hardware, drawn
bit by bit, at a cost ∝ coincidences.

The process (``counting="bit_trains"``, :func:`~analogsgd.crossbar.pulse_trains.count_bit_trains`,
the one aihwkit simulates): in each slot t < BL_b of sample b, column j fires with probability
p_bj and row i with probability q_bi, independently; element (i, j) receives a pulse of sign
−sign(d_bi x_bj) where both fire. All the elements of a row share its bits, and all the elements
of a column share theirs, so counts are correlated across a row and a column (the ``moments``
kernels draw every element independently). The torch path draws the trains and counts their
coincidences with two matrix products, O(B·BL·in·out); this kernel draws the B·BL·(in + out) bits,
lists the firing columns of each slot and, for every row that fires, adds one pulse to each listed
column of that row: O(B·BL·(in + out) + coincidences), the loop aihwkit's CPU update runs.

After the batch each row is composed by :mod:`.sparse`'s element arithmetic
(:func:`~analogsgd.crossbar.sparse.compose_row` when more than ``COMPOSE_ALL_ABOVE`` of the
row fired, else gathered into a list, :func:`~analogsgd.crossbar.sparse.compose_listed`), the
same closed-form composition, cycle-to-cycle noise and bounds as the ``moments`` kernels
(pulses of one element within a batch are composed together: their order is averaged, as on
every aggregated path).

Randomness: two 63-bit keys per update from the tile's ``torch.Generator`` (the trains, the c2c
noise). The bit of column j in slot t of sample b of replica r is the top 24 bits (j even) or
bits 8–31 (j odd) of the hash of counter c = (stream << 32) + ⌊j/2⌋ + 1, stream =
2·((r·B + b)·T + t) (T the batch's largest BL), as a uniform (m + ½)/2²⁴; row i's bit takes the
top 24 bits of counter ((stream + 1) << 32) + i + 1. A slot's columns are drawn over all pairs
or, where fewer than half the columns have p > 0, over those only: the same bits either way.
The c2c Gaussian of element e is Irwin–Hall of mix64(key₂ + (e + 1)·γ), as in the other
kernels. Same seed → same numbers; they differ from the torch path's (another draw of the
same process).
"""

from __future__ import annotations

import numpy as np
from torch import Tensor

from ..devices.variation import DeviceArray
from . import fused, sparse


def apply_trains(w: Tensor, x: Tensor, d: Tensor, p: Tensor, q: Tensor, bl: Tensor,
                 devices: DeviceArray, keys, cache: dict | None = None) -> Tensor:
    """w' after the coincidences of one batch's bit trains (x, d with their probabilities p, q
    and BL); ``keys``: (trains, c2c noise). Shapes and in-place update as for
    :func:`~analogsgd.crossbar.sparse.apply_sparse`, which runs this kernel."""
    return sparse.apply_sparse(w, x, d, p, q, bl, devices, keys, cache, kernel=_trains_kernel)


def update_trains(w: Tensor, x: Tensor, d: Tensor, lr: float, dw_min: float, desired_bl: int,
                  um_grad_scale: float, devices: DeviceArray, keys,
                  cache: dict | None = None) -> bool:
    """The probabilities of :func:`~analogsgd.crossbar.fast_probabilities.probabilities` and
    :func:`apply_trains` in one compiled call, ``w`` updated in place; False (``w`` untouched)
    when x or d is not finite. Requires :func:`~analogsgd.crossbar.sparse.fuses` (x, d, w)."""
    return sparse.update_sparse(w, x, d, lr, dw_min, desired_bl, um_grad_scale, devices, keys,
                                cache, kernel=_fused_trains_kernel)


if fused.NUMBA_AVAILABLE:
    import numba

    from .fused import _GAMMA, as_like, mix, unpack
    from .sparse import (
        _DOWN,
        _LOW24,
        _S8,
        _S32,
        _S40,
        _UP,
        WARM_COLUMNS,
        active_columns,
        batch_probabilities,
        compose_fired,
        list_buffers,
        uniform24,
        warm_columns,
    )

    njit = numba.njit(cache=True, nogil=True, error_model="numpy")

    @njit
    def column_train(base, p_b, active, n_active, cols, k):
        # the columns that fire in one slot (Bernoulli(p_bj)), listed in cols; returns their
        # number. Column j's uniform: half j % 2 of the hash of pair j // 2
        in_size = p_b.size
        n = 0
        if 2 * n_active >= in_size:
            half = in_size // 2
            for m in range(half):
                h = mix(base + np.uint64(m + 1) * _GAMMA)
                j = 2 * m
                cols[n] = j
                n += 1 if uniform24(h >> _S40, k) < p_b[j] else 0
                cols[n] = j + 1
                n += 1 if uniform24((h >> _S8) & _LOW24, k) < p_b[j + 1] else 0
            if in_size % 2:
                h = mix(base + np.uint64(half + 1) * _GAMMA)
                cols[n] = in_size - 1
                n += 1 if uniform24(h >> _S40, k) < p_b[in_size - 1] else 0
            return n
        for a in range(n_active):
            j = active[a]
            h = mix(base + np.uint64(j // 2 + 1) * _GAMMA)
            bits = (h >> _S40) if j % 2 == 0 else ((h >> _S8) & _LOW24)
            cols[n] = j
            n += 1 if uniform24(bits, k) < p_b[j] else 0
        return n

    @njit
    def trains_kernel(w, p, x, q, d, bl, dev_rows, dev_t, c2c, l_max, keys, family, clip, cst,
                      vector_above, all_above):
        # w (R·out·in,); p, x (R, B, in); q, d (R, B, out); bl (R, B). Per replica: the column
        # trains of every (sample, slot) listed first, then row by row the row's bits, its
        # coincidences into one row of counts (the touched columns listed as they are first
        # hit), and its composition. Returns a sum of the warmed elements (so that the warm-up
        # loads are kept). (vector_above: unused, the arguments are sparse.py's.)
        replicas, batch, in_size = p.shape
        out_size = q.shape[2]
        key, key_noise = keys[0], keys[1]
        k = unpack(cst)
        c2c_k = as_like(c2c, k[1])
        slots_max = 0
        for r in range(replicas):
            for b in range(batch):
                slots_max = max(slots_max, int(bl[r, b]))
        warm = 0.0
        if slots_max == 0:
            return warm
        active = np.empty((batch, in_size), dtype=np.int64)
        n_active = np.zeros(batch, dtype=np.int64)
        p_max = np.zeros(batch)
        cols = np.empty((batch, slots_max, in_size + 1), dtype=np.int32)
        n_cols = np.zeros((batch, slots_max), dtype=np.int64)
        counts = np.zeros(in_size, dtype=np.int64)
        touched = np.empty(in_size + 1, dtype=np.int64)
        buffers = list_buffers(in_size, w, dev_t)
        for r in range(replicas):
            active_columns(p[r], active, n_active, p_max)
            for b in range(batch):
                for t in range(int(bl[r, b])):
                    stream = np.uint64(2 * ((r * batch + b) * slots_max + t))
                    n_cols[b, t] = column_train(key + (stream << _S32) * _GAMMA, p[r, b],
                                                active[b], n_active[b], cols[b, t], k)
            if n_active.sum() <= WARM_COLUMNS:
                warm += warm_columns(w, dev_t, active, n_active, r * out_size * in_size,
                                     out_size, in_size)
            for i in range(out_size):
                row = (r * out_size + i) * in_size
                fired = 0
                n_touched = 0
                for b in range(batch):
                    q_bi = q[r, b, i]
                    if q_bi <= 0.0:
                        continue
                    x_b = x[r, b]
                    d_neg = d[r, b, i] < 0.0
                    up_pos = _UP if d_neg else _DOWN   # a pulse on a column with x ≥ 0
                    up_neg = _DOWN if d_neg else _UP
                    for t in range(int(bl[r, b])):
                        n = n_cols[b, t]
                        if n == 0:
                            continue
                        stream = np.uint64(2 * ((r * batch + b) * slots_max + t) + 1)
                        h = mix(key + ((stream << _S32) + np.uint64(i + 1)) * _GAMMA)
                        if uniform24(h >> _S40, k) >= q_bi:
                            continue
                        c_bt = cols[b, t]
                        for s in range(n):
                            j = c_bt[s]
                            touched[n_touched] = j
                            n_touched += 1 if counts[j] == 0 else 0
                            counts[j] += up_neg if x_b[j] < 0.0 else up_pos
                        fired += n
                if fired > 0:
                    compose_fired(w, row, counts, touched, n_touched, fired, all_above,
                                  dev_rows[r * out_size + i], dev_t, c2c_k, l_max, key_noise,
                                  family, clip, k, buffers)
        return warm

    @njit
    def fused_trains_kernel(x, d, lr, dw_min, desired_bl, g, one, w, dev_rows, dev_t, c2c, l_max,
                            keys, family, clip, cst, vector_above, all_above):
        # fast_probabilities' pass, then (if x and d are finite) the bit-train kernel; returns
        # (finite, the kernel's warm-up sum)
        finite, p, q, bl = batch_probabilities(x, d, lr, dw_min, desired_bl, g, one)
        warm = 0.0
        if finite:
            warm = trains_kernel(w, p, x, q, d, bl, dev_rows, dev_t, c2c, l_max, keys, family,
                                 clip, cst, vector_above, all_above)
        return finite, warm

    _trains_kernel, _fused_trains_kernel = trains_kernel, fused_trains_kernel
else:
    _trains_kernel = _fused_trains_kernel = None
