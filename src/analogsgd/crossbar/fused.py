"""Fused pulsed update: batch moments → pulse counts → device composition → c2c noise → bounds.

The torch path of a pulsed ``moments`` update (:func:`~analogsgd.crossbar.pulse_trains.count_moments`
then :meth:`~analogsgd.devices.variation.DeviceArray.apply_pulses`) makes about a hundred
element-wise passes over the weight matrix and five full-size random draws. This module does the
same arithmetic per element in one numba loop, for every device whose pulses compose in one of
the two closed forms of :mod:`analogsgd.devices.composition` (the device says so through
:meth:`~analogsgd.devices.base.AbstractDevice.linear_step_constants`: soft bounds / ALD, c_Lin,
constant step, ideal), and, in :mod:`.fused_steps`, for the families that state their one-pulse
response instead (:meth:`~analogsgd.devices.base.AbstractDevice.step_kernel_constants`: power
step, exp step): :data:`POWER_STEP` and :data:`EXP_STEP` compose up to 8 pulses one by one with
the device's response arithmetic and more as an RK4 flow with the Euler chain's
modified-equation correction (error against the pulse-by-pulse chain measured below 1.5 % of
a step for γ ≥ 1; see that module). Up and down pulses of one element are order-averaged, as
the torch path's flow is. Every other family, and every machine without numba, runs the torch
path. The kernel knows no device type: it reads the constants (a±, or step±, τ and γ±) and the
form (:data:`LINEAR_STEP`, :data:`CONSTANT_STEP`, :data:`POWER_STEP`, :data:`EXP_STEP`).
This is the *dense* kernel: it visits every element. The sparse kernel (:mod:`.sparse`), which
draws only the coincidences of a batch, composes with this module's ``element`` and draws its
dense rows with ``moments_kernel``.

Randomness. Drawing one torch random number per element costs about 4 ns (the CPU generator is
a Mersenne twister), about as much as the whole fused element. The fused path therefore draws
**one** 63-bit key per update from the tile's ``torch.Generator`` and derives the per-element
numbers from it with a counter-based generator: ``h_c = mix64(key + c·γ)`` with the SplitMix64
finaliser ``mix64`` (Steele, Lea & Flood, OOPSLA 2014; the generator of Java's
``SplittableRandom``), γ = 0x9E3779B97F4A7C15 and counters c = 4e + 1 … 4e + 4 for flat element
index e. Same seed → same key → same numbers, whatever the order in which elements are visited
(the sparse and dense kernels agree number for number). Per element:

* ``h₁``, ``h₂``, ``h₃`` → Gaussians z₊, z₋ (count draws) and z_c2c, each by Irwin–Hall: the sum of
  the four 16-bit uniforms (k + ½)/2¹⁶ of one hash, centred and scaled by √3;
* ``h₄`` → uniforms u₊ (bits 8–31) and u₋ (bits 40–63), (k + ½)/2²⁴ (exact in float32, never 0
  or 1; stochastic rounding unbiased to 2⁻²⁵).

Irwin–Hall was chosen over Box–Muller and an inverse-CDF table because it vectorises (no log,
sin or gather; a gather or libm call stops LLVM from vectorising the whole loop, which then runs
about 8× slower). Its numbers have mean 0 and variance 1 − 2⁻³² exactly, no skew, but excess
kurtosis −0.3 and support ±√12 = ±3.46σ (a normal has 0.06 % of its mass beyond). Both draws it
feeds are moment-matched approximations already (the Gaussian-plus-rounding draw of the
Poisson–binomial counts, and the summed per-pulse c2c noise): means and variances are kept
exactly, the fourth moment of the noise is not. The torch path keeps ``torch.randn``.

The torch path keeps drawing ``torch.randn``/``torch.rand`` from the same generator: the two
paths agree in distribution, not number by number. Given the same random inputs
(:func:`counter_randoms` yields the fused path's), :func:`apply_moments_torch` reproduces the
fused result to float rounding; the tests check this. Kernels compute in the tile's float type
(float32 tiles in float32, as the torch path does). For the pulse-by-pulse families the torch
path is the generic RK4 flow of the counts (``compose_pulses``), 0.02–0.19 steps from the pulse
chain that the kernel follows, so there the two paths agree in distribution up to that
(tests/test_fused_step_families.py).

Elements without pulses keep their conductance (it is inside the bounds already: every write
clips). Rows or columns whose pulse probability is zero (e.g. the one-hot column reads of a
Tiki-Taka transfer) are skipped without being visited.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..devices.base import AbstractDevice
from ..devices.variation import DeviceArray
from . import _kernel_cache
from .pulse_trains import PIECES

if PIECES != 3:  # the kernel's count draw below is unrolled for three pieces
    raise ImportError(f"analogsgd.crossbar.fused is written for PIECES = 3, not {PIECES}")

log = logging.getLogger(__name__)

try:  # optional extra ``analogsgd[fast]``
    if os.environ.get("ANALOGSGD_DISABLE_NUMBA", "") not in ("", "0"):
        raise ImportError("disabled by ANALOGSGD_DISABLE_NUMBA")
    import numba
    import numba.extending

    NUMBA_AVAILABLE = True
except ImportError:  # pragma: no cover - exercised on machines without numba
    numba = None
    NUMBA_AVAILABLE = False

if NUMBA_AVAILABLE:  # no stale cached kernel after a helper they inline changed
    _kernel_cache.refresh(Path(__file__).resolve().parent)

#: the kernel's forms (its ``family`` argument): relative steps toward the bounds (linear
#: step) and absolute steps (constant step), as :class:`LinearStepConstants.relative` says, and
#: the pulse-by-pulse families of :mod:`.fused_steps` (the forms of ``StepResponseConstants``)
LINEAR_STEP, CONSTANT_STEP, POWER_STEP, EXP_STEP = 0, 1, 2, 3
_STEP_FORMS = {"power": POWER_STEP, "exp": EXP_STEP}

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_S16, _S32 = np.uint64(16), np.uint64(32)
_LOW16 = np.uint64(0xFFFF)
_ONE, _TWO = np.uint64(1), np.uint64(2)
_S48 = np.uint64(48)
_S40 = np.uint64(40)
_LOW16_X2 = np.uint64(0x0000FFFF0000FFFF)
_LOW32 = np.uint64(0xFFFFFFFF)
_THREE = np.uint64(3)
_FOUR_GAMMA = np.uint64((4 * 0x9E3779B97F4A7C15) % 2**64)
_INV32 = 1.0 / 4294967296.0
_INV16 = 1.0 / 65536.0
_SQRT3 = math.sqrt(3.0)


#: kernel_form of the devices asked lately, by id (with the device, so that a reused id is
#: told apart): a device is a frozen dataclass, its form cannot change; about 1.5 µs saved a call
_FORMS: dict[int, tuple[AbstractDevice, int | None]] = {}


def kernel_form(device: AbstractDevice) -> int | None:
    """:data:`LINEAR_STEP` or :data:`CONSTANT_STEP` for a device with closed-form composition
    constants (asked of the device at its nominal step and bounds), :data:`POWER_STEP` or
    :data:`EXP_STEP` for one that states its one-pulse response
    (:meth:`~analogsgd.devices.base.AbstractDevice.step_kernel_constants`), None otherwise."""
    known = _FORMS.get(id(device))
    if known is not None and known[0] is device:
        return known[1]
    if len(_FORMS) > 256:
        _FORMS.clear()
    form = _kernel_form(device)
    _FORMS[id(device)] = (device, form)
    return form


def _kernel_form(device: AbstractDevice) -> int | None:
    constants = device.linear_step_constants(device.dw_min, device.dw_min, device.tau_min, device.tau_max)
    if constants is not None:
        return LINEAR_STEP if constants.relative else CONSTANT_STEP
    response = device.step_kernel_constants()
    return None if response is None else _STEP_FORMS.get(response.form)


def supports_devices(devices: DeviceArray) -> bool:
    """True when numba imports, the device states closed-form composition constants or a
    one-pulse response (:func:`kernel_form`) and its d2d tensors have one shape (the tile
    checks the conductance's shape and :func:`cpu_floats` of its tensors)."""
    if not NUMBA_AVAILABLE or kernel_form(devices.device) is None:
        return False
    shape = devices.gain_up.shape
    return devices.gain_down.shape == devices.tau_min.shape == devices.tau_max.shape == shape


_FLOATS = (torch.float32, torch.float64)


def cpu_floats(*tensors: Tensor) -> bool:
    """Whether every tensor is a CPU float32/float64 tensor that requires no gradient."""
    for t in tensors:
        if t.device.type != "cpu" or t.dtype not in _FLOATS or t.requires_grad:
            return False
    return True


def draw_key(generator: torch.Generator) -> int:
    """One 63-bit key from the tile's generator: the seed of one update's counter-based draws."""
    return int(torch.empty(1, dtype=torch.int64).random_(generator=generator).item())


# -- per-device constants, cached per tile -----------------------------------------------------
def device_constants(devices: DeviceArray, dtype: torch.dtype, cache: dict | None = None) -> Tensor:
    """Per-element (a₊, a₋, L₊, L₋, τ_min, τ_max) stacked as (6, n), L± = −log(1 − a±).

    a± are the device's :meth:`~analogsgd.devices.base.AbstractDevice.linear_step_constants` at
    the steps Δw_min·gain± and the per-element bounds: in the linear-step form one up pulse at w
    moves by a₊(τ_max − w), one down pulse by a₋(w − τ_min); in the constant-step form a± are
    the steps themselves. Recomputed only when a d2d tensor was replaced or changed in place
    (its version counter), so the per-update cost is nil.
    """
    parts = (devices.gain_up, devices.gain_down, devices.tau_min, devices.tau_max)
    versions = (devices.device, dtype) + tuple(t._version for t in parts)
    if (cache is not None and cache.get("versions") == versions
            and all(a is b for a, b in zip(cache["parts"], parts, strict=True))):
        return cache["constants"]  # same tensors (held by the cache, so never reallocated)
    dev = devices.device
    step_up, step_down = dev.dw_min * devices.gain_up, dev.dw_min * devices.gain_down
    response = dev.step_kernel_constants()
    if response is not None and dev.linear_step_constants(dev.dw_min, dev.dw_min, dev.tau_min,
                                                          dev.tau_max) is None:
        # pulse-by-pulse families: (step₊, step₋, τ_min, τ_max, γ₊, γ₋)
        g_up = torch.as_tensor(response.gamma_up, dtype=step_up.dtype).expand(step_up.shape)
        g_down = torch.as_tensor(response.gamma_down, dtype=step_up.dtype).expand(step_up.shape)
        consts = torch.stack([t.expand(step_up.shape).reshape(-1) for t in
                              (step_up, step_down, devices.tau_min, devices.tau_max, g_up, g_down)]).to(dtype)
        if cache is not None:
            cache["parts"], cache["versions"], cache["constants"] = parts, versions, consts
        return consts
    constants = dev.linear_step_constants(step_up, step_down, devices.tau_min, devices.tau_max)
    if constants is None:
        raise TypeError(f"{type(dev).__name__} states no linear-step constants; check supports_devices() first")
    a_up, a_down = constants.a_up, constants.a_down
    one = 1.0 - torch.finfo(a_up.dtype).eps
    l_up = -torch.log1p(-a_up.clamp(max=one))
    l_down = -torch.log1p(-a_down.clamp(max=one))
    consts = torch.stack([t.expand(a_up.shape).reshape(-1) for t in
                          (a_up, a_down, l_up, l_down, devices.tau_min, devices.tau_max)]).to(dtype)
    if cache is not None:
        cache["parts"], cache["versions"], cache["constants"] = parts, versions, consts
    return consts


def _np(t: Tensor) -> np.ndarray:
    """A CPU tensor's data as a numpy array (a view when it is contiguous)."""
    if t.requires_grad or not t.is_contiguous():
        t = t.detach().contiguous()
    return t.numpy()


def apply_moments(w: Tensor, moments: Tensor, devices: DeviceArray, key: int,
                  cache: dict | None = None) -> Tensor:
    """Fused counts + composition + c2c + clip from the stacked batch moments; returns w'.

    ``moments`` is (4, *w.shape): m_tot, m_net, s_tot, s_net of
    :func:`~analogsgd.crossbar.pulse_trains.batch_moments`.
    """
    consts = device_constants(devices, w.dtype, cache)
    out = w.detach().clone(memory_format=torch.contiguous_format)
    family = kernel_form(devices.device)
    if family >= POWER_STEP:
        fused_steps.moments_kernel(_np(out).reshape(-1), _np(moments).reshape(4, -1), _np(consts),
                                   float(devices.dw_min_c2c), np.uint64(key), family,
                                   bool(devices.device.hard_bounds), _CONSTANTS[w.dtype],
                                   fused_steps._LOG[w.dtype])
        return out
    _moments_kernel(_np(out).reshape(-1), _np(moments).reshape(4, -1), _np(consts),
                    float(devices.dw_min_c2c), np.uint64(key),
                    kernel_form(devices.device), bool(devices.device.hard_bounds),
                    _CONSTANTS[w.dtype])
    return out


def apply_outer(w: Tensor, x: Tensor, d: Tensor, p: Tensor, q: Tensor, bl: Tensor,
                devices: DeviceArray, key: int, cache: dict | None = None) -> Tensor:
    """Batch-1 fused update visiting only elements of active rows and columns (scalar loop).

    Meant for sparse inputs (Tiki-Taka's one-hot column reads); gives the very numbers of
    :func:`apply_moments` on the same key (a batch of one has m_tot = BL q p, m_net = ±m_tot,
    s = BL p² q²), without the four matrices. Dense batch-1 inputs are faster through
    :func:`apply_moments` (vectorised).
    """
    consts = device_constants(devices, w.dtype, cache)
    out = w.detach().clone(memory_format=torch.contiguous_format)
    out_size, in_size = w.shape[-2], w.shape[-1]
    dt = w.dtype
    qb = (q * bl).reshape(-1).to(dt)
    q2b = (q.square() * bl).reshape(-1).to(dt)
    pr = p.reshape(-1, in_size)
    pp = torch.stack([pr, pr.square(), torch.sign(x).reshape(-1, in_size)], dim=1).to(dt)
    family = kernel_form(devices.device)
    if family >= POWER_STEP:
        fused_steps.outer_kernel(_np(out).reshape(-1), _np(qb), _np(q2b),
                                 _np(torch.sign(d).reshape(-1).to(dt)), _np(pp), out_size, in_size,
                                 _np(consts), float(devices.dw_min_c2c), np.uint64(key), family,
                                 bool(devices.device.hard_bounds), _CONSTANTS[w.dtype],
                                 fused_steps._LOG[w.dtype])
        return out
    _outer_kernel(_np(out).reshape(-1), _np(qb), _np(q2b), _np(torch.sign(d).reshape(-1).to(dt)),
                  _np(pp), out_size, in_size, _np(consts), float(devices.dw_min_c2c),
                  np.uint64(key), kernel_form(devices.device),
                  bool(devices.device.hard_bounds), _CONSTANTS[w.dtype])
    return out


def compose_counts(w: Tensor, n_up: Tensor, n_down: Tensor, devices: DeviceArray) -> Tensor:
    """The pulse-by-pulse families' composition alone (:mod:`.fused_steps`, no c2c, no clip)
    of given counts (shape of ``w``), in ``w``'s dtype: what the kernels do between the count
    draw and the noise."""
    family = kernel_form(devices.device)
    if family is None or family < POWER_STEP:
        raise TypeError(f"{type(devices.device).__name__} is not a pulse-by-pulse family")
    consts = device_constants(devices, w.dtype)
    out = w.detach().clone(memory_format=torch.contiguous_format)
    fused_steps.counts_kernel(_np(out).reshape(-1), _np(n_up.to(w.dtype)).reshape(-1),
                              _np(n_down.to(w.dtype)).reshape(-1), _np(consts), family,
                              _CONSTANTS[w.dtype], fused_steps._LOG[w.dtype])
    return out


# -- the same random numbers and arithmetic in torch (reference for the tests) ------------------
def counter_randoms(key: int, n: int, dtype: torch.dtype = torch.float64) -> dict[str, Tensor]:
    """The fused path's per-element random numbers for flat elements 0 … n−1 (numpy, no numba)."""
    e = np.arange(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        c = np.uint64(key) + e * _FOUR_GAMMA
        h = [_mix_np(c + np.uint64(k) * _GAMMA) for k in (1, 2, 3)] + [_mix_np(c + _FOUR_GAMMA)]

    def irwin_hall(v):
        s = sum(((v >> np.uint64(16 * i)) & _LOW16).astype(np.float64) for i in range(4))
        return ((s + 2.0) * _INV16 - 2.0) * _SQRT3

    def uniform24(v):
        return ((v >> _S40).astype(np.float64) + 0.5) * 2.0 ** -24

    def uniforms16(v):  # the four 16-bit uniforms of one hash: the extra count pieces
        return np.stack([(((v >> np.uint64(16 * i)) & _LOW16).astype(np.float64) + 0.5) * _INV16
                         for i in range(4)])

    out = {"z_up": irwin_hall(h[0]), "z_down": irwin_hall(h[1]), "z_c2c": irwin_hall(h[2]),
           "u_up": uniform24(h[3] << _S32), "u_down": uniform24(h[3]),
           "e_up": uniforms16(h[0]), "e_down": uniforms16(h[1])}
    return {name: torch.from_numpy(v).to(dtype) for name, v in out.items()}


def _mix_np(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def apply_moments_torch(w: Tensor, moments: Tensor, devices: DeviceArray,
                        randoms: dict[str, Tensor]) -> Tensor:
    """The torch path (count draw of ``count_moments`` + ``apply_pulses``) fed given randoms."""
    from .pulse_trains import draw_counts

    m_tot, m_net, s_tot, s_net = moments
    m_up, m_down = 0.5 * (m_tot - m_net), 0.5 * (m_tot + m_net)
    v_up, v_down = m_up - 0.5 * (s_tot - s_net), m_down - 0.5 * (s_tot + s_net)
    shape = w.shape

    def r(name):
        return randoms[name].reshape(shape).to(w.dtype).clone()

    def extra(name):
        return randoms[name].reshape((-1,) + tuple(shape)).to(w.dtype)

    n_up = draw_counts(m_up, v_up, r("z_up"), r("u_up"), extra("e_up"))
    n_down = draw_counts(m_down, v_down, r("z_down"), r("u_down"), extra("e_down"))
    return devices.apply_pulses(w, n_up, n_down, noise=r("z_c2c"))


# -- numba kernels -------------------------------------------------------------------------------
def _constants(dtype) -> np.ndarray:
    """The kernels' numeric constants in the arithmetic dtype (float32 tiles compute in float32,
    as the torch path does; float64 tiles in float64). Layout: see ``unpack`` below."""
    f32 = dtype == np.float32
    ln2_hi, ln2_lo = ((0.693145751953125, 1.428606765330187e-06) if f32
                      else (0.6931471803691238, 1.9082149292705877e-10))
    values = [0.5, 1.0, 0.0, math.sqrt(3.0), 2.0 ** -16, 2.0 ** -24, 1.4426950408889634, ln2_hi,
              ln2_lo, 40.0, 1e-30 if f32 else 1e-300, 2.0]
    values += [2.0 ** -32, 2.0 ** -16, 2.0 ** -8, 2.0 ** -4, 0.25, 0.5, 32.0, 16.0, 8.0, 4.0, 2.0, 1.0]
    values += [1.0 / math.factorial(k) for k in range(2, 14)]
    return np.array(values, dtype=dtype)


_CONSTANTS = {torch.float32: _constants(np.float32), torch.float64: _constants(np.float64)}


def exp_poly(r, k):
    """Taylor series of e^r on |r| ≤ ln2/2 from the constants ``k`` (numba overload below)."""
    raise NotImplementedError


def as_like(x, like):
    """``x`` converted to the float type of ``like`` (numba overload below)."""
    return type(like)(x)


# The kernels and their helpers live at module level, not in a factory function: numba keys a
# cached closure by its cell contents, and the dispatchers a closure holds pickle differently in
# every process, so a closure kernel missed the on-disk cache and recompiled in each new process.
if NUMBA_AVAILABLE:
    njit = numba.njit(cache=True, nogil=True, error_model="numpy")
    inline = numba.njit(inline="always", cache=True, error_model="numpy")

    @numba.extending.overload(as_like, inline="always")
    def _as_like(x, like):
        if like == numba.types.float32:
            return lambda x, like: np.float32(x)
        return lambda x, like: np.float64(x)

    @numba.extending.overload(exp_poly, inline="always")
    def _exp_poly(r, k):
        # degree 7 in float32 (truncation 5e-9 < eps/20), degree 13 in float64 (< 3e-16)
        return exp_poly7 if r == numba.types.float32 else exp_poly13

    def exp_poly13(r, k):
        poly = k[35]
        poly = poly * r + k[34]
        poly = poly * r + k[33]
        poly = poly * r + k[32]
        poly = poly * r + k[31]
        poly = poly * r + k[30]
        poly = poly * r + k[29]
        poly = poly * r + k[28]
        poly = poly * r + k[27]
        poly = poly * r + k[26]
        poly = poly * r + k[25]
        poly = poly * r + k[24]
        return (poly * r + k[1]) * r + k[1]

    def exp_poly7(r, k):
        poly = k[29]
        poly = poly * r + k[28]
        poly = poly * r + k[27]
        poly = poly * r + k[26]
        poly = poly * r + k[25]
        poly = poly * r + k[24]
        return (poly * r + k[1]) * r + k[1]

    @inline
    def mix(z):
        z = (z ^ (z >> _S30)) * _M1
        z = (z ^ (z >> _S27)) * _M2
        return z ^ (z >> _S31)

    @inline
    def uniform24(h, k):
        # (top 24 bits of h + ½)·2⁻²⁴: exact in float32, never 0 or 1
        return (as_like(h >> _S40, k[0]) + k[0]) * k[5]

    @inline
    def irwin_hall(h, k):
        # (Σ of the four 16-bit uniforms of h − 2)·√3: mean 0, variance 1 − 2⁻³²
        # (the four are summed as integers, two at a time in 32-bit halves: one conversion)
        pairs = (h & _LOW16_X2) + ((h >> _S16) & _LOW16_X2)
        s = (as_like((pairs & _LOW32) + (pairs >> _S32), k[1]) + k[11]) * k[4]
        return (s - k[11]) * k[3]

    @inline
    def piece(u, a, p2, k):
        # one {0, 1, 2} piece of pulse_trains.draw_counts
        return (k[1] if u < a else k[2]) + (k[1] if u < p2 else k[2])

    @inline
    def uniform16(h, i, k):
        return (as_like((h >> np.uint64(16 * i)) & _LOW16, k[0]) + k[0]) * k[4]

    @inline
    def piece_p2(mu, v_j, scale, k):
        # pulse_trains._piece: P(piece = 2) clamped to [max(μ − 1, 0), μ/2], variance error
        raw = (v_j + mu * (mu - k[1])) * k[0]
        p2 = min(max(raw, max(mu - k[1], k[2])), mu * k[0])
        return p2, abs(p2 - raw) * scale

    @inline
    def draw(mean, var, z, u, h, k):
        # pulse_trains.draw_counts (PIECES = 3): for m < 3 an offset s plus J ≤ 3 exact {0, 1, 2}
        # pieces (piece_plan; uniforms u and 16-bit chunks of h); above, n = ⌊max(m + s z, 0) + u⌋
        # with s² = v − f(1 − f); branch-free so that LLVM vectorises the loop
        zero, one, two = k[2], k[1], k[22]
        three = two + one
        mean = max(mean, zero)
        mu = mean / three
        p2, err = piece_p2(mu, var / three, three, k)
        parts, offset = three, zero
        mu_c = mean * k[0]
        p2_c, err_c = piece_p2(mu_c, var * k[0], two, k)
        better = err_c < err
        p2, err, mu = (p2_c, err_c, mu_c) if better else (p2, err, mu)
        parts = two if better else parts
        p2_c, err_c = piece_p2(mean, var, one, k)
        better = (err_c < err) and (mean <= two)
        p2, err, mu = (p2_c, err_c, mean) if better else (p2, err, mu)
        parts = one if better else parts
        mu_c = mean - one
        p2_c, err_c = piece_p2(mu_c, var, one, k)
        better = (err_c < err) and (mean >= one)
        p2, mu = (p2_c, mu_c) if better else (p2, mu)
        parts = one if better else parts
        offset = one if better else offset
        a = mu - p2
        small = offset + piece(u, a, p2, k)
        small += piece(uniform16(h, 0, k), a, p2, k) if parts > one else zero
        small += piece(uniform16(h, 1, k), a, p2, k) if parts > two else zero
        frac = mean - np.floor(mean)
        spread = np.sqrt(max(var - frac * (one - frac), zero)) if mean >= one else zero
        large = np.floor(max(mean + spread * z, zero) + u)
        return small if mean < three else large

    @inline
    def exp_neg(t, k):
        # e^(−t) for t ≥ 0 without a libm call or table (so that the loop vectorises): t capped
        # at 40 (e^(−40) < 5e-18), t = k ln2 − r with |r| ≤ ln2/2, Taylor series in r (exp_poly:
        # relative error < 3e-16 in float64, < 6e-9 in float32), times 2^(−k) built from the
        # binary digits of k
        t = min(t, k[9])
        n = np.floor(t * k[6] + k[0])
        r = (n * k[7] - t) + n * k[8]
        poly = exp_poly(r, k)
        scale = k[1]
        big = n >= k[18]
        scale = scale * (k[12] if big else k[1])
        n = n - (k[18] if big else k[2])
        big = n >= k[19]
        scale = scale * (k[13] if big else k[1])
        n = n - (k[19] if big else k[2])
        big = n >= k[20]
        scale = scale * (k[14] if big else k[1])
        n = n - (k[20] if big else k[2])
        big = n >= k[21]
        scale = scale * (k[15] if big else k[1])
        n = n - (k[21] if big else k[2])
        big = n >= k[22]
        scale = scale * (k[16] if big else k[1])
        n = n - (k[22] if big else k[2])
        big = n >= k[23]
        scale = scale * (k[17] if big else k[1])
        return poly * scale

    @inline
    def element(w, n_up, n_down, a_up, a_down, l_up, l_down, lo, hi, c2c, zc, family, clip, k):
        return element_of(w, n_up, n_down, a_up, a_down, l_up, l_down, lo, hi, c2c, zc,
                          family, clip, k, False)

    #: exp_neg(t) is exp_poly(−t) exactly below this t (its k = ⌊t log₂e + ½⌋ is 0 there)
    SMALL_DECAY = 0.34

    @inline
    def element_of(w, n_up, n_down, a_up, a_down, l_up, l_down, lo, hi, c2c, zc, family, clip,
                   k, small):
        # ``small``: every total decay rate t of the loop is below SMALL_DECAY, where exp_neg's
        # range reduction is the identity: the same numbers without it (a loop-invariant flag)
        if family == 0:  # linear step: exact composition (compose_linear_step), 0 pulses → w
            r_up = n_up * l_up
            r_down = n_down * l_down
            total = r_up + r_down
            w_eq = (r_up * hi + r_down * lo) / max(total, k[10])
            new = w_eq + (w - w_eq) * (exp_poly(-total, k) if small else exp_neg(total, k))
            s_up = a_up * (hi - new)       # c2c steps at the composed weight (apply_pulses)
            s_down = a_down * (new - lo)
        else:  # constant step (compose_constant_step)
            new = w + n_up * a_up - n_down * a_down
            s_up = a_up
            s_down = a_down
        new += c2c * np.sqrt(n_up * s_up * s_up + n_down * s_down * s_down) * zc
        if clip:
            new = min(max(new, lo), hi)
        return new

    @inline
    def hashes(key, e):
        c = key + np.uint64(e) * _FOUR_GAMMA
        return mix(c + _GAMMA), mix(c + _TWO * _GAMMA), mix(c + _THREE * _GAMMA), mix(c + _FOUR_GAMMA)

    @inline
    def unpack(cst):
        return (cst[0], cst[1], cst[2], cst[3], cst[4], cst[5], cst[6], cst[7], cst[8], cst[9],
                cst[10], cst[11], cst[12], cst[13], cst[14], cst[15], cst[16], cst[17], cst[18],
                cst[19], cst[20], cst[21], cst[22], cst[23], cst[24], cst[25], cst[26], cst[27],
                cst[28], cst[29], cst[30], cst[31], cst[32], cst[33], cst[34], cst[35])

    @inline
    def moments_counts(e, m_tot, m_net, s_tot, s_net, key, k):
        # element e from its batch moments: (n_up, n_down, c2c Gaussian)
        half = k[0]
        m_up = half * (m_tot - m_net)
        m_down = half * (m_tot + m_net)
        v_up = m_up - half * (s_tot - s_net)
        v_down = m_down - half * (s_tot + s_net)
        h1, h2, h3, h4 = hashes(key, e)
        n_up = draw(m_up, v_up, irwin_hall(h1, k), uniform24(h4 << _S32, k), h1, k)
        n_down = draw(m_down, v_down, irwin_hall(h2, k), uniform24(h4, k), h2, k)
        return n_up, n_down, irwin_hall(h3, k)

    @inline
    def moments_element(we, e, m_tot, m_net, s_tot, s_net, a_up, a_down, l_up, l_down, lo, hi,
                        c2c, key, family, clip, k):
        # element e from its batch moments: the up/down count draws, composition, c2c, clip
        n_up, n_down, zc = moments_counts(e, m_tot, m_net, s_tot, s_net, key, k)
        return element(we, n_up, n_down, a_up, a_down, l_up, l_down, lo, hi, c2c, zc, family,
                       clip, k)

    @njit
    def moments_kernel(w, m, dev, c2c, key, family, clip, cst, offset=0):
        # m: (4, n) = m_tot, m_net, s_tot, s_net; dev: (6, n) = a_up, a_down, l_up, l_down, lo, hi;
        # w, m, dev may be a span of the tile starting at flat element ``offset``
        k = unpack(cst)
        c2c = as_like(c2c, k[1])
        for e in range(w.size):
            w[e] = moments_element(w[e], e + offset, m[0, e], m[1, e], m[2, e], m[3, e],
                                   dev[0, e], dev[1, e], dev[2, e], dev[3, e], dev[4, e],
                                   dev[5, e], c2c, key, family, clip, k)

    @inline
    def outer_counts(e, qb, q2b, sd, p, p2, sx, key, k):
        # element e of a batch of one: (n_up, n_down, c2c Gaussian), the numbers the moments
        # kernel draws there (m_tot = BL q p, m_net = ±m_tot, s = BL p² q²)
        m = qb * p
        s = q2b * p2
        h1, h2, h3, h4 = hashes(key, e)
        up = sd * sx < k[2]  # up pulses where d·x < 0
        z_up, z_down = irwin_hall(h1, k), irwin_hall(h2, k)
        u_up, u_down = uniform24(h4 << _S32, k), uniform24(h4, k)
        n = draw(m, m - s, z_up if up else z_down, u_up if up else u_down, h1 if up else h2, k)
        n_up = n if up else k[2]
        return n_up, n - n_up, irwin_hall(h3, k)

    @inline
    def outer_element(we, e, qb, q2b, sd, p, p2, sx, dev, c2c, key, family, clip, k):
        n_up, n_down, zc = outer_counts(e, qb, q2b, sd, p, p2, sx, key, k)
        return element(we, n_up, n_down, dev[0, e], dev[1, e], dev[2, e], dev[3, e], dev[4, e],
                       dev[5, e], c2c, zc, family, clip, k)

    @inline
    def active(p, cols):
        # the indices j with p[j] > 0, into cols; returns their number
        n = 0
        for j in range(p.size):
            if p[j] > 0.0:
                cols[n] = j
                n += 1
        return n

    @njit
    def outer_kernel(w, qb, q2b, sd, pp, out_size, in_size, dev, c2c, key, family, clip, cst):
        # sparse batch-1 update (visits active columns only; scalar code, for few columns):
        # pp (replicas, 3, in) = p, p², sign(x); qb, q2b, sd (replicas·out,)
        k = unpack(cst)
        c2c = as_like(c2c, k[1])
        replicas = qb.size // out_size
        cols = np.empty(in_size, dtype=np.intp)
        for r in range(replicas):
            n_cols = active(pp[r, 0], cols)
            p, p2, sx = pp[r, 0], pp[r, 1], pp[r, 2]
            for i in range(out_size):
                ri = r * out_size + i
                if qb[ri] <= 0.0:
                    continue
                base = ri * in_size
                qbi, q2bi, sdi = qb[ri], q2b[ri], sd[ri]
                for c in range(n_cols):
                    j = cols[c]
                    w[base + j] = outer_element(w[base + j], base + j, qbi, q2bi, sdi, p[j],
                                                p2[j], sx[j], dev, c2c, key, family, clip, k)

    _moments_kernel, _outer_kernel = moments_kernel, outer_kernel


from . import fused_steps  # (the pulse-by-pulse kernels use the helpers above)
