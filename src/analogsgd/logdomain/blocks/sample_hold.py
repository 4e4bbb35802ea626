"""Sample-and-hold input DACs: sign-magnitude current DACs held for one sample time T.

A value ``x`` in ``[−x_fs, x_fs]`` is coded as a sign and a ``(bits − 1)``-bit magnitude,
``|x| ≈ m·LSB`` with ``LSB = x_fs/2^{bits−1}`` and ``m`` rounded to nearest and clipped. The
magnitude is the sum of binary-weighted unit sources, ``I = I_u/LSB·Σ_k b_k 2^k LSB (1+ε_k)``,
where a ``2^k`` source is ``2^k`` unit devices so ``σ(ε_k) = σ_unit/√(2^k)``. The sign steers the
magnitude to ``I⁺`` or ``I⁻``; both halves carry a quiescent ``I_q`` (class-B plus floor), so
``(I⁺ − I⁻)/I_u = x_q`` and the product's cross terms cancel in the four-quadrant combination.
"""

from __future__ import annotations

import numpy as np


def transistors(bits: int) -> int:
    """(bits−1) sources + (bits−1) switches + 2 sign steering + 2 quiescent + 1 hold switch."""
    return 2 * (bits - 1) + 5


def quantise(x, bits: int, full_scale: float):
    """Sign-magnitude quantisation to ``bits`` bits over ±full_scale; returns (x_q, clipped mask)."""
    x = np.asarray(x, dtype=float)
    lsb = full_scale / 2 ** (bits - 1)
    m = np.rint(np.abs(x) / lsb)
    top = 2 ** (bits - 1) - 1
    clipped = m > top
    m = np.minimum(m, top)
    return np.sign(x) * m * lsb, clipped


def magnitude_codes(x, bits: int, full_scale: float):
    """Integer magnitude codes and signs of ``x`` (clipped)."""
    x = np.asarray(x, dtype=float)
    lsb = full_scale / 2 ** (bits - 1)
    m = np.minimum(np.rint(np.abs(x) / lsb), 2 ** (bits - 1) - 1).astype(np.int64)
    return m, np.sign(x)


def bit_errors(sigma_unit: float, bits: int, shape, rng: np.random.Generator) -> np.ndarray:
    """Relative errors ε_k of the (bits−1) binary-weighted sources, shape ``shape + (bits−1,)``."""
    k = np.arange(bits - 1)
    return rng.normal(size=tuple(shape) + (bits - 1,)) * (sigma_unit / np.sqrt(2.0 ** k))


def dac_currents(x, bits: int, full_scale: float, i_u: float, i_q: float, errors=None):
    """(I⁺, I⁻) of the held DAC output for values ``x`` (A).

    ``errors`` (broadcastable to ``x.shape + (bits−1,)``) are the per-bit relative errors; None
    gives the ideal DAC.
    """
    m, sign = magnitude_codes(x, bits, full_scale)
    lsb = full_scale / 2 ** (bits - 1)
    if errors is None:
        mag = m * lsb
    else:
        k = np.arange(bits - 1)
        bit_on = (m[..., None] >> k) & 1
        mag = lsb * (bit_on * (2.0 ** k) * (1.0 + errors)).sum(-1)
    pos = np.where(sign > 0, mag, 0.0)
    neg = np.where(sign < 0, mag, 0.0)
    return i_u * pos + i_q, i_u * neg + i_q
