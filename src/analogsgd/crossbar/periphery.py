"""The periphery of an analog tile: how a matrix-vector product is read through DACs and ADCs.

One read of ``y = x Wᵀ`` (forward) or ``z = d W`` (backward, the same read with ``Wᵀ``) goes
through these stages, in order, for every sample b (a row of ``x``) and replica (leading dims);
the model and its defaults are those of IBM aihwkit's ``IOParameters`` (Rasch et al. 2021, "A
flexible and fast PyTorch toolkit for simulating training and inference on analog crossbar
arrays"; Gokmen & Vlasov 2016 for the bounded, noisy read):

1. **Noise management** (``abs_max``): s_b = max_j |x_bj| / b_in, so that the largest input
   reaches the DAC bound; ``none``: s_b = 1. An all-zero row has s_b = 0, and stage 8 multiplies
   its read by 0: it reads exactly 0, as in aihwkit (``rpu_forward_backward_pass.cpp``), which
   short-cuts such a row to 0 in the backward read always and in the forward read when there is
   no input noise; a forward read with σ_in > 0 reads the row at s_b = 1 with all its noise.
2. **Bound management** scale r (1, then 2, 4, … for the re-reads, see below); x̂ = x / (s r).
3. **DAC**: x̂ ← clip(Δ_in round(x̂ / Δ_in), −b_in, b_in) with Δ_in = 2 b_in / (2^n_in − 2)
   (n_in bits, sign included: 2^n_in − 1 levels; ``inp_bits = 0``: no rounding, clip only).
4. **Input noise**: x̂ ← x̂ + σ_in ξ.
5. **Analog MVM**: ỹ = x̂ Wᵀ, plus output-referred weight noise σ_w ‖x̂‖₂ ξ (the aihwkit
   ``ADDITIVE_CONSTANT`` weight noise: each read sees W + σ_w Ξ, summed on the output line).
6. **Output noise**: ỹ ← ỹ + σ_out ξ (in normalised units).
7. **ADC**: q = Δ_out round(ỹ / Δ_out) with Δ_out = 2 b_out / (2^n_out − 2); the sample
   *saturates* when any |q_i| > b_out (``saturation="above"``, aihwkit's test as written) or
   ≥ b_out (``"full_scale"``: the top code; what aihwkit computes in float32 where its top level
   rounds above b_out, e.g. its default 9-bit ADC on ±12); ŷ = clip(q, −b_out, b_out).
8. **Undo the scalings** digitally: y = s r ŷ.

**Iterative bound management** (aihwkit ``ITERATIVE``): every sample that saturated at factor r
is read again, from stage 2, at 2r, with fresh noise; samples that did not saturate keep their
read (aihwkit's CPU tile loops over the samples, each with its own noise and bound management). The re-reads stop when no sample saturates, or once r > ``max_bm_factor`` or
r Δ_in / b_in > ``max_bm_res`` (the input resolution left after the down-scaling), exactly
aihwkit's stop test: ``max_bm_factor = 1000`` alone allows r up to 1024 (10 halvings); the
resolution limit stops the default 7-bit DAC at r = 16 and an 8-bit DAC at r = 32.

ξ are independent standard normals drawn from the tile's generator with the dtype and device
of ``x``; ``is_perfect`` reads exactly ``x @ Wᵀ`` and draws nothing.

On the CPU with numba, the first read of a batch through one matrix runs its element-wise
stages in two compiled passes around torch's product and draws (:mod:`.fast_periphery`), bit
for bit the stages below; the re-reads of bound management stay here.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from ..config import NON_NEGATIVE, POSITIVE_INT, Config, InstanceOf, Interval, IsBool, OneOf, param
from ..errors import ConfigError
from . import fast_periphery

BITS = Interval(0, 32, integer=True)
BOUND = Interval(0.0, None, low_open=True, allow_inf=True)


def quantisation_step(bits: int, bound: float) -> float:
    """Δ = 2 bound / (2^bits − 2): ``bits`` bits with sign give the 2^bits − 1 levels k Δ,
    |k| ≤ 2^(bits−1) − 1, so that ±bound are levels (aihwkit's ``res = 1/(2^bits − 2)`` of the
    range). 0 bits means no quantisation (Δ = 0)."""
    return 0.0 if bits == 0 else 2.0 * bound / (2 ** bits - 2)


@dataclass(frozen=True)
class IOConfig(Config):
    """The periphery of one read direction (forward or backward) of a tile.

    Defaults are aihwkit's ``IOParameters`` defaults (7-bit DAC, 9-bit ADC with bound 12,
    output noise 0.06, abs-max noise management, iterative bound management); set
    ``is_perfect=True`` (or use :meth:`PeripheryConfig.ideal`) for an exact read.
    """

    is_perfect: bool = param(False, "exact read x Wᵀ: no DAC, ADC, noise or management, no draws",
                             IsBool())
    inp_bits: int = param(7, "DAC resolution n_in in bits, sign included (step "
                          "Δ_in = 2 b_in/(2^n_in − 2)); 0 = unquantised", BITS)
    inp_bound: float = param(1.0, "DAC range b_in: inputs are clipped to ±b_in (normalised units)",
                             Interval(0.0, None, low_open=True))
    inp_noise: float = param(0.0, "σ_in: std of the Gaussian noise added to each DAC output",
                             NON_NEGATIVE)
    out_bits: int = param(9, "ADC resolution n_out in bits, sign included (step "
                          "Δ_out = 2 b_out/(2^n_out − 2)); 0 = unquantised", BITS)
    out_bound: float = param(12.0, "ADC range b_out: outputs saturate at ±b_out (normalised "
                             "units); inf = no clipping", BOUND)
    out_noise: float = param(0.06, "σ_out: std of the Gaussian noise added to each analog output "
                             "(normalised units)", NON_NEGATIVE)
    w_noise: float = param(0.0, "σ_w: std of a fresh Gaussian weight perturbation per read, "
                           "referred to the output as σ_w ‖x̂‖₂ ξ", NON_NEGATIVE)
    noise_management: str = param("abs_max", "input scaling before the DAC: 'abs_max' "
                                  "(s = max|x|/b_in per sample) or 'none' (s = 1)",
                                  OneOf(("abs_max", "none")))
    bound_management: str = param("iterative", "'iterative': re-read saturated samples with the "
                                  "input halved until none saturates; 'none'",
                                  OneOf(("iterative", "none")))
    saturation: str = param("above", "when a read counts as saturated for bound management: "
                            "'above' (some |q_i| > b_out) or 'full_scale' (some |q_i| >= b_out, "
                            "the top ADC code)", OneOf(("above", "full_scale")))
    max_bm_factor: int = param(1000, "bound management stops once the down-scaling r exceeds "
                               "this (1000: at most r = 1024, 10 halvings)", POSITIVE_INT)
    max_bm_res: float = param(0.25, "bound management stops once the effective input resolution "
                              "r Δ_in/b_in exceeds this (aihwkit's max_bm_res); inf = no limit",
                              BOUND)

    def check_invariants(self) -> None:
        for name in ("inp_bits", "out_bits"):
            if getattr(self, name) == 1:
                raise ConfigError(f"IOConfig.{name}", 1, "0 (unquantised) or an integer >= 2",
                                  "One signed bit has no level besides 0 and the bounds.")
        if self.out_bits and math.isinf(self.out_bound):
            raise ConfigError("IOConfig.out_bound", self.out_bound,
                              "finite when out_bits > 0", "Set out_bits=0 for an unbounded ADC.")

    @property
    def inp_step(self) -> float:
        """Δ_in, the DAC step (0: unquantised)."""
        return quantisation_step(self.inp_bits, self.inp_bound)

    @property
    def out_step(self) -> float:
        """Δ_out, the ADC step (0: unquantised)."""
        return quantisation_step(self.out_bits, self.out_bound)

    @property
    def max_bm_scale(self) -> float:
        """The largest r after which no further re-read is made (aihwkit's stop test)."""
        limit = float(self.max_bm_factor)
        if self.inp_bits:
            limit = min(limit, self.max_bm_res * self.inp_bound / self.inp_step)
        return limit


PERFECT = IOConfig(is_perfect=True)


@dataclass(frozen=True)
class PeripheryConfig(Config):
    """Forward and backward periphery of a tile.

    The default is aihwkit's (``IOConfig()`` both ways, bound management forward only, as aihwkit
    ignores it on the backward pass). :meth:`ideal` reads exactly; :meth:`paper` is the setting
    of the MNIST experiments of Wu et al. (NeurIPS 2024). Backward bound management, which
    aihwkit does not support, is ``backward.bound_management="iterative"``.
    """

    forward: IOConfig = param(IOConfig(), "periphery of the forward read y = x Wᵀ",
                              InstanceOf(IOConfig))
    backward: IOConfig = param(IOConfig(bound_management="none"),
                               "periphery of the backward read z = d W", InstanceOf(IOConfig))

    def check_invariants(self) -> None:
        for name in ("forward", "backward"):
            if not isinstance(getattr(self, name), IOConfig):
                raise ConfigError(f"PeripheryConfig.{name}", getattr(self, name),
                                  "an IOConfig instance")

    @property
    def is_perfect(self) -> bool:
        return self.forward.is_perfect and self.backward.is_perfect

    @classmethod
    def ideal(cls) -> PeripheryConfig:
        """Exact reads both ways (the default of :class:`~analogsgd.crossbar.TileConfig`)."""
        return cls(forward=PERFECT, backward=PERFECT)

    @classmethod
    def paper(cls) -> PeripheryConfig:
        """Wu et al. (NeurIPS 2024), MNIST: 8-bit DAC and ADC, output noise 0.1, output range 20,
        abs-max noise management both ways, iterative bound management on the forward read (their
        runs used aihwkit, which ignores it on the backward read)."""
        io = IOConfig(inp_bits=8, out_bits=8, out_noise=0.1, out_bound=20.0,
                      noise_management="abs_max", bound_management="iterative")
        return cls(forward=io, backward=io.replace(bound_management="none"))

    @classmethod
    def aihwkit_preset(cls) -> PeripheryConfig:
        """aihwkit's ``PresetIOParameters`` (the IO of its device presets): 7-bit DAC, 9-bit ADC,
        output noise 0.1 (about one ADC step), output range 20, abs-max noise management both
        ways, iterative bound management on the forward read (aihwkit ignores it backward)."""
        io = IOConfig(inp_bits=7, out_bits=9, out_noise=0.1, out_bound=20.0,
                      noise_management="abs_max", bound_management="iterative")
        return cls(forward=io, backward=io.replace(bound_management="none"))


class _Factors(NamedTuple):
    """The scalars a read multiplies or divides by: Python floats, or (:func:`_factors`) 0-dim
    CPU tensors of the input's dtype holding the same values."""

    inp_bound: float | Tensor
    inp_step: float | Tensor
    inp_noise: float | Tensor
    w_noise: float | Tensor
    out_noise: float | Tensor
    out_step: float | Tensor


class _Plan(NamedTuple):
    """What a read takes from its :class:`IOConfig`, derived once per config (:func:`_plan`)."""

    iterative: bool           #: bound management 'iterative'
    bounded: bool             #: the ADC clips (finite b_out)
    full_scale: bool          #: saturation 'full_scale' (|q| >= b_out) rather than 'above'
    limit: float              #: :attr:`IOConfig.max_bm_scale`
    factors: _Factors         #: the scalar factors as Python floats


@functools.lru_cache(maxsize=256)
def _plan(io: IOConfig) -> _Plan:
    return _Plan(io.bound_management == "iterative",
                 not math.isinf(io.out_bound), io.saturation == "full_scale", io.max_bm_scale,
                 _Factors(io.inp_bound, io.inp_step, io.inp_noise, io.w_noise, io.out_noise,
                          io.out_step))


@functools.lru_cache(maxsize=256)
def _tensor_factors(io: IOConfig, dtype: torch.dtype) -> _Factors:
    with torch.inference_mode(False):  # usable in and outside inference mode
        return _Factors(*(torch.tensor(v, dtype=dtype) for v in _plan(io).factors))


def _on_host(t: Tensor) -> bool:
    """Whether ``t`` is on the CPU: there a sync (``float(t)``) costs nothing and a 0-dim tensor
    factor computes as the Python float (the paths that rely on either check this)."""
    return t.device.type == "cpu"


def _factors(io: IOConfig, like: Tensor) -> _Factors:
    """The factors of ``io`` for an elementwise op on ``like``. On the CPU in float32/float64 a
    0-dim tensor of ``like``'s dtype: the CPU kernels compute the same as with the Python float
    (which they round to that dtype first) without wrapping and casting it on every call.
    Elsewhere Python floats: CUDA divides by a CPU scalar as a product with its reciprocal, and
    reduced-precision dtypes compute with the unrounded scalar."""
    if _on_host(like) and like.dtype in (torch.float32, torch.float64):
        return _tensor_factors(io, like.dtype)
    return _plan(io).factors


def _randn(shape: torch.Size, like: Tensor, generator: torch.Generator) -> Tensor:
    """Standard normals from ``generator`` with the dtype and device of ``like``."""
    if generator.device.type == like.device.type:
        return torch.randn(shape, generator=generator, dtype=like.dtype, device=like.device)
    return torch.randn(shape, generator=generator, dtype=like.dtype,
                       device=generator.device).to(like.device)


def _quantise_(v: Tensor, step: float | Tensor) -> Tensor:
    """v ← Δ round(v / Δ) in place (stages 3 and 7)."""
    return v.div_(step).round_().mul_(step)


#: |y| below this fraction of b_out saturates in no dtype (b_out rounded to float16 or bfloat16
#: moves by less than 2⁻⁸ of itself): only then are the per-sample flags skipped
_CLEAR = 1.0 - 2.0 ** -6


def _saturated(y: Tensor, io: IOConfig, full_scale: bool) -> Tensor | None:
    """The per-sample saturation flags (..., B) of the ADC codes ``y`` (stage 7), or None when
    no code saturates: one reduction to min and max y first, and the flags only when one of
    them comes near ±b_out (or is NaN)."""
    if y.numel() == 0:
        return None
    low, high = torch.aminmax(y)
    clear = _CLEAR * io.out_bound
    if -float(low) < clear and float(high) < clear:  # NaN fails it
        return None
    mag = y.abs()
    return (mag >= io.out_bound if full_scale else mag > io.out_bound).any(-1)


def _read(x: Tensor, scale: Tensor | float, wt: Tensor, io: IOConfig,
          generator: torch.Generator) -> tuple[Tensor, Tensor | None]:
    """One read, stages 3–8 of the module docstring, of x / scale. Returns the de-normalised
    output and, under iterative bound management with a bounded ADC, the per-sample saturation
    flags (..., B), None when no sample saturated (and always without bound management).

    Every temporary after the first is owned and updated in place; the draws, their order and
    the float operations are those of the stages as written."""
    plan, f = _plan(io), _factors(io, x)
    unscaled = isinstance(scale, float) and scale == 1.0
    xs = x if unscaled else x / scale
    if io.inp_bits:
        xs = torch.div(xs, f.inp_step) if xs is x else xs.div_(f.inp_step)
        xs.round_().mul_(f.inp_step)
    xs = xs.clamp(-io.inp_bound, io.inp_bound) if xs is x else xs.clamp_(-io.inp_bound,
                                                                          io.inp_bound)
    y = analog_product(xs, wt, io, generator)
    if io.out_noise > 0.0:
        y.add_(_randn(y.shape, y, generator).mul_(f.out_noise))
    if io.out_bits:
        _quantise_(y, f.out_step)
    saturated = None
    if plan.bounded:
        if plan.iterative:
            saturated = _saturated(y, io, plan.full_scale)
        if saturated is not None or not plan.iterative:
            y.clamp_(-io.out_bound, io.out_bound)
    if not unscaled:
        y.mul_(scale)
    return y, saturated


def analog_product(xs: Tensor, wt: Tensor, io: IOConfig, generator: torch.Generator) -> Tensor:
    """Stages 4–5 on the DAC outputs ``xs`` (changed in place by the input noise): input noise,
    x̂ wᵀ and the weight noise, drawn in that order (the torch read and the compiled first read
    of :mod:`.fast_periphery` share it)."""
    f = _factors(io, xs)
    if io.inp_noise > 0.0:
        xs.add_(_randn(xs.shape, xs, generator).mul_(f.inp_noise))
    y = xs @ wt
    if io.w_noise > 0.0:
        norm = torch.linalg.vector_norm(xs, dim=-1, keepdim=True).mul_(f.w_noise)
        y.add_(_randn(y.shape, y, generator).mul_(norm))
    return y


def noise_management_scale(x: Tensor, io: IOConfig) -> tuple[Tensor | float, Tensor | None]:
    """s of stage 1 and the all-zero rows: (max_j |x_bj| / b_in per sample with 1 in place of
    0, the mask (..., B, 1) of the rows whose max is 0, None when there is none), or (1, None)
    for 'none'. On the CPU one look at min s (a free sync) skips the mask when no row is 0."""
    if io.noise_management == "none":
        return 1.0, None
    s = x.abs().amax(dim=-1, keepdim=True)
    if io.inp_bound != 1.0:  # s / 1 is s
        s.div_(_factors(io, s).inp_bound)
    if _on_host(s) and s.numel() and float(s.amin()) > 0.0:  # NaN fails it
        return s, None
    zero = s == 0
    return s.masked_fill_(zero, 1.0), zero


#: read directions of :func:`analog_mvm`
DIRECTIONS = ("forward", "backward")


def analog_mvm(x: Tensor, w: Tensor, io: IOConfig, generator: torch.Generator,
               direction: str = "forward", kept: dict | None = None) -> Tensor:
    """y = x wᵀ read through the periphery ``io`` (stages 1–8 and iterative bound management
    of the module docstring); x (..., B, in), w (..., out, in), leading dims broadcast.

    ``direction`` decides only the all-zero rows under noise management (stage 1): they read 0
    in the backward direction, and in the forward direction unless σ_in > 0. Draws only from
    ``generator`` (the same numbers whatever the zero rows); a perfect ``io`` returns ``x @ wᵀ``
    and draws nothing (and is the only read autograd records: a read through the periphery is
    computed under ``torch.no_grad``, its rounding having no gradient; the layers' backward is
    the analog backward read). The bound-management bookkeeping runs only when some sample
    saturated, and its re-reads read only the saturated samples.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}; got {direction!r} instead.")
    wt = w.transpose(-1, -2)
    if io.is_perfect:
        return x @ wt
    if torch.is_grad_enabled() and (x.requires_grad or w.requires_grad):
        with torch.no_grad():  # quantised: no gradient to record; temporaries change in place
            return analog_mvm(x, w, io, generator, direction, kept)
    if x.dim() == 1:  # one sample without a batch dimension
        return analog_mvm(x.unsqueeze(0), w, io, generator, direction, kept).squeeze(-2)
    # the all-zero rows read exactly 0 (s_b = 0), but forward with σ_in > 0 keep their noisy
    # read at s_b = 1
    zero_rows = not (direction == "forward" and io.inp_noise > 0.0)
    first = (fast_periphery.first_read(x, wt, io, _plan(io), generator, zero_rows, kept)
             if fast_periphery.supports(x, w) else None)
    if first is not None:
        y, s, saturated = first
    else:
        s, zero = noise_management_scale(x, io)
        y, saturated = _read(x, s, wt, io, generator)
        if zero is not None and zero_rows:
            y.masked_fill_(zero, 0.0)
            if saturated is not None:
                saturated &= ~zero.squeeze(-1)
    if saturated is None:
        return y
    limit = _plan(io).limit
    r = 1.0
    # every sample still saturated at round k saturated in all earlier rounds: one r per round
    while saturated is not None and r <= limit and bool(saturated.any()):
        r *= 2.0
        pos = saturated.reshape(-1, saturated.shape[-1]).any(0).nonzero().squeeze(-1)
        s_pos = s.index_select(-2, pos) * r if isinstance(s, Tensor) else s * r
        y_pos, sat_pos = _read(x.index_select(-2, pos), s_pos, wt, io, generator)
        redo = saturated.index_select(-1, pos)  # replicas sharing a position may not need it
        y.index_copy_(-2, pos, torch.where(redo.unsqueeze(-1), y_pos, y.index_select(-2, pos)))
        saturated = (None if sat_pos is None
                     else torch.zeros_like(saturated).index_copy_(-1, pos, redo & sat_pos))
    return y
