"""One column of a source tile read through a periphery and written onto a destination tile, in
one compiled call: the transfer of Tiki-Taka (C ← C + α A[:, j] e_jᵀ) without its Python.

The general transfer (:func:`analogsgd.optim.transfer.read_columns` then
:func:`~analogsgd.optim.transfer.write_columns`) reads y = e_j Aᵀ through the transfer periphery
(:func:`~analogsgd.crossbar.periphery.analog_mvm`: for a one-hot input without input noise
only column j of A, x̂ = DAC(1) times A[:, j]) and then updates C with x = e_j, d = −y. At batch 1
that is about 150 µs, mostly Python around small tensors, for about 30 µs of arithmetic. Here
the same stages run in one numba call (:func:`transfer_column`): the DAC stage and the ADC stages
of :mod:`.fast_periphery` on the column, then the probabilities and the pulsed write of
:func:`~analogsgd.crossbar.sparse.update_sparse` (``moments``) or
:func:`~analogsgd.crossbar.trains.update_trains` (``bit_trains``). The random numbers are drawn
as there and in the same order (the read's output noise from the source tile's generator, then
the write's two keys from the destination's), so the weights are the general path's, bit for
bit (``tests/test_column_transfer.py``).

It applies where the general path would take those compiled calls, the read is one pass (no
input or weight noise, no iterative bound management, not perfect), neither tile has replicas,
and the source's reference is zero; elsewhere :func:`transfer_column` returns False having drawn
nothing, and the caller takes the general path.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from . import fast_periphery, fast_probabilities, fused, sparse
from .periphery import IOConfig
from .replicas import check_lr
from .tile import NUMBA_PATHS, _check_finite, auto_kernel


def _one_pass(io: IOConfig) -> bool:
    return (not io.is_perfect and io.inp_noise == 0.0 and io.w_noise == 0.0
            and io.bound_management != "iterative")


class _Plan(NamedTuple):
    """What a transfer between two tiles through one periphery needs besides the column, the
    rate and the draws (:func:`_plan`)."""

    kind: str           #: the write's compiled kernel: 'sparse' or 'trains'
    y: Tensor           #: (1, out): the read, then d = −read
    noise: Tensor       #: (1, out): the read's output noise, drawn into it (y's when not noisy)
    arrays: tuple       #: numpy views: (source conductance, noise, y, x (1, in) zeros, the
                        #: one-hot input, set and cleared by the kernel)
    read: tuple         #: the read's kernel constants (fast_periphery.read_constants)
    noisy: bool         #: the read draws output noise
    write: tuple        #: (Δw_min, desired BL, um_grad_scale) in the tiles' float type, and
                        #: whether the write is the bit-train kernel
    cast: type          #: the tiles' float type, for the rate


def _plan(source, dest, io: IOConfig, lr: float) -> _Plan | None:
    """The transfer plan of (source, dest, io), or None where this path does not apply; cached
    on the destination for as long as the tiles' arrays, the destination's config and device
    array, the source's reference (and its version), ``io`` and the process's kernel choice
    are the same objects (each check is one ``is``)."""
    ref = source.devices.reference
    key = (source.conductance, dest.conductance, dest.config, dest.devices, ref, io,
           auto_kernel())
    known = dest._fused_cache.get("transfer")
    if (known is not None and known[1] == ref._version
            and all(a is b for a, b in zip(known[0], key, strict=True))):
        return known[2]
    plan = None
    if (fused.NUMBA_AVAILABLE and _one_pass(io) and len(source.shape) == 2
            and source.shape == dest.shape and source.conductance.is_contiguous()
            and dest.conductance.is_contiguous() and fused.cpu_floats(source.conductance)
            and source.conductance.dtype == dest.conductance.dtype
            and source.generator.device.type == "cpu" and source._reference_is_zero()):
        out_size, in_size = dest.shape
        dtype = dest.conductance.dtype
        x = torch.zeros(1, in_size, dtype=dtype)
        y = torch.empty(1, out_size, dtype=dtype)
        kind = dest._choose_path(x, y, lr).fused
        if kind is not None:
            cast = fast_probabilities.cast_to(dtype)
            cfg = dest.config.update
            _, pre, post, _ = fast_periphery.read_constants(io, dtype)
            noise = torch.empty_like(y) if post[0] else y
            plan = _Plan(kind, y, noise, (fused._np(source.conductance), noise.numpy(),
                                          y.numpy(), x.numpy()),
                         pre + post, post[0],
                         (cast(dest.devices.device.granularity), cast(cfg.desired_bl),
                          cast(cfg.um_grad_scale), kind == "trains"), cast)
    dest._fused_cache["transfer"] = (key, ref._version, plan)
    return plan


def transfer_column(source, dest, column: int, io: IOConfig, lr: float) -> bool:
    """Read column ``column`` of ``source`` (an :class:`~analogsgd.crossbar.AnalogTile`)
    through ``io`` and write it onto ``dest`` at rate ``lr`` (dest's pulsed update with
    x = e_column, d = −read), as the general transfer does; True when done, False (nothing
    drawn, nothing changed) where this path does not apply."""
    if isinstance(lr, Tensor) or source.conductance.requires_grad:
        return False
    plan = _plan(source, dest, io, lr)
    if plan is None:
        return False
    check_lr("AnalogTile.update.lr", lr)
    if plan.noisy:  # periphery._randn's numbers (torch.randn fills a tensor with normal_)
        plan.noise.normal_(generator=source.generator)
    out, view, args = sparse._arguments(dest.conductance, dest.devices, dest._sparse_keys(),
                                        dest._fused_cache)
    dest._set_path(NUMBA_PATHS[plan.kind])
    w_src, noise, y, x = plan.arrays
    finite = _transfer_kernel(w_src, column, noise, y, x, *plan.read, plan.cast(lr), *plan.write,
                              view, *args)
    if not finite:
        _check_finite("AnalogTile.update", d=plan.y)
    torch.autograd.graph.increment_version(out)
    return True


if fused.NUMBA_AVAILABLE:
    import numba

    from .fast_periphery import post_kernel, pre_kernel
    from .sparse import fused_kernel
    from .trains import fused_trains_kernel

    njit = numba.njit(cache=True, nogil=True, error_model="numpy")

    @njit
    def transfer_kernel(w_src, column, noise, y, x, managed, inp_bound, inp_step, bound,
                        quantised_in, divide, one, noisy, sigma, quantised_out, out_step, bounded,
                        out_bound, full_scale, scaled, lr, dw_min, desired_bl, g, bit_trains, w,
                        dev_rows, dev_t, c2c, l_max, keys, family, clip, cst, vector_above,
                        all_above):
        # the read of column ``column`` (fast_periphery's stages 1–3 on the one-hot input's
        # entry 1, the product, stages 6–8; y (1, out) ends as −read), then the write with
        # x (1, in) = e_column (x: zeros, set here and cleared after), d = y; returns whether
        # the read was finite
        unit = np.ones((1, 1), dtype=x.dtype)
        xs = np.empty_like(unit)
        s = np.empty(1, dtype=x.dtype)
        zero = np.zeros(1, dtype=np.bool_)
        pre_kernel(unit, xs, s, zero, managed, inp_bound, inp_step, bound, quantised_in, divide,
                   one)
        scale = xs[0, 0]
        for i in range(y.shape[1]):
            y[0, i] = scale * w_src[i, column]
        flags = np.zeros(1, dtype=np.bool_)
        post_kernel(y, noise, noisy, sigma, quantised_out, out_step, bounded, out_bound,
                    full_scale, scaled, s, scaled, zero, flags)
        for i in range(y.shape[1]):
            y[0, i] = -y[0, i]
        x[0, column] = one
        x3 = x.reshape(1, 1, x.shape[1])
        d3 = y.reshape(1, 1, y.shape[1])
        if bit_trains:
            finite, _ = fused_trains_kernel(x3, d3, lr, dw_min, desired_bl, g, one, w, dev_rows,
                                            dev_t, c2c, l_max, keys, family, clip, cst,
                                            vector_above, all_above)
        else:
            finite, _ = fused_kernel(x3, d3, lr, dw_min, desired_bl, g, one, w, dev_rows, dev_t,
                                     c2c, l_max, keys, family, clip, cst, vector_above,
                                     all_above)
        x[0, column] = one - one
        return finite

    _transfer_kernel = transfer_kernel
