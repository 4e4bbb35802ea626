"""Multi-tile residual learning (Li, Wu, Liu, Gokmen & Chen 2025, arXiv 2510.02516, §3, Alg. 1).

N tiles W⁽⁰⁾ … W⁽ᴺ⁻¹⁾ of one shape, read and differentiated as one weight (§3)::

    W̄ = Σ_n γⁿ W⁽ⁿ⁾                          (a :class:`~analogsgd.optim.stack.TileStack`)

Tile N−1, the least significant, is the *gradient tile*: it alone receives the gradient,

    W⁽ᴺ⁻¹⁾ ← W⁽ᴺ⁻¹⁾ − α ∇f(W̄) through its device response (F, G of the paper's eq. 2),

and each tile n+1 is transferred onto the next more significant tile n (open loop, one column
per transfer as Tiki-Taka, :mod:`~analogsgd.optim.transfer`)::

    W⁽ⁿ⁾ ← W⁽ⁿ⁾ + β_i W⁽ⁿ⁺¹⁾[:, j] e_jᵀ        every T_i steps, i = N−2−n

so that tile n learns the residual γ⁻ⁿ(W* − Σ_{n'<n} γⁿ' W⁽ⁿ'⁾) the tiles above it cannot
represent (Corollary 1: the error floor falls as γ^(2N/3)). Transfer i = 0 moves the gradient
tile, transfer i = N−2 writes the most significant tile; the lists ``transfer_every`` and
``transfer_lr`` are in this order, which is aihwkit's ``transfer_every_vec`` / ``transfer_lr_vec``
of a ``TransferCompound`` whose device 0 is the gradient tile (``gamma_vec[k] = γ^(N−1−k)``).
Transfers due at one step run in that order, from the gradient tile up, as aihwkit's loop.

**Warm start (Alg. 1).** The tiles start with W⁽⁰⁾ = the initial weight and the others at 0.
While warming, every ``warm_transfer_every`` steps the gradient tile is transferred directly onto
the current *target* tile k (rate ``transfer_lr[0]``), starting at the most significant tile;
:meth:`ResidualLearning.end_epoch` feeds the epoch's training loss to a :class:`PlateauTest`,
and each plateau moves the target one tile down. Once the target passes tile N−2 (every
tile has been a target), the chained transfers above run. The plateau test is the authors':
for the first four switches a rise of the epoch loss by more than 1e-4, after that at least 2 of
the last 5 epoch-to-epoch changes ≥ −0.01; the loss history is cleared at each switch.

**Reads.** Each tile is read through its own periphery and the outputs are summed with the
gains (:class:`~analogsgd.optim.stack.TileStack`); ``combined_read=True`` reads W̄ once through
tile 0's periphery, as aihwkit's compound reads Σ_k γ_k W_k (docs/rules.md, "Residual learning
against aihwkit").
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from torch import Tensor

from ..config import (
    NON_NEGATIVE_INT,
    POSITIVE_INT,
    Config,
    InstanceOf,
    Interval,
    IsBool,
    NumberList,
    OrNone,
    check_argument,
    param,
)
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
class PlateauTest(Config):
    """When the epoch loss has plateaued (the residual-learning code's LeNet test).

    With ``losses`` the epoch losses since the last switch and Δ_e their successive changes:
    before ``early_switches`` switches, a plateau is Δ_last > ``early_rise``; after, at least
    ``late_count`` of the last ``window`` changes are ≥ ``late_threshold`` (so it needs
    ``window`` + 1 losses).
    """

    early_switches: int = param(4, "switches decided by the early test", NON_NEGATIVE_INT)
    early_rise: float = param(1e-4, "early test: the last epoch's loss rose by more than this",
                              Interval(None, None))
    window: int = param(5, "late test: the number of last epoch-to-epoch changes looked at",
                        POSITIVE_INT)
    late_count: int = param(2, "late test: how many of them must be ≥ late_threshold",
                            POSITIVE_INT)
    late_threshold: float = param(-0.01, "late test: a change ≥ this counts as no progress",
                                  Interval(None, None))

    def check_invariants(self) -> None:
        if self.late_count > self.window:
            raise ConfigError("PlateauTest.late_count", self.late_count,
                              f"at most window = {self.window}")

    def plateaued(self, losses: list[float], switches: int) -> bool:
        """True when the losses since the last switch (oldest first) show a plateau, the
        ``switches``-th switch not yet made."""
        changes = [b - a for a, b in itertools.pairwise(losses)]
        if switches < self.early_switches:
            return bool(changes) and changes[-1] > self.early_rise
        if len(changes) < self.window:
            return False
        return sum(c >= self.late_threshold for c in changes[-self.window:]) >= self.late_count


def authors_transfer_every(n_tiles: int) -> tuple[int, ...]:
    """T_i = 2·5ⁱ steps (the authors' LeNet-5 setting, ``transfer_every_vec``)."""
    return tuple(2 * 5**i for i in range(n_tiles - 1))


def authors_transfer_lr(n_tiles: int) -> tuple[float, ...]:
    """β_i = 0.1·1.2^(N−1−i) (the authors' LeNet-5 setting, ``transfer_lr_vec``): largest for
    the gradient tile's transfer."""
    return tuple(0.1 * 1.2 ** (n_tiles - 1 - i) for i in range(n_tiles - 1))


@register
@dataclass(frozen=True)
class ResidualConfig(RuleConfig):
    """Multi-tile residual learning: N tiles read as Σ γⁿ W⁽ⁿ⁾, the gradient on the last,
    chained transfers n+1 → n and the warm start of Alg. 1."""

    kind = "residual"
    label = "Residual learning"
    colour = "tab:brown"
    fast_tile = True
    #: the roles of the smallest stack (N = 2); :meth:`roles` gives this config's N roles
    tile_roles = ("tile0", "tile1")

    n_tiles: int = param(4, "N: the number of tiles (the last one takes the gradient)",
                         Interval(2, None, integer=True))
    gamma: float = param(0.5, "γ: tile n is read with gain γⁿ (best just above 1/n_states)",
                         Interval(0.0, 1.0, low_open=True, high_open=True))
    transfer_every: list | None = param(None, "T_i, steps between transfers i = 0 … N−2 "
                                        "(i = 0: the gradient tile's); None: 2·5ⁱ",
                                        OrNone(NumberList(POSITIVE_INT)))
    transfer_lr: list | None = param(None, "β_i, the rate of transfer i = 0 … N−2; None: "
                                     "0.1·1.2^(N−1−i)",
                                     OrNone(NumberList(Interval(0.0, None, low_open=True))))
    schedule_transfer_lr: bool = param(False, "the transfer rates follow the optimizer's "
                                       "schedule: β_i,t = β_i·lr_t/lr_0 (aihwkit's "
                                       "scale_transfer_lr)", IsBool())
    warm_start: bool = param(True, "Alg. 1's warm start (False: chained transfers from the "
                             "first step)", IsBool())
    warm_transfer_every: int | None = param(None, "steps between two warm-start transfers "
                                            "(None: T_1 when N > 2, else T_0)",
                                            OrNone(POSITIVE_INT))
    plateau: PlateauTest = param(PlateauTest(), "when the warm start moves on to the next tile",
                                 InstanceOf(PlateauTest))
    columns_per_transfer: int = param(1, "columns read per transfer (0: all at once)",
                                      NON_NEGATIVE_INT)
    transfer_forward: IOConfig | None = param(None, "periphery of the transfer reads (None: "
                                              "the source tile's forward read with noise and bound "
                                              "management off)", OrNone(InstanceOf(IOConfig)))
    combined_read: bool = param(False, "read W̄ = Σ γⁿ W⁽ⁿ⁾ once through tile 0's periphery, "
                                "as aihwkit's TransferCompound (False: each tile through its own, "
                                "each drawing its own read noise)", IsBool())

    def check_invariants(self) -> None:
        for name in ("transfer_every", "transfer_lr"):
            value = getattr(self, name)
            if value is not None and len(value) != self.n_tiles - 1:
                raise ConfigError(f"ResidualConfig.{name}", list(value),
                                  f"N − 1 = {self.n_tiles - 1} values, one per transfer")

    def without_epochs(self) -> ResidualConfig:
        """Without epochs there is no plateau to wait for: chained transfers from the start."""
        return self.replace(warm_start=False)

    def roles(self) -> tuple[str, ...]:
        """``tile0`` (the most significant, gain 1) … ``tile{N−1}`` (the gradient tile)."""
        return tuple(f"tile{n}" for n in range(self.n_tiles))

    @property
    def gammas(self) -> tuple[float, ...]:
        """γⁿ, n = 0 … N−1."""
        return tuple(self.gamma**n for n in range(self.n_tiles))

    @property
    def periods(self) -> tuple[int, ...]:
        """T_i, i = 0 … N−2."""
        return tuple(self.transfer_every or authors_transfer_every(self.n_tiles))

    @property
    def rates(self) -> tuple[float, ...]:
        """β_i, i = 0 … N−2."""
        return tuple(self.transfer_lr or authors_transfer_lr(self.n_tiles))

    @property
    def warm_period(self) -> int:
        """Steps between two warm-start transfers."""
        if self.warm_transfer_every is not None:
            return self.warm_transfer_every
        return self.periods[1 if self.n_tiles > 2 else 0]

    def transfer_rate(self, rate, lr, initial_lr=None):
        """A transfer's rate at this step (lr₀ = ``initial_lr``, None: lr)."""
        return scheduled_rate(rate, lr, initial_lr, self.schedule_transfer_lr)

    def build(self, tiles: tuple[AnalogTile, ...], weight: Tensor | None = None,
              generator=None) -> ResidualLearning:
        return ResidualLearning(tiles, self)


class WarmStart:
    """Alg. 1's schedule state: the current target tile, the switches made and the epoch
    losses since the last switch."""

    def __init__(self, n_tiles: int, active: bool):
        #: the tile that receives the gradient tile's transfers; N − 1 once warming is over
        self.target = 0 if active else n_tiles - 1
        self.switches = 0
        self.losses: list[float] = []
        self.n_tiles = n_tiles

    @property
    def warming(self) -> bool:
        return self.target < self.n_tiles - 1

    def end_epoch(self, loss: float, test: PlateauTest) -> bool:
        """Record an epoch loss; move to the next target on a plateau (True when it moved)."""
        if not self.warming:
            return False
        self.losses.append(float(loss))
        if not test.plateaued(self.losses, self.switches):
            return False
        self.target += 1
        self.switches += 1
        self.losses = []
        return True

    def state_dict(self) -> dict:
        return {"target": self.target, "switches": self.switches, "losses": list(self.losses)}

    def load_state_dict(self, state: dict) -> None:
        self.target, self.switches = int(state["target"]), int(state["switches"])
        self.losses = [float(v) for v in state["losses"]]


class ResidualLearning(LearningRule):
    """Residual learning over N tiles of one shape (``tiles[0]`` the most significant,
    ``tiles[-1]`` the gradient tile)."""

    def __init__(self, tiles: tuple[AnalogTile, ...], config: ResidualConfig = ResidualConfig()):
        self.config = check_argument("ResidualLearning.config", config, InstanceOf(ResidualConfig))
        tiles = tuple(tiles)
        if len(tiles) != config.n_tiles:
            raise ConfigError("ResidualLearning.tiles", f"{len(tiles)} tiles",
                              f"n_tiles = {config.n_tiles} tiles")
        for n, tile in enumerate(tiles):
            check_tile(f"ResidualLearning.tiles[{n}]", tile)
        self._tiles = tiles
        self.stack = TileStack(tiles, config.gammas, combined=config.combined_read)
        columns = config.columns_per_transfer
        self.cursors = [TransferCursor(TransferSchedule(every=t, unit="step", columns=columns))
                        for t in config.periods]
        self.warm = WarmStart(config.n_tiles, config.warm_start)
        self.warm_cursor = TransferCursor(TransferSchedule(every=config.warm_period, unit="step",
                                                           columns=columns))
        self.ios = [transfer_io(t, config.transfer_forward) for t in tiles]
        self.transfer_lr = config.rates

    @property
    def transfer_lr(self) -> tuple:
        """β_i, i = 0 … N−2 (settable; each may be a tensor of one value per replica)."""
        return self._transfer_lr

    @transfer_lr.setter
    def transfer_lr(self, values) -> None:
        values = tuple(values)
        if len(values) != len(self.cursors):
            raise ConfigError("ResidualLearning.transfer_lr", f"{len(values)} rates",
                              f"N − 1 = {len(self.cursors)} rates")
        self._transfer_lr = tuple(check_lr(f"ResidualLearning.transfer_lr[{i}]", v)
                                  for i, v in enumerate(values))

    @property
    def tiles(self) -> tuple[AnalogTile, ...]:
        return self._tiles

    @property
    def gradient_tile(self) -> AnalogTile:
        return self._tiles[-1]

    @property
    def target(self) -> int:
        """The warm start's current target tile (N − 1 once warming is over)."""
        return self.warm.target

    @property
    def weight(self) -> Tensor:
        """W̄ = Σ_n γⁿ W⁽ⁿ⁾."""
        return self.stack.weight

    def forward(self, x: Tensor) -> Tensor:
        """y = Σ_n γⁿ x W⁽ⁿ⁾ᵀ, each tile read through its periphery (``combined_read``: x W̄ᵀ
        read once through tile 0's)."""
        return self.stack.forward(x)

    def backward(self, d: Tensor) -> Tensor:
        """z = Σ_n γⁿ d W⁽ⁿ⁾, read like :meth:`forward`."""
        return self.stack.backward(d)

    def program(self, weight: Tensor) -> None:
        """W⁽⁰⁾ holds the initial weight, every other tile starts at zero (Alg. 1)."""
        self._tiles[0].set_weight(weight)
        for tile in self._tiles[1:]:
            tile.set_weight(weight.new_zeros(weight.shape))

    def step(self, x: Tensor, d: Tensor, lr, initial_lr=None) -> None:
        self.gradient_tile.update(x, d, self._rate(lr, initial_lr))
        self._after_step(lr, initial_lr)

    def step_dense(self, grad: Tensor, lr, initial_lr=None) -> None:
        self.gradient_tile.apply(-per_replica(self._rate(lr, initial_lr), grad) * grad)
        self._after_step(lr, initial_lr)

    def _after_step(self, lr, initial_lr) -> None:
        cfg, last = self.config, self.config.n_tiles - 1
        if self.warm.warming:
            rate = cfg.transfer_rate(self._transfer_lr[0], lr, initial_lr)
            for _ in range(self.warm_cursor.due(1)):
                self.transfer(last, self.warm.target, rate, self.warm_cursor)
            return
        for i, cursor in enumerate(self.cursors):
            rate = cfg.transfer_rate(self._transfer_lr[i], lr, initial_lr)
            for _ in range(cursor.due(1)):
                self.transfer(last - i, last - i - 1, rate, cursor)

    def transfer(self, source: int, dest: int, rate, cursor: TransferCursor) -> None:
        """Read the next column(s) of tile ``source`` through its transfer periphery and write
        them onto tile ``dest``: W⁽ᵈᵉˢᵗ⁾ ← W⁽ᵈᵉˢᵗ⁾ + rate · W⁽ˢᵒᵘʳᶜᵉ⁾[:, j] e_jᵀ."""
        src = self._tiles[source]
        columns = cursor.take(src.shape[-1])
        eye = one_hot(src, columns)
        write_columns(self._tiles[dest], eye, read_columns(src, eye, self.ios[source], columns),
                      rate)

    def end_epoch(self, loss: float) -> None:
        """Feed the epoch's training loss to the warm start's plateau test."""
        self.warm.end_epoch(loss, self.config.plateau)

    def _roles(self) -> dict[str, AnalogTile]:
        return dict(zip(self.config.roles(), self._tiles, strict=True))

    def state_dict(self) -> dict:
        return {"tiles": [t.state_dict() for t in self._tiles],
                "cursors": [c.state_dict() for c in self.cursors],
                "warm_cursor": self.warm_cursor.state_dict(), "warm": self.warm.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        if len(state["tiles"]) != len(self._tiles):
            raise ConfigError("ResidualLearning.load_state_dict", f"{len(state['tiles'])} tiles",
                              f"{len(self._tiles)} tiles")
        for tile, s in zip(self._tiles, state["tiles"], strict=True):
            tile.load_state_dict(s)
        for cursor, s in zip(self.cursors, state["cursors"], strict=True):
            cursor.load_state_dict(s)
        self.warm_cursor.load_state_dict(state["warm_cursor"])
        self.warm.load_state_dict(state["warm"])
