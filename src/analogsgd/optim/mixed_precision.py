"""Mixed precision (Nandakumar et al., Front. Neurosci. 2020; aihwkit's ``MixedPrecisionCompound``).

The gradient is accumulated in a digital array χ of the weight's shape, and only whole device
steps are written onto the tile (aihwkit's ``rpu_mixedprec_device.cpp``; the reference's
"aihwkit's transfer algorithms", §7):

* every step:  χ ← χ − lr Σ_b d_bᵀ x_b   (χ holds the desired update, ΔW = −lr Σ dᵀx);
* on the transfer schedule (every ``transfer_every`` steps, ``n_rows_per_transfer`` rows from a
  cyclic cursor, −1 = all rows): for each row r,  n_r = trunc(χ_r / ε),  χ_r ← χ_r − n_r ε,
  and the tile receives the pulsed update with x = n_r, d = −e_r at rate ε · ``transfer_lr``,
  so that row r moves by + n_r ε (one device step per count). ε is ``granularity``, or the
  tile device's weight granularity (Δw_min) when it is 0.

The tile's update is run with both bound and update management on (aihwkit forces both for
this write) and the tile's own BL (``desired_bl``). In expected mode the same write is the
compact update of ΔW_r = ε n_r · ``transfer_lr``.

Differences from aihwkit, by choice: the transfer follows the whole batch's accumulation (the
:class:`~analogsgd.optim.transfer.TransferCursor` convention, aihwkit's CUDA order; its CPU path
accumulates per sample and transfers after the first sample of the following batch), and the
optional abs-max quantisation of x and d (``n_x_bins``/``n_d_bins``, off in aihwkit's
defaults) and the random row choice are not implemented.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..config import (
    NON_NEGATIVE,
    POSITIVE,
    POSITIVE_INT,
    InstanceOf,
    Interval,
    check_argument,
    param,
)
from ..crossbar.replicas import per_replica
from ..crossbar.tile import AnalogTile, TileConfig
from ..errors import ConfigError
from .base import TileRule
from .registry import RuleConfig, register
from .transfer import ALL_COLUMNS, TransferCursor, TransferSchedule

#: ``n_rows_per_transfer`` = −1: every row at each transfer (aihwkit's convention)
ALL_ROWS = -1


@register
@dataclass(frozen=True)
class MixedPrecisionConfig(RuleConfig):
    """Mixed precision: a digital accumulator χ whose whole device steps are pulsed onto one tile.

    Defaults are aihwkit's ``MixedPrecisionCompound`` (``build_config('mp')``: transfer every
    mini-batch, all rows, the device's granularity, transfer_lr 1, update BL 31 from the tile).
    """

    kind = "mixed_precision"
    label = "Mixed precision"
    colour = "tab:green"
    tile_roles = ("tile",)

    transfer_every: int = param(1, "steps (mini-batches) between two transfers of χ onto the tile",
                                POSITIVE_INT)
    n_rows_per_transfer: int = param(ALL_ROWS, "rows of χ transferred per transfer, consecutive "
                                     "from a cyclic cursor (−1: all rows)",
                                     Interval(ALL_ROWS, None, integer=True))
    granularity: float = param(0.0, "ε: the weight step of one transferred count (0: the tile "
                               "device's weight granularity Δw_min)", NON_NEGATIVE)
    transfer_lr: float = param(1.0, "scale of the transfer write: the tile's rate is ε · "
                               "transfer_lr per count", POSITIVE)

    def check_invariants(self) -> None:
        if self.n_rows_per_transfer == 0:
            raise ConfigError("MixedPrecisionConfig.n_rows_per_transfer", 0,
                              "-1 (all rows) or an integer >= 1")

    @property
    def schedule(self) -> TransferSchedule:
        rows = ALL_COLUMNS if self.n_rows_per_transfer == ALL_ROWS else self.n_rows_per_transfer
        return TransferSchedule(every=self.transfer_every, unit="step", columns=rows)

    def tile_config(self, role: str, base: TileConfig) -> TileConfig:
        """The layer's tile with bound and update management on (aihwkit forces both for the
        transfer write; the tile receives no other update)."""
        return base.replace(update=base.update.replace(bl_management=True, update_management=True))

    def build(self, tiles: tuple[AnalogTile, ...], weight: Tensor | None = None,
              generator=None) -> MixedPrecision:
        (tile,) = tiles
        return MixedPrecision(tile, self)


class MixedPrecision(TileRule):
    """Mixed precision over one tile: χ accumulates the update, whole steps go to the tile."""

    def __init__(self, tile: AnalogTile, config: MixedPrecisionConfig = MixedPrecisionConfig()):
        super().__init__(tile)
        self.config = check_argument("MixedPrecision.config", config,
                                     InstanceOf(MixedPrecisionConfig))
        eps = config.granularity or tile.devices.device.granularity
        #: ε: the weight step of one count
        self.granularity = check_argument("MixedPrecision.granularity", eps, POSITIVE)
        g = tile.conductance                                   # dtype and device only
        #: χ: the digital accumulator of the desired update (weight shape)
        self.chi = torch.zeros(tile.shape, dtype=g.dtype, device=g.device)
        self.cursor = TransferCursor(config.schedule)

    def program(self, weight: Tensor) -> None:
        """Program the tile and clear χ (aihwkit resets χ when weights are set)."""
        super().program(weight)
        self.chi = torch.zeros_like(self.chi)

    def step(self, x: Tensor, d: Tensor, lr, initial_lr=None) -> None:
        """χ ← χ − lr Σ_b d_bᵀ x_b, then the transfers now due."""
        rate = self._rate(lr, initial_lr)
        self._accumulate(d.transpose(-1, -2) @ x, rate)

    def step_dense(self, grad: Tensor, lr, initial_lr=None) -> None:
        """χ ← χ − lr · grad, then the transfers now due."""
        self._accumulate(grad, self._rate(lr, initial_lr))

    def _accumulate(self, grad: Tensor, rate) -> None:
        self.chi = self.chi - per_replica(rate, grad) * grad
        for _ in range(self.cursor.due(1)):
            self.transfer()

    def transfer(self) -> None:
        """One transfer of the next row(s) of χ: n = trunc(χ_r/ε), χ_r ← χ_r − n ε, and the tile's
        update with x = n, d = −e_r at rate ε · transfer_lr (row r moves by + n ε)."""
        rows = self.cursor.take(self.tile.shape[-2])
        eps = self.granularity
        counts = torch.trunc(self.chi[..., rows, :] / eps)
        self.chi[..., rows, :] -= counts * eps
        if not bool(counts.any()):
            return
        eye = torch.zeros(counts.shape[:-1] + (self.tile.shape[-2],), dtype=counts.dtype,
                          device=counts.device)
        eye[..., torch.arange(len(rows)), rows] = -1.0
        self.tile.update(counts, eye, eps * self.config.transfer_lr)

    # -- arrays and state ----------------------------------------------------------------------
    def _hidden(self) -> dict[str, tuple[object, str]]:
        """``chi``: χ, the accumulated update not yet on the tile."""
        return {"chi": (self, "chi")}

    def state_dict(self) -> dict:
        return {"tile": self.tile.state_dict(), "chi": self.chi.clone(),
                **self.cursor.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.tile.load_state_dict(state["tile"])
        self.chi = state["chi"].clone()
        self.cursor.load_state_dict(state)

