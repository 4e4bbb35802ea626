"""The first read of :func:`~analogsgd.crossbar.periphery.analog_mvm` in two compiled passes.

A read through the periphery is about twenty small torch operations (noise management, DAC,
ADC, saturation test, de-normalisation); at batch 1 to 10 their dispatch costs several times
their arithmetic. :func:`first_read` does the element-wise stages in two numba passes around
the two things torch keeps doing, the matrix product and the draws:

1. ``pre_kernel``: stage 1 (s_b = max_j |x_bj| / b_in, 1 in place of 0, the all-zero rows
   marked) and stages 2–3 (x / s, the DAC's rounding and clipping);
2. torch: the input noise (σ_in > 0), x̂ Wᵀ, the weight noise (σ_w > 0) and the output noise
   ξ, drawn from the tile's generator in the order and shapes of the torch path (ξ into a
   scratch array that a tile keeps between reads, with ``normal_``: ``torch.randn``'s numbers);
3. ``post_kernel``: stage 6 (ỹ + σ_out ξ), the ADC's rounding, the per-sample saturation
   flags, its clipping and stage 8 (times s_b, 0 for an all-zero row).

Every float operation is the torch path's, in its order and type (IEEE division, rounding half
to even, no fused multiply-add), so the read is bit for bit the torch path's; the tests compare
them over every :class:`~analogsgd.crossbar.periphery.IOConfig` switch. The saturated samples'
re-reads of iterative bound management stay in torch. Used for CPU float32/float64 reads of
one matrix (x (B, in), w (out, in)) of finite inputs; everything else, and machines without
numba, takes the torch path.
"""

from __future__ import annotations

import contextlib
import functools

import numpy as np
import torch
from torch import Tensor

from . import fast_probabilities, fused, periphery


def supports(x: Tensor, w: Tensor) -> bool:
    """True for a CPU float32/float64 read of a contiguous batch x (B, in) through one matrix
    w (out, in) of x's dtype, with numba (x's layout decides the product's, which must be the
    torch path's)."""
    return (fused.NUMBA_AVAILABLE and x.dim() == 2 and w.dim() == 2 and x.dtype == w.dtype
            and x.dtype in (torch.float32, torch.float64) and x.device.type == "cpu"
            and w.device.type == "cpu" and x.is_contiguous())


@functools.lru_cache(maxsize=256)
def read_constants(io, dtype: torch.dtype) -> tuple:
    """(managed, the pre-kernel's constants, the post-kernel's constants, whether the product
    is a plain x̂ Wᵀ (no input or weight noise)) of ``io`` in ``dtype``, derived once."""
    cast = fast_probabilities.cast_to(dtype)
    plan = periphery._plan(io)
    f = plan.factors
    managed = io.noise_management != "none"
    pre = (managed, cast(f.inp_bound), cast(f.inp_step), cast(io.inp_bound), io.inp_bits > 0,
           io.inp_bound != 1.0, cast(1.0))
    post = (io.out_noise > 0.0, cast(f.out_noise), io.out_bits > 0, cast(f.out_step),
            plan.bounded, cast(io.out_bound), plan.full_scale, managed)
    return managed, pre, post, io.inp_noise == 0.0 and io.w_noise == 0.0


def first_read(x: Tensor, wt: Tensor, io, plan, generator: torch.Generator, zero_rows: bool,
               kept: dict | None = None):
    """(y, s, saturated) of the first read of x through ``io`` (``plan``: its
    :func:`~analogsgd.crossbar.periphery._plan`): y the de-normalised read (B, out), saturated
    the per-sample flags (B,) or None when no sample saturated or bound management is off, and
    s, for bound management's re-reads, the noise-management scales (B, 1) (1.0 for 'none'), or
    None when saturated is None (nothing re-reads); ``zero_rows``: an all-zero row reads exactly
    0 (under noise management; without it s_b = 1 and such a row reads its noise). None, having
    drawn nothing, when x is not finite (the torch path then runs). ``kept``: a dict (the
    tile's kernel cache) that keeps the read's scratch arrays between reads (:func:`scratch`)."""
    batch = x.shape[0]
    managed, pre, post, plain = read_constants(io, x.dtype)
    xs, xs_np, s, zero, flags, noise, noise_np = scratch(kept, x, wt.shape[-1])
    if not _pre_kernel(fused._np(x), xs_np, s, zero, *pre):
        return None
    y = xs @ wt if plain else periphery.analog_product(xs, wt, io, generator)
    if post[0]:  # periphery._randn's numbers (torch.randn fills a tensor with normal_)
        noise.normal_(generator=generator)
    any_saturated = _post_kernel(y.numpy(), noise_np, *post, s, zero_rows and managed, zero,
                                 flags)
    if not (plan.iterative and any_saturated):
        return y, None, None
    return (y, (torch.from_numpy(s.copy()).reshape(batch, 1) if managed else 1.0),
            torch.from_numpy(flags.copy()))


def scratch(kept: dict | None, x: Tensor, out_size: int) -> tuple:
    """(x̂, its numpy view, s, zero flags, saturation flags, output noise ξ, its numpy view): the
    scratch arrays of a read of x (B, in) into out_size outputs, none of which outlives the read
    (y is new every time). Kept in ``kept`` under the read's widths, one set for each of a
    tile's read directions, replaced when the batch or float type changes; kept ones made
    outside inference mode, so that one made inside it can still be written outside."""
    key = ("read scratch", x.shape[-1], out_size)
    found = None if kept is None else kept.get(key)
    if found is None or found[0].shape != x.shape or found[0].dtype != x.dtype:
        batch = x.shape[0]
        with torch.inference_mode(False) if kept is not None else contextlib.nullcontext():
            xs = torch.empty(x.shape, dtype=x.dtype)
            noise = torch.empty((batch, out_size), dtype=x.dtype)
        zero, flags = np.empty((2, batch), dtype=np.bool_)  # both written for every sample
        found = (xs, xs.numpy(), np.empty(batch, dtype=xs.numpy().dtype), zero, flags, noise,
                 noise.numpy())
        if kept is not None:
            kept[key] = found
    return found


if fused.NUMBA_AVAILABLE:
    import numba

    njit = numba.njit(cache=True, nogil=True, error_model="numpy")

    @njit
    def pre_kernel(x, xs, s, zero, managed, inp_bound, inp_step, bound, quantised, divide, one):
        # stages 1–3; False (nothing written that matters) when x is not finite. Every
        # constant has x's type (``one``): a Python literal would promote float32 to float64
        batch, width = x.shape
        for b in range(batch):
            top = one - one
            for j in range(width):
                v = abs(x[b, j])
                if not np.isfinite(v):
                    return False
                top = max(top, v)
            scale = top / inp_bound if divide else top
            zero[b] = scale == 0
            scale = scale if scale != 0 else one
            s[b] = scale
            for j in range(width):
                v = x[b, j] / scale if managed else x[b, j]
                if quantised:
                    v = np.rint(v / inp_step) * inp_step
                xs[b, j] = min(max(v, -bound), bound)
        return True

    @njit
    def post_kernel(y, noise, noisy, sigma, quantised, step, bounded, bound, full_scale,
                    scaled, s, zero_rows, zero, flags):
        # stages 6–8 in place; flags[b]: sample b saturated (an all-zero row never does);
        # returns whether any did
        batch, width = y.shape
        any_saturated = False
        for b in range(batch):
            hit = False
            is_zero = zero_rows and zero[b]
            for j in range(width):
                v = y[b, j]
                if noisy:
                    v = v + noise[b, j] * sigma
                if quantised:
                    v = np.rint(v / step) * step
                if bounded:
                    a = abs(v)
                    hit |= (a >= bound) if full_scale else (a > bound)
                    v = min(max(v, -bound), bound)
                if scaled:
                    v = v * s[b]
                if is_zero:  # masked_fill's +0
                    y[b, j] = 0
                else:
                    y[b, j] = v
            flags[b] = hit and not is_zero
            any_saturated |= flags[b]
        return any_saturated

    _pre_kernel, _post_kernel = pre_kernel, post_kernel
