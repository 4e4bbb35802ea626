"""Column transfers between tiles: the schedule, the one-hot column read and the column write.

aihwkit's transfer loop (``rpu_transfer_device.cpp``; the reference's "aihwkit's transfer
algorithms"): every ``every`` steps (mini-batches) or mat-vecs (samples), ``columns`` consecutive
one-hot columns e_i of the source tile are read, z_i = W_src e_i, wrapping around at the last
column (the cursor), and written onto the destination tile. The read goes through a *transfer
periphery* of its own: by default the source tile's forward read with noise and bound
management off, as aihwkit forces them off for ``transfer_forward``. A transfer at mat-vec
granularity is applied after the whole batch's gradient write (aihwkit's CUDA order; its CPU
path interleaves the transfers between the samples of a batch).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..config import POSITIVE_INT, Config, Interval, OneOf, param
from ..crossbar.periphery import IOConfig, analog_mvm
from ..crossbar.tile import AnalogTile

#: columns = 0 means every column at once
ALL_COLUMNS = 0


@dataclass(frozen=True)
class TransferSchedule(Config):
    """When a transfer happens and how many columns it reads."""

    every: int = param(1, "k: a transfer every k units", POSITIVE_INT)
    unit: str = param("step", "what k counts: 'step' (optimizer steps, i.e. mini-batches) or "
                      "'matvec' (samples: B per step of batch B; aihwkit units_in_mbatch=False)",
                      OneOf(("step", "matvec")))
    columns: int = param(1, "columns read per transfer, consecutive from the cursor (0: all "
                         "columns at once)", Interval(0, None, integer=True))


class TransferCursor:
    """The schedule's state: units counted so far and the next column to read."""

    def __init__(self, schedule: TransferSchedule):
        self.schedule = schedule
        self.count = 0
        self.next_column = 0

    def due(self, batch: int) -> int:
        """Count one step of ``batch`` samples; the number of transfers now due (0, 1, …)."""
        units = batch if self.schedule.unit == "matvec" else 1
        before = self.count
        self.count += units
        every = self.schedule.every
        return self.count // every - before // every

    def take(self, in_size: int) -> Tensor:
        """The columns of the next transfer (and advance the cursor)."""
        n = self.schedule.columns
        if n == ALL_COLUMNS or n >= in_size:
            return torch.arange(in_size)
        cols = (self.next_column + torch.arange(n)) % in_size
        self.next_column = (self.next_column + n) % in_size
        return cols

    def take_one(self, in_size: int) -> int:
        """The column of the next one-column transfer (and advance the cursor): take's column,
        as an int."""
        column = self.next_column
        self.next_column = (column + 1) % in_size
        return column

    def runs(self, transfers: int, in_size: int) -> list[Tensor]:
        """The columns of ``transfers`` one-column transfers in a row (and advance the cursor),
        as runs of consecutive columns that end at the last column or the last transfer: the
        transfers of one run read distinct columns, and a pass over the columns ends only at
        the end of a run."""
        out = []
        while transfers > 0:
            n = min(transfers, in_size - self.next_column)
            out.append(torch.arange(self.next_column, self.next_column + n))
            self.next_column = (self.next_column + n) % in_size
            transfers -= n
        return out

    def state_dict(self) -> dict:
        return {"count": self.count, "next_column": self.next_column}

    def load_state_dict(self, state: dict) -> None:
        self.count, self.next_column = int(state["count"]), int(state["next_column"])


def transfer_io(source: AnalogTile, io: IOConfig | None) -> IOConfig:
    """The periphery of a transfer read: ``io``, or the source's forward read without noise and
    bound management (aihwkit's transfer_forward)."""
    if io is not None:
        return io
    fwd = source.config.periphery.forward
    if fwd.is_perfect:
        return fwd
    return fwd.replace(noise_management="none", bound_management="none")


def one_hot(tile: AnalogTile, columns: Tensor) -> Tensor:
    """Rows e_i (..., n_columns, in_size) for the tile's replicas, in its dtype and device."""
    lead = tile.shape[:-2]
    g = tile.conductance                          # dtype and device only
    eye = torch.zeros(lead + (len(columns), tile.shape[-1]), dtype=g.dtype, device=g.device)
    eye[..., torch.arange(len(columns)), columns] = 1.0
    return eye


def read_columns(source: AnalogTile, eye: Tensor, io: IOConfig, columns: Tensor | None = None) -> Tensor:
    """z = W e_i for the one-hot rows ``eye``: (..., n_columns, out_size), read through ``io``
    with the source tile's generator.

    Given ``columns`` (the one-hot positions of eye's rows, as from :func:`one_hot`) and a read
    without input noise, only those columns of W are read, with eye's rows cut to them: the
    same numbers (each output is the one product x̂_i W_ji plus exact zeros, the noise and
    bound management see the same rows and draw the same shapes) without a pass over W."""
    if columns is None or io.inp_noise > 0.0:
        return analog_mvm(eye, source._read(), io, source.generator)
    return analog_mvm(eye.index_select(-1, columns), source.read_columns(columns), io,
                      source.generator)


def write_columns(dest: AnalogTile, eye: Tensor, values: Tensor, lr) -> None:
    """W_dest[:, i] += lr · values_i for each one-hot row e_i: the pulsed update with x = e_i,
    d = −values_i (ΔW = −lr Σ dᵀx), through the destination's update config."""
    dest.update(eye, -values, lr)
