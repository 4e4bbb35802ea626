"""Tiki-Taka v2 (Gokmen, Front. Artif. Intell. 2021): a digital buffer H between A and C.

As aihwkit's ``BufferedTransferCompound`` (``rpu_buffered_transfer_device.cpp``; §7 of the
project's AIMC reference). The gradient is written onto the fast tile A at rate β = ``lr``
through A's update (gradient BL 5 as in aihwkit's ``build_config('ttv2')``); on the transfer
schedule, column i of A is read and accumulated in H (:class:`~analogsgd.optim.buffer.DigitalBuffer`)::

    z = A e_i                                 (the transfer read)
    ω = H[:, i] + |lr_tr|·z                   lr_tr = transfer_lr (×γ when γ > 0)
    n = clamp(trunc(ω/thr), ±L)               thr = thres_scale·Δw_min(C), L = transfer BL
    H[:, i] = momentum·ω where n ≠ 0 (forget_buffer; else ω − (1−momentum)·n·thr)
    C += pulses(x = e_i, d = −n, lr = step·Δw_min(C))

The slow tile's update is aihwkit's ``transfer_update``: BL = L with both managements off
(:meth:`BufferedRuleConfig.tile_config`), so with L = 1 each element with n ≠ 0 gets exactly one
pulse of Δw_min(C). aihwkit spells TT-v2 two ways: the Python class ``BufferedTransferCompound``
(followed here: thres_scale 1, step 1, momentum 0.1, forget_buffer True, transfer BL 1, one column
every mini-batch, i.e. ``units_in_mbatch=True``, ``transfer_every=1``) and ``build_config('ttv2')``,
which is a ``ChoppedTransferCompound`` with in_chop_prob 0 (here:
:class:`~analogsgd.optim.chopped_tiki_taka.ChoppedTikiTakaConfig` with ``in_chop_prob=0``,
``auto_scale=False``: threshold in units of Δw_min(A), one column per mat-vec). The C++ default
momentum is 0; the Python one (0.1) is used.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from ..config import POSITIVE, POSITIVE_INT, Interval, IsBool, OrNone, param
from ..crossbar.replicas import per_replica
from ..crossbar.tile import AnalogTile, TileConfig
from ..errors import ConfigError
from .buffer import DigitalBuffer
from .registry import register
from .tiki_taka import TransferRule, TransferRuleConfig
from .transfer import TransferSchedule, one_hot, read_columns, write_columns

UNIT = Interval(0.0, 1.0)


@dataclass(frozen=True)
class BufferedRuleConfig(TransferRuleConfig):
    """What the buffered transfer rules share: the write step onto C, the buffer's momentum and
    forget rule, and the pulse-train lengths of the two tiles (abstract)."""

    step: float = param(1.0, "pulses per unit of n written onto C: lr = step·Δw_min(C)", POSITIVE)
    momentum: float = param(0.0, "fraction of the buffer kept after a transfer (forget_buffer) "
                            "or (1 − momentum)·n·thr subtracted", UNIT)
    forget_buffer: bool = param(True, "after a write H ← momentum·ω (True) or "
                                "ω − (1 − momentum)·n·thr (False)", IsBool())
    transfer_bl: int = param(1, "L: the slow tile's BL, the most pulses per element and transfer",
                             POSITIVE_INT)
    gradient_bl: int | None = param(5, "the fast tile's gradient BL (aihwkit build_config: 5; "
                                    "None: the layer's tile config)", OrNone(POSITIVE_INT))

    def tile_config(self, role: str, base: TileConfig) -> TileConfig:
        """The fast tile with BL ``gradient_bl``; the slow tile with BL = L and both
        managements off (aihwkit's transfer_update: exactly |n| pulses when L = 1)."""
        if role == "slow":
            return base.replace(update=base.update.replace(
                desired_bl=self.transfer_bl, bl_management=False, update_management=False,
                fixed_bl=True))
        if role == "fast" and self.gradient_bl is not None:
            return base.replace(update=base.update.replace(desired_bl=self.gradient_bl))
        return base

    def buffer_rate(self, rate):
        """|lr_tr|: the transfer rate, ×γ when γ > 0 (aihwkit's γ_from/γ_to with γ_vec = (γ, 1))."""
        return rate * self.gamma if self.gamma > 0 else rate


@register
@dataclass(frozen=True)
class TikiTakaV2Config(BufferedRuleConfig):
    """Tiki-Taka v2: A's columns accumulate in a digital buffer H, whole pulses go to C."""

    kind = "tiki_taka_v2"
    label = "TT-v2"
    colour = "tab:cyan"

    momentum: float = param(0.1, "fraction of the buffer kept after a transfer (forget_buffer) "
                            "or (1 − momentum)·n·thr subtracted (aihwkit Python default 0.1)",
                            UNIT)
    thres_scale: float = param(1.0, "thr = thres_scale·Δw_min(C): the buffer's threshold", POSITIVE)
    transfer_every: int = param(1, "k: optimizer steps (mini-batches) between two transfers",
                                POSITIVE_INT)
    columns_per_transfer: int = param(1, "columns read per transfer (aihwkit "
                                      "n_reads_per_transfer)", POSITIVE_INT)

    @property
    def schedule(self) -> TransferSchedule:
        return TransferSchedule(every=self.transfer_every, unit="step",
                                columns=self.columns_per_transfer)

    def build(self, tiles: tuple[AnalogTile, ...], weight: Tensor | None = None,
              generator=None) -> TikiTakaV2:
        fast, slow = tiles
        return TikiTakaV2(fast, slow, self)


class BufferedTransferRule(TransferRule):
    """A transfer rule with a digital buffer H (abstract: subclasses define :meth:`transfer`)."""

    def __init__(self, fast: AnalogTile, slow: AnalogTile, config: BufferedRuleConfig,
                 schedule: TransferSchedule, threshold: float, cap: float = 0.0):
        super().__init__(fast, slow, config, schedule)
        g = fast.conductance
        self.buffer = DigitalBuffer(fast.shape, threshold, config.momentum, config.forget_buffer,
                                    config.transfer_bl, cap, dtype=g.dtype, device=g.device)

    def _write(self, eye: Tensor, n: Tensor) -> None:
        """C += n·step·Δw_min(C) on the columns of ``eye`` (nothing when every n is 0)."""
        if bool((n != 0).any()):
            write_columns(self.slow, eye, n, self.config.step * self.slow.devices.device.granularity)

    def _hidden(self) -> dict[str, tuple[object, str]]:
        """Hidden arrays by name: (holder, attribute)."""
        return {"buffer": (self.buffer, "H")}

    def state_dict(self) -> dict:
        return {**super().state_dict(), **self.buffer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.buffer.load_state_dict(state)


class TikiTakaV2(BufferedTransferRule):
    """Tiki-Taka v2 over a fast tile A and a slow tile C of one shape (module docstring)."""

    def __init__(self, fast: AnalogTile, slow: AnalogTile,
                 config: TikiTakaV2Config = TikiTakaV2Config()):
        if not isinstance(config, TikiTakaV2Config):
            raise ConfigError("TikiTakaV2.config", config, "a TikiTakaV2Config")
        super().__init__(fast, slow, config, config.schedule,
                         threshold=config.thres_scale * slow.devices.device.granularity)

    def transfer(self, rate=None) -> None:
        """Read the next column(s) of A, accumulate |lr_tr|·z in H and write the whole pulses
        n onto C (module docstring)."""
        rate = self.config.buffer_rate(self.transfer_lr if rate is None else rate)
        columns = self.cursor.take(self.fast.shape[-1])
        eye = one_hot(self.fast, columns)
        z = read_columns(self.fast, eye, self.io, columns)
        n = self.buffer.accumulate(columns, per_replica(rate, z) * z)
        self._write(eye, n)
