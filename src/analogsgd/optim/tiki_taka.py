"""Tiki-Taka v1 (Gokmen & Haensch 2020; analysed as (TT-P)/(TT-W) in Wu et al., NeurIPS 2024).

Two tiles: the fast array A (called P in Wu et al.) receives the gradient, the slow array C
(W in Wu et al.) receives A's content column by column:

* (TT-P) every step:  A ← A − β (∇f(W̄) + ε)              through A's device response;
* (TT-W) on the transfer schedule: read column(s) j of A (a one-hot read through the transfer
  periphery, :mod:`~analogsgd.optim.transfer`) and write C ← C + α A[:, j] e_jᵀ through C's
  device response;
* the gradient is taken at W̄ = C + γ A (γ = ``gamma``; γ = 0 is the original algorithm, γ > 0
  the residual-learning reading of Li et al. 2025), read as a :class:`~analogsgd.optim.stack.TileStack`.

β is the gradient-write rate ``lr`` of :meth:`TikiTaka.step`; α is ``transfer_lr``
(:attr:`TikiTaka.transfer_lr`, settable, one value per replica allowed). With
``columns_per_transfer = "one"`` the columns are visited cyclically, one per transfer; with
``"all"`` the whole of A is transferred at once.
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
    IsBool,
    OneOf,
    OrNone,
    check_argument,
    param,
)
from ..crossbar import column_transfer
from ..crossbar.periphery import IOConfig
from ..crossbar.replicas import check_lr, per_replica
from ..crossbar.tile import AnalogTile
from ..errors import ConfigError
from .base import LearningRule, check_tile
from .registry import RuleConfig, register, scheduled_rate
from .stack import TileStack
from .transfer import (
    TransferCursor,
    TransferSchedule,
    one_hot,
    read_columns,
    transfer_io,
    write_columns,
)


@dataclass(frozen=True)
class TransferRuleConfig(RuleConfig):
    """What every fast-tile-and-transfer rule shares: the transfer rate and its schedule, the
    transfer read's periphery and γ (abstract)."""

    fast_tile = True
    tile_roles = ("fast", "slow")

    transfer_lr: float = param(0.05, "α: the transfer rate onto the slow tile C", POSITIVE)
    schedule_transfer_lr: bool = param(False, "the transfer rate follows the optimizer's "
                                       "schedule: α_t = transfer_lr · lr_t / lr_0 (aihwkit's "
                                       "scale_transfer_lr)", IsBool())
    gamma: float = param(0.0, "γ: the weight read and differentiated is W̄ = C + γA", NON_NEGATIVE)
    transfer_forward: IOConfig | None = param(None, "periphery of the transfer read (None: the fast "
                                              "tile's forward read with noise and bound management "
                                              "off, as aihwkit's transfer_forward)",
                                              OrNone(InstanceOf(IOConfig)))

    def transfer_rate(self, transfer_lr, lr, initial_lr=None):
        """The transfer rate α_t of this step (lr₀ = ``initial_lr``, None: lr)."""
        return scheduled_rate(transfer_lr, lr, initial_lr, self.schedule_transfer_lr)


@register
@dataclass(frozen=True)
class TikiTakaConfig(TransferRuleConfig):
    """Tiki-Taka v1: the fast tile's columns are written onto the slow tile."""

    kind = "tiki_taka"
    label = "Tiki-Taka"
    colour = "tab:blue"

    transfer_every: int = param(1, "k: steps between two transfers", POSITIVE_INT)
    columns_per_transfer: str = param("one", "'one' column (cyclic) or 'all' columns per transfer",
                                      OneOf(("one", "all")))

    @property
    def schedule(self) -> TransferSchedule:
        return TransferSchedule(every=self.transfer_every, unit="step",
                                columns=1 if self.columns_per_transfer == "one" else 0)

    def build(self, tiles: tuple[AnalogTile, ...], weight: Tensor | None = None,
              generator=None) -> TikiTaka:
        fast, slow = tiles
        return TikiTaka(fast, slow, self)


class TransferRule(LearningRule):
    """A fast tile A that takes the gradient and a slow tile C that takes A's columns, read as
    W̄ = C + γA (the shared part of the Tiki-Taka family; subclasses define :meth:`transfer`)."""

    def __init__(self, fast: AnalogTile, slow: AnalogTile, config: TransferRuleConfig,
                 schedule: TransferSchedule):
        name = type(self).__name__
        check_tile(f"{name}.fast", fast)
        if check_tile(f"{name}.slow", slow).shape != fast.shape:
            raise ConfigError(f"{name}.slow", f"a tile of shape {slow.shape}",
                              f"a tile of the fast tile's shape {fast.shape}")
        self.config = check_argument(f"{name}.config", config, InstanceOf(TransferRuleConfig))
        self.fast, self.slow = fast, slow
        self.stack = TileStack((slow, fast), (1.0, config.gamma))
        self.cursor = TransferCursor(schedule)
        self.io = transfer_io(fast, config.transfer_forward)
        self.transfer_lr = config.transfer_lr

    @property
    def transfer_lr(self) -> float | Tensor:
        """α: the transfer rate (settable; a tensor of one value per replica allowed)."""
        return self._transfer_lr

    @transfer_lr.setter
    def transfer_lr(self, value: float | Tensor) -> None:
        self._transfer_lr = check_lr(f"{type(self).__name__}.transfer_lr", value)

    @property
    def weight(self) -> Tensor:
        return self.stack.weight

    def forward(self, x: Tensor) -> Tensor:
        """y = x (C + γA)ᵀ: C's read, plus γ times A's read when γ > 0."""
        return self.stack.forward(x)

    def backward(self, d: Tensor) -> Tensor:
        """z = d (C + γA), read like :meth:`forward`."""
        return self.stack.backward(d)

    def program(self, weight: Tensor) -> None:
        """C holds the initial weight, A starts at zero (its reference)."""
        self.slow.set_weight(weight)
        self.fast.set_weight(weight.new_zeros(weight.shape))

    @property
    def tiles(self) -> tuple[AnalogTile, ...]:
        return (self.fast, self.slow)

    def step(self, x: Tensor, d: Tensor, lr, initial_lr=None) -> None:
        self.fast.update(x, d, self._rate(lr, initial_lr))
        self._after_step(x.shape[-2], lr, initial_lr)

    def step_dense(self, grad: Tensor, lr, initial_lr=None) -> None:
        self.fast.apply(-per_replica(self._rate(lr, initial_lr), grad) * grad)
        self._after_step(1, lr, initial_lr)

    def _after_step(self, batch: int, lr, initial_lr) -> None:
        for _ in range(self.cursor.due(batch)):
            self.transfer(self.config.transfer_rate(self.transfer_lr, lr, initial_lr))

    def transfer(self, rate) -> None:
        """One transfer of the next column(s) of A onto C at rate ``rate``."""
        raise NotImplementedError

    def state_dict(self) -> dict:
        return {"fast": self.fast.state_dict(), "slow": self.slow.state_dict(),
                **self.cursor.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.fast.load_state_dict(state["fast"])
        self.slow.load_state_dict(state["slow"])
        self.cursor.load_state_dict(state)


class TikiTaka(TransferRule):
    """Tiki-Taka v1 over a fast tile A and a slow tile C of the same shape."""

    def __init__(self, fast: AnalogTile, slow: AnalogTile, config: TikiTakaConfig = TikiTakaConfig()):
        check_argument("TikiTaka.config", config, InstanceOf(TikiTakaConfig))
        super().__init__(fast, slow, config, config.schedule)

    def transfer(self, rate=None) -> None:
        """Read column(s) of A through the transfer periphery and write them onto C:
        C ← C + α A[:, j] e_jᵀ (the update with x = e_j, d = −A[:, j])."""
        rate = self.transfer_lr if rate is None else rate
        in_size = self.fast.shape[-1]
        if self.cursor.schedule.columns == 1:
            column = self.cursor.take_one(in_size)
            if column_transfer.transfer_column(self.fast, self.slow, column, self.io, rate):
                return  # the same numbers in one compiled call
            columns = torch.tensor([column])
        else:
            columns = self.cursor.take(in_size)
        eye = one_hot(self.fast, columns)
        write_columns(self.slow, eye, read_columns(self.fast, eye, self.io, columns), rate)
