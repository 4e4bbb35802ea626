"""Learning rules: explicit objects that update weights from a gradient, called visibly.

A rule exposes :attr:`weight` (the weight at which the caller evaluates the gradient) and two
ways to pass that gradient, each with its learning rate as an argument:

* :meth:`step` ``(x, d, lr)`` with the batch's inputs ``x`` (..., B, in) and output errors ``d``
  (..., B, out), so that the gradient is Σ_b d_bᵀ x_b, as a crossbar receives it (rank-B outer
  products);
* :meth:`step_dense` ``(grad, lr)`` with an already formed gradient matrix (..., out, in), e.g. a
  noisy least-squares gradient ∇f(W) + ε.

``lr`` is the rate of the gradient write (see :class:`~analogsgd.optim.registry.RuleConfig`); with
a learning-rate schedule, ``initial_lr`` is its initial value lr₀, from which the rule's config
derives its other rates. Learning rates may be tensors of one value per replica (leading
dimension), so that a whole learning-rate sweep runs as one batched simulation.

For networks (:mod:`analogsgd.nn`) a rule also reads its weight the way the hardware does:
:meth:`forward` (y = x W̄ᵀ) and :meth:`backward` (z = d W̄) go through the tiles' periphery, and
:meth:`program` writes an initial weight. Every hidden array (a fast tile, a buffer, chopper
signs, a reference) is named in :meth:`arrays` and can be set with :meth:`set_array`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch
from torch import Tensor

from ..config import InstanceOf, check_argument
from ..crossbar.replicas import check_lr
from ..crossbar.tile import AnalogTile
from ..errors import ConfigError
from .registry import RuleConfig


def check_tile(name: str, tile: Any) -> AnalogTile:
    """``tile`` if it is an :class:`AnalogTile`, else a ConfigError naming ``name``."""
    return check_argument(name, tile, InstanceOf(AnalogTile))


class LearningRule(ABC):
    """A learning rule over tiles (abstract), built from its :class:`RuleConfig`."""

    #: the rule's configuration (kind, rates, schedule)
    config: RuleConfig

    @property
    def kind(self) -> str:
        """The rule's registry name."""
        return type(self.config).kind or ""

    @property
    @abstractmethod
    def weight(self) -> Tensor:
        """The weight at which the gradient is evaluated (and the model's output is computed)."""

    @abstractmethod
    def step(self, x: Tensor, d: Tensor, lr: float | Tensor,
             initial_lr: float | Tensor | None = None) -> None:
        """One update from the gradient Σ_b d_bᵀ x_b at gradient-write rate ``lr``."""

    @abstractmethod
    def step_dense(self, grad: Tensor, lr: float | Tensor,
                   initial_lr: float | Tensor | None = None) -> None:
        """One update from a gradient matrix at gradient-write rate ``lr``."""

    def _rate(self, lr: float | Tensor, initial_lr: float | Tensor | None) -> float | Tensor:
        """The gradient-write rate of this step (checked), per the config's schedule."""
        check_lr(f"{type(self).__name__}.step.lr", lr)
        if initial_lr is not None:
            check_lr(f"{type(self).__name__}.step.initial_lr", initial_lr)
        return self.config.gradient_rate(lr, initial_lr)

    # -- reads and writes used by the torch layers (ideal digital reads by default) -----------
    def forward(self, x: Tensor) -> Tensor:
        """y = x W̄ᵀ as the hardware reads it (here: an exact digital product)."""
        return x @ self.weight.transpose(-1, -2)

    def backward(self, d: Tensor) -> Tensor:
        """z = d W̄ as the hardware reads it (here: an exact digital product)."""
        return d @ self.weight

    def end_epoch(self, loss: float) -> None:
        """Called by a training loop once per epoch with the epoch's training loss, for rules
        whose schedule follows it (residual learning's warm start); default: nothing."""

    @abstractmethod
    def program(self, weight: Tensor) -> None:
        """Write an initial weight W̄ (clipped to the devices' bounds where there are any)."""

    @property
    def tiles(self) -> tuple[AnalogTile, ...]:
        """The tiles the rule owns (none for a digital rule)."""
        return ()

    def arrays(self) -> dict[str, Tensor]:
        """Every array the rule holds, by name (copies): ``weight`` (W̄), each tile's weight
        (``<role>``) and the rule's hidden state (:meth:`_hidden`: buffers, chopper signs,
        references, accumulators)."""
        out = {"weight": self.weight.clone()}
        out.update({role: tile.weight.clone() for role, tile in self._roles().items()})
        out.update({name: getattr(obj, attr).clone() for name, (obj, attr) in self._hidden().items()})
        return out

    def set_array(self, name: str, value: Tensor) -> None:
        """Set one of :meth:`arrays`: ``weight`` is programmed (:meth:`program`), a tile's weight
        is programmed onto it (clipped to its bounds), a hidden array must be a finite tensor
        that broadcasts to its shape (and pass :meth:`_check_hidden`)."""
        if name == "weight":
            self.program(value)
            return
        roles, hidden = self._roles(), self._hidden()
        if name in roles:
            roles[name].set_weight(value)
            return
        if name not in hidden:
            raise ConfigError(f"{type(self).__name__}.set_array.name", name,
                              "one of " + ", ".join(self.arrays()))
        obj, attr = hidden[name]
        old = getattr(obj, attr)
        where = f"{type(self).__name__}.set_array.{name}"
        if not isinstance(value, Tensor):
            raise ConfigError(where, value, f"a tensor broadcastable to {tuple(old.shape)}")
        try:
            new = value.to(old).expand_as(old).clone()
        except RuntimeError:
            raise ConfigError(where, f"a tensor of shape {tuple(value.shape)}",
                              f"a tensor broadcastable to {tuple(old.shape)}") from None
        if old.is_floating_point() and not bool(torch.isfinite(new).all()):
            raise ConfigError(where, "a tensor with NaN or inf entries", "finite values")
        self._check_hidden(name, new)
        setattr(obj, attr, new)

    def _roles(self) -> dict[str, AnalogTile]:
        return dict(zip(self.config.roles(), self.tiles, strict=True))

    def _hidden(self) -> dict[str, tuple[object, str]]:
        """The rule's hidden arrays by name, as (holder, attribute) (none by default)."""
        return {}

    def _check_hidden(self, name: str, value: Tensor) -> None:
        """Extra checks on a hidden array before :meth:`set_array` stores it."""

    @abstractmethod
    def state_dict(self) -> dict: ...

    @abstractmethod
    def load_state_dict(self, state: dict) -> None: ...


class TileRule(LearningRule):
    """A rule over one tile whose weight is the tile's (Analog SGD, mixed precision): reads and
    programming go to the tile (abstract: subclasses define the steps)."""

    def __init__(self, tile: AnalogTile):
        self.tile = check_tile(f"{type(self).__name__}.tile", tile)

    @property
    def weight(self) -> Tensor:
        return self.tile.weight

    def forward(self, x: Tensor) -> Tensor:
        return self.tile.forward(x)

    def backward(self, d: Tensor) -> Tensor:
        return self.tile.backward(d)

    def program(self, weight: Tensor) -> None:
        self.tile.set_weight(weight)

    @property
    def tiles(self) -> tuple[AnalogTile, ...]:
        return (self.tile,)
