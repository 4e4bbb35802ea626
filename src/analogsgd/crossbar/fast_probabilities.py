"""Pulse probabilities, finiteness check and the sparse kernel's cost in one numba pass.

:func:`~analogsgd.crossbar.pulse_trains.pulse_probabilities` is about twenty-five small torch
operations; at batch 1 their dispatch costs more than the arithmetic. :func:`probabilities`
computes the same p, q and BL, operation for operation in the tile's float type, for the tile's
default settings (bit-length and update management, ``um_clip="aihwkit"``, one learning rate
for all replicas); the sparse kernel's updates use it. The numbers agree with torch's to a few
units in the last place, not bit for bit: torch's float32 square root on this CPU
(vectorised, not correctly rounded) differs from the correctly rounded one in about one value
of six by one ulp, and torch divides a number by a tensor through its reciprocal; the tests
check agreement within 4 ulp. The dense kernel keeps taking its probabilities from torch, so
its numbers are those of earlier versions.

In the same pass it tells whether x and d are finite (the tile's argument check) and the
sparse kernel's expected work (:func:`~analogsgd.crossbar.sparse.expected_work`, in float64
here: that number only chooses a kernel).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from . import fused


def supports(x: Tensor, d: Tensor, lr, bl_management: bool, update_management: bool,
             um_clip: str) -> bool:
    """True where :func:`probabilities` applies (numba, CPU float32/64 tensors of one dtype
    with matching leading dimensions, the default management, one learning rate)."""
    return (fused.NUMBA_AVAILABLE and bl_management and update_management and um_clip == "aihwkit"
            and not isinstance(lr, Tensor) and x.device.type == "cpu" and d.device.type == "cpu"
            and x.dtype == d.dtype and x.dtype in (torch.float32, torch.float64)
            and x.shape[:-1] == d.shape[:-1] and not x.requires_grad and not d.requires_grad)


def cast_to(dtype: torch.dtype):
    """The numpy scalar type of the kernel's arithmetic for tensors of ``dtype``."""
    return np.float32 if dtype == torch.float32 else np.float64


def probabilities(x: Tensor, d: Tensor, lr: float, dw_min: float, desired_bl: int,
                  um_grad_scale: float) -> tuple[Tensor, Tensor, Tensor, bool, float]:
    """(p, q, BL, finite, expected work of the sparse kernel) of ``pulse_probabilities(x, d, lr, dw_min,
    desired_bl, True, True, um_grad_scale)``; p, q and BL are only meaningful when finite."""
    xs = x.detach().contiguous()
    ds = d.detach().contiguous()
    p = torch.empty_like(xs)
    q = torch.empty_like(ds)
    bl = torch.empty(xs.shape[:-1] + (1,), dtype=xs.dtype)
    cast = cast_to(xs.dtype)
    finite, work = _kernel(
        xs.numpy().reshape(-1, xs.shape[-1]), ds.numpy().reshape(-1, ds.shape[-1]),
        cast(lr), cast(dw_min), cast(desired_bl), cast(um_grad_scale), cast(1.0),
        p.numpy().reshape(-1, xs.shape[-1]), q.numpy().reshape(-1, ds.shape[-1]),
        bl.numpy().reshape(-1))
    return p, q, bl, bool(finite), float(work)


if fused.NUMBA_AVAILABLE:
    import numba

    inline = numba.njit(inline="always", cache=True, error_model="numpy")

    @inline
    def abs_max(row, zero):
        # (max |v| over the row, all finite)
        top = zero
        finite = True
        for v in row:
            a = abs(v)
            finite &= np.isfinite(a)
            top = max(top, a)
        return top, finite

    @inline
    def scaled(row, scale, out, one):
        # out = min(scale |row|, 1); returns (entries > 0, their sum, their largest) in float64
        active = 0
        total = 0.0
        top = 0.0
        for j in range(row.size):
            v = min(scale * abs(row[j]), one)
            out[j] = v
            active += 1 if v > 0.0 else 0
            total += v
            top = max(top, float(v))
        return active, total, top

    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def probabilities_kernel(x, d, lr, dw_min, desired_bl, g, one, p, q, bl):
        # per sample (row): pulse_trains.pulse_probabilities with bl_management,
        # update_management, um_clip="aihwkit" (``one``: 1 in the arithmetic type)
        zero = one - one
        finite = True
        work = 0.0
        for s in range(x.shape[0]):
            x_max, x_ok = abs_max(x[s], zero)
            d_max, d_ok = abs_max(d[s], zero)
            finite &= x_ok and d_ok
            d_val = g * d_max
            k = lr * x_max * d_val / dw_min
            b_len = min(max(np.ceil(k), one), desired_bl)
            base = np.sqrt(lr / (dw_min * b_len))
            if k > desired_bl:
                d_val = d_val * (desired_bl / max(k, desired_bl))
            safe_x = x_max if x_max > zero else one
            safe_d = d_val if d_val > zero else one
            ratio = np.sqrt(safe_d / safe_x)
            bl[s] = b_len if (x_max > zero and d_max > zero) else zero
            active, _, top_p = scaled(x[s], base * ratio, p[s], one)
            rows, sum_q, _ = scaled(d[s], base / ratio, q[s], one)
            work += float(bl[s]) * sum_q * top_p * active   # candidates
            work += rows if (bl[s] > zero and active > 0) else 0  # passes
        return finite, work

    _kernel = probabilities_kernel
