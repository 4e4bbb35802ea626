"""Chopped Tiki-Taka v2, c-TTv2 (Rasch et al., Nat. Commun. 15:7133 (2024), Methods).

As aihwkit's ``ChoppedTransferCompound`` (``rpu_chopped_transfer_device.cpp``; §7 of the
project's AIMC reference). Chopper signs c_in, c_out (:class:`~analogsgd.optim.chopper.Chopper`)
sit on both sides of the gradient write onto the fast tile A::

    A += pulses(count_lr · (c_in⊙x)(c_out⊙d)ᵀ)      (the write with x' = c_in⊙x, d' = c_out⊙d)
    count_lr = lr·BL·Δw_min(A)/(m_x·m_d)              with auto_scale (else count_lr = lr)
    m_x ← (1−τ)m_x + τ max|x_b|, m_d likewise, τ = (1 − auto_momentum)/B, per sample b
          (the first nonzero value initialises; count_lr is per sample, folded into x_b)

and every ``transfer_every`` mat-vecs (aihwkit ``units_in_mbatch=False``; < 0:
round(n_states(A)/in_size·|transfer_every|)) one column i of A is read into the digital buffer
H in units of the buffer granularity (threshold 1, :class:`~analogsgd.optim.buffer.DigitalBuffer`)::

    bg = buffer_granularity·Δw_min(A)·(auto_granularity/(in_size·|transfer_every|) if > 0 else 1)
    ω  = H[:, i] + (|lr_tr|/bg)·c_in[i]·c_out⊙(A e_i)       lr_tr = transfer_lr (×γ when γ > 0)
    n  = clamp(trunc ω, ±L);  H[:, i] = momentum·ω where n ≠ 0 (forget_buffer)
    C += pulses(x = e_i, d = −n, lr = step·Δw_min(C))
    then c_in[i] flips (probability in_chop_prob, or regularly), c_out after the last column

The visible weight is W̄ = γ·(c_out⊗c_in)⊙A + C (read as C's read plus γ·c_out⊙A's read of
c_in⊙x). Ordering: aihwkit's CUDA path writes A for the whole batch and defers the due transfers
to the batch end; its CPU path interleaves them between the samples. Here the
:class:`~analogsgd.optim.transfer.TransferCursor` counts a batch's mat-vecs and the due transfers
follow the batch write (the CUDA order), with the chopper signs fixed during the batch.
``lr`` (the gradient rate) plays aihwkit's ``fast_lr`` (build_config('c-ttv2'): 0.1, with
``scale_fast_lr=False``). ``thres_scale`` and ``correct_gradient_magnitudes`` are not modelled.
:meth:`ChoppedTransferRule.step_dense` treats a gradient matrix as one sample whose
max|x|·max|d| is max|∇|.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..config import NON_NEGATIVE, POSITIVE, Constraint, IsBool, param
from ..crossbar.replicas import per_replica
from ..crossbar.tile import AnalogTile
from ..errors import ConfigError
from .chopper import Chopper
from .registry import register
from .tiki_taka_v2 import UNIT, BufferedRuleConfig, BufferedTransferRule
from .transfer import TransferSchedule, one_hot, read_columns


@dataclass(frozen=True)
class NonZeroInteger(Constraint):
    """An integer other than 0."""

    def ok(self, value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value != 0

    def describe(self) -> str:
        return "an integer other than 0"

    def invalid_example(self) -> Any:
        return 0


@dataclass(frozen=True)
class ChoppedRuleConfig(BufferedRuleConfig):
    """What c-TTv2 and AGAD share: the input chopper, auto-scaling of the gradient write, the
    buffer granularity and the transfer period in mat-vecs (abstract)."""

    in_chop_prob: float = param(0.1, "p: probability (or 1/period) of a flip of c_in[i] per read "
                                "of column i", UNIT)
    auto_scale: bool = param(True, "count_lr = lr·BL·Δw_min(A)/(m_x·m_d) with running maxima "
                             "of |x| and |d| (aihwkit auto_scale; build_config: True)", IsBool())
    auto_momentum: float = param(0.99, "momentum of the running maxima m_x, m_d (per batch)", UNIT)
    buffer_granularity: float = param(1.0, "the buffer's unit, in Δw_min(A)", POSITIVE)
    auto_granularity: float = param(0.0, "> 0: the unit is scaled by auto_granularity/(in_size·"
                                    "|transfer_every|)", NON_NEGATIVE)
    transfer_every: int = param(1, "mat-vecs (samples) between two transfers; < 0: round("
                                "n_states(A)/in_size·|transfer_every|)", NonZeroInteger())

    def transfer_period(self, fast: AnalogTile) -> int:
        """Mat-vecs between two transfers on ``fast`` (resolves transfer_every < 0)."""
        if self.transfer_every > 0:
            return self.transfer_every
        n_states = fast.devices.device.n_states
        if not math.isfinite(n_states):
            raise ConfigError(f"{type(self).__name__}.transfer_every", self.transfer_every,
                              "an integer > 0 for a device without bounds (n_states is infinite)")
        return max(1, round(n_states / fast.shape[-1] * abs(self.transfer_every)))

    def granularity(self, fast: AnalogTile) -> float:
        """bg: the buffer's unit (weight per count) on ``fast``."""
        bg = self.buffer_granularity * fast.devices.device.granularity
        if self.auto_granularity > 0:
            bg *= self.auto_granularity / (fast.shape[-1] * abs(self.transfer_every))
        return bg


@register
@dataclass(frozen=True)
class ChoppedTikiTakaConfig(ChoppedRuleConfig):
    """c-TTv2: Tiki-Taka v2 with chopper signs on the fast tile's gradient write."""

    kind = "chopped_tiki_taka"
    label = "c-TTv2"
    colour = "tab:purple"

    in_chop_random: bool = param(True, "c_in flips at random (True) or regularly every "
                                 "N = max(⌈1/p⌉, 2) passes (False)", IsBool())
    out_chop_prob: float = param(0.0, "probability of a flip of each c_out[j] per pass", UNIT)

    def build(self, tiles: tuple[AnalogTile, ...], weight: Tensor | None = None,
              generator=None) -> ChoppedTikiTaka:
        fast, slow = tiles
        return ChoppedTikiTaka(fast, slow, self, generator)


class ChoppedTransferRule(BufferedTransferRule):
    """A buffered transfer rule with choppers and auto-scaling (abstract: subclasses define how
    a column enters the buffer, :meth:`_accumulate`, and when C is written, :meth:`_writes`)."""

    def __init__(self, fast: AnalogTile, slow: AnalogTile, config: ChoppedRuleConfig,
                 generator: torch.Generator | None, random: bool, regular: bool,
                 out_chop_prob: float = 0.0, cap: float = 0.0):
        schedule = TransferSchedule(every=config.transfer_period(fast), unit="matvec", columns=1)
        super().__init__(fast, slow, config, schedule, threshold=1.0, cap=cap)
        g = fast.conductance
        #: bg: the buffer's unit (weight per count)
        self.granularity = config.granularity(fast)
        self.chopper = Chopper(fast.shape, config.in_chop_prob, out_chop_prob, random, regular,
                               fast.generator if generator is None else generator,
                               dtype=g.dtype, device=g.device)
        lead = tuple(fast.shape[:-2])
        self.m_x = torch.zeros(lead, dtype=g.dtype, device=g.device)
        self.m_d = torch.zeros(lead, dtype=g.dtype, device=g.device)

    # -- the visible weight γ·(c_out⊗c_in)⊙A + C --------------------------------------------
    @property
    def weight(self) -> Tensor:
        if self.config.gamma == 0:
            return self.slow.weight
        return self.slow.weight + self.config.gamma * self.chopper.signs() * self.fast.weight

    def forward(self, x: Tensor) -> Tensor:
        y = self.slow.forward(x)
        if self.config.gamma == 0:
            return y
        c_in, c_out = self.chopper.c_in.unsqueeze(-2), self.chopper.c_out.unsqueeze(-2)
        return y + self.config.gamma * c_out * self.fast.forward(c_in * x)

    def backward(self, d: Tensor) -> Tensor:
        z = self.slow.backward(d)
        if self.config.gamma == 0:
            return z
        c_in, c_out = self.chopper.c_in.unsqueeze(-2), self.chopper.c_out.unsqueeze(-2)
        return z + self.config.gamma * c_in * self.fast.backward(c_out * d)

    # -- the gradient write ------------------------------------------------------------------
    def _ema(self, m: Tensor, value: Tensor, tau: float) -> Tensor:
        """aihwkit's updateAutoScale: the first value initialises, a zero value is skipped."""
        return torch.where(m <= 0, value, torch.where(value <= 0, m, (1 - tau) * m + tau * value))

    def _auto_scale(self, x_max: Tensor, d_max: Tensor) -> Tensor:
        """Per-sample factors BL·Δw_min(A)/(m_x·m_d) (..., B), updating m_x and m_d."""
        lead, batch = tuple(self.m_x.shape), x_max.shape[-1]
        x_max = torch.broadcast_to(x_max, lead + (batch,))
        d_max = torch.broadcast_to(d_max, lead + (batch,))
        tau = (1.0 - self.config.auto_momentum) / batch
        g = self.fast.config.update.desired_bl * self.fast.devices.device.granularity
        factors = []
        for b in range(batch):
            self.m_x = self._ema(self.m_x, x_max[..., b], tau)
            self.m_d = self._ema(self.m_d, d_max[..., b], tau)
            prod = self.m_x * self.m_d
            factors.append(torch.where(prod > 0, g / torch.where(prod > 0, prod, 1.0), g))
        return torch.stack(factors, dim=-1)

    def step(self, x: Tensor, d: Tensor, lr, initial_lr=None) -> None:
        """A += count_lr·(c_in⊙x)(c_out⊙d)ᵀ for the batch, then the due transfers."""
        rate = self._rate(lr, initial_lr)
        xs = x * self.chopper.c_in.unsqueeze(-2)
        ds = d * self.chopper.c_out.unsqueeze(-2)
        if self.config.auto_scale:
            xs = xs * self._auto_scale(x.abs().amax(-1), d.abs().amax(-1)).unsqueeze(-1)
        self.fast.update(xs, ds, rate)
        self._after_step(x.shape[-2], lr, initial_lr)

    def step_dense(self, grad: Tensor, lr, initial_lr=None) -> None:
        """A −= count_lr·(c_out⊗c_in)⊙∇ (one mat-vec; auto-scale with max|x|·max|d| = max|∇|)."""
        rate = per_replica(self._rate(lr, initial_lr), grad)
        delta = -rate * self.chopper.signs() * grad
        if self.config.auto_scale:
            g_max = grad.abs().amax((-2, -1)).unsqueeze(-1)
            delta = delta * self._auto_scale(g_max, torch.ones_like(g_max)).unsqueeze(-1)
        self.fast.apply(delta)
        self._after_step(1, lr, initial_lr)

    # -- the transfer --------------------------------------------------------------------------
    def _after_step(self, batch: int, lr, initial_lr) -> None:
        """The transfers due in this step's mat-vecs, a run of consecutive columns at a time
        (:meth:`~analogsgd.optim.transfer.TransferCursor.runs`): within a run A is not written,
        every column's buffer, write onto C and chopper flip concern that column alone, and the
        pass ends only at the run's end, so one read, one buffer update and one write of the
        run's columns are the run's one-column transfers in sequence (in distribution: the read
        and write noise are drawn in another order)."""
        due = self.cursor.due(batch)
        if due:
            rate = self.config.transfer_rate(self.transfer_lr, lr, initial_lr)
            for columns in self.cursor.runs(due, self.fast.shape[-1]):
                self._transfer_columns(columns, rate)

    def transfer(self, rate=None) -> None:
        """One transfer of the next column i of A (module docstring)."""
        self._transfer_columns(self.cursor.runs(1, self.fast.shape[-1])[0],
                               self.transfer_lr if rate is None else rate)

    def _transfer_columns(self, columns: Tensor, rate) -> None:
        """Read the columns of A, accumulate them in H (:meth:`_accumulate`), write the whole
        pulses onto C (when :meth:`_writes`), then let the chopper flip."""
        rate = self.config.buffer_rate(rate)
        eye = one_hot(self.fast, columns)
        z = read_columns(self.fast, eye, self.io, columns)
        n = self._accumulate(columns, z, per_replica(rate, z) / self.granularity)
        if self._writes():
            self._write(eye, n)
        self.chopper.after_read(columns)

    def _accumulate(self, columns: Tensor, z: Tensor, scale) -> Tensor:
        """ω = H + s·c_in[i]·c_out⊙z for each column i: the pulse counts n (..., k, out)."""
        return self.buffer.accumulate(columns, scale * z * self.chopper.column_signs(columns))

    def _writes(self) -> bool:
        return True

    # -- hidden state -------------------------------------------------------------------------
    def _hidden(self) -> dict[str, tuple[object, str]]:
        return {**super()._hidden(), "c_in": (self.chopper, "c_in"),
                "c_out": (self.chopper, "c_out")}

    def _check_hidden(self, name: str, value: Tensor) -> None:
        if name in ("c_in", "c_out") and not bool((value.abs() == 1).all()):
            raise ConfigError(f"{type(self).__name__}.set_array.{name}", "a tensor with entries "
                              "other than ±1", "chopper signs ±1")

    def state_dict(self) -> dict:
        return {**super().state_dict(), "chopper": self.chopper.state_dict(),
                "m_x": self.m_x.clone(), "m_d": self.m_d.clone()}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.chopper.load_state_dict(state["chopper"])
        self.m_x, self.m_d = state["m_x"].clone(), state["m_d"].clone()


class ChoppedTikiTaka(ChoppedTransferRule):
    """c-TTv2 over a fast tile A and a slow tile C of one shape (module docstring); ``generator``
    draws the chopper flips (None: the fast tile's generator)."""

    def __init__(self, fast: AnalogTile, slow: AnalogTile,
                 config: ChoppedTikiTakaConfig = ChoppedTikiTakaConfig(),
                 generator: torch.Generator | None = None):
        if not isinstance(config, ChoppedTikiTakaConfig):
            raise ConfigError("ChoppedTikiTaka.config", config, "a ChoppedTikiTakaConfig")
        super().__init__(fast, slow, config, generator, random=config.in_chop_random,
                         regular=not config.in_chop_random, out_chop_prob=config.out_chop_prob)
