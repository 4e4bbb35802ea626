"""AGAD (Rasch et al., Nat. Commun. 15:7133 (2024), Methods, Eq. 13): c-TTv2 with an on-the-fly
reference for the fast tile's read.

As aihwkit's ``DynamicTransferCompound`` (``rpu_dynamic_transfer_device.cpp``; §7 of the
project's AIMC reference). The gradient write, auto-scaling, chopper and buffer are c-TTv2's
(:mod:`~analogsgd.optim.chopped_tiki_taka`); the read of column i of A is compared with a
reference P_ref taken from a running mean P of the reads when c_in[i] flips::

    N = max(⌈1/in_chop_prob⌉, 2);  β = min(tail_weightening/N, 1)
    z = A e_i
    P_ref[:, i] ← P[:, i]                   if c_in[i] flipped after the previous read of i
    ω = H[:, i] + s·c_in[i]·c_out⊙(z − P_ref[:, i])          s = |lr_tr|/bg as c-TTv2
    n = clamp(trunc ω, ±L); H as c-TTv2, and without forget_buffer ω is clamped to
        ±buffer_cap·L where n ≠ 0 (buffer_cap > 0)
    P[:, i] ← (1−β)·P[:, i] + β·z
    C += pulses(x = e_i, d = −n, lr = step·Δw_min(C))       only once passes > N
    c_in[i] flips regularly (pass t with t mod N = N − 1), and also at random with
    probability in_chop_prob when in_chop_random

The buffer is updated (and reduced where n ≠ 0) during the first N passes too, as aihwkit's code
does; only the write onto C waits. c_out never flips (aihwkit's AGAD has no out chopper).
Defaults (aihwkit's Python ``DynamicTransferCompound`` and build_config('agad')):
in_chop_prob 0.1, tail_weightening 5, regular flips, buffer_cap 0, momentum 0, forget_buffer
True, auto_scale True, gradient BL 5, transfer BL 1 (aihwkit turns both managements on for this
write; with BL 1 and |n| ≤ 1 that is the same single pulse as with them off).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..config import NON_NEGATIVE, POSITIVE, Interval, IsBool, param
from ..crossbar.tile import AnalogTile
from ..errors import ConfigError
from .chopped_tiki_taka import ChoppedRuleConfig, ChoppedTransferRule
from .registry import register


@register
@dataclass(frozen=True)
class AGADConfig(ChoppedRuleConfig):
    """AGAD: c-TTv2 whose fast-tile reads are taken relative to a reference from chopper flips."""

    kind = "agad"
    label = "AGAD"
    colour = "tab:olive"

    in_chop_prob: float = param(0.1, "p: c_in[i] flips every N = max(⌈1/p⌉, 2) passes",
                                Interval(0.0, 1.0, low_open=True))
    in_chop_random: bool = param(False, "also flip c_in[i] at random with probability p per read "
                                 "(aihwkit in_chop_random; the regular flips stay)", IsBool())
    tail_weightening: float = param(5.0, "β = min(tail_weightening/N, 1): the running mean's rate",
                                    POSITIVE)
    buffer_cap: float = param(0.0, "without forget_buffer: clamp H to ±buffer_cap·L after a "
                              "transfer (0: no cap)", NON_NEGATIVE)

    def build(self, tiles: tuple[AnalogTile, ...], weight: Tensor | None = None,
              generator=None) -> AGAD:
        fast, slow = tiles
        return AGAD(fast, slow, self, generator)


class AGAD(ChoppedTransferRule):
    """AGAD over a fast tile A and a slow tile C of one shape (module docstring); ``generator``
    draws the random chopper flips (None: the fast tile's generator)."""

    def __init__(self, fast: AnalogTile, slow: AnalogTile, config: AGADConfig = AGADConfig(),
                 generator: torch.Generator | None = None):
        if not isinstance(config, AGADConfig):
            raise ConfigError("AGAD.config", config, "an AGADConfig")
        super().__init__(fast, slow, config, generator, random=config.in_chop_random,
                         regular=True, cap=config.buffer_cap)
        g = fast.conductance
        #: P_ref: the reference subtracted from A's reads
        self.reference = torch.zeros(fast.shape, dtype=g.dtype, device=g.device)
        #: P: the running mean of A's reads
        self.running_mean = torch.zeros(fast.shape, dtype=g.dtype, device=g.device)

    @property
    def beta(self) -> float:
        """β = min(tail_weightening/N, 1)."""
        return min(self.config.tail_weightening / self.chopper.period, 1.0)

    def _accumulate(self, columns: Tensor, z: Tensor, scale) -> Tensor:
        """The module docstring's reference, buffer and running mean for the k ``columns``
        (z: (..., k, out)): the pulse counts n (..., k, out)."""
        mean = self.running_mean[..., :, columns].transpose(-1, -2)     # (..., k, out)
        flipped = self.chopper.flipped[..., columns].unsqueeze(-1)      # (..., k, 1)
        ref = torch.where(flipped, mean, self.reference[..., :, columns].transpose(-1, -2))
        self.reference[..., :, columns] = ref.transpose(-1, -2)
        dw = (z - ref) * self.chopper.column_signs(columns)
        n = self.buffer.accumulate(columns, scale * dw)
        self.running_mean[..., :, columns] = ((1 - self.beta) * mean
                                              + self.beta * z).transpose(-1, -2)
        return n

    def _writes(self) -> bool:
        return self.chopper.passes > self.chopper.period

    def _hidden(self) -> dict[str, tuple[object, str]]:
        return {**super()._hidden(), "reference": (self, "reference"),
                "running_mean": (self, "running_mean")}

    def state_dict(self) -> dict:
        return {**super().state_dict(), "reference": self.reference.clone(),
                "running_mean": self.running_mean.clone()}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.reference = state["reference"].clone()
        self.running_mean = state["running_mean"].clone()
