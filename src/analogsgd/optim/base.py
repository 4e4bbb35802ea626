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

    @abstractmethod
    def program(self, weight: Tensor) -> None:
        """Write an initial weight W̄ (clipped to the devices' bounds where there are any)."""

    @property
    def tiles(self) -> tuple[AnalogTile, ...]:
        """The tiles the rule owns (none for a digital rule)."""
        return ()

    def arrays(self) -> dict[str, Tensor]:
        """Every array the rule holds, by name (copies): ``weight`` (W̄), each tile's weight
        (``<role>``) and the rule's hidden state (buffers, chopper signs, references)."""
        out = {"weight": self.weight.clone()}
        out.update({role: tile.weight.clone() for role, tile in self._roles().items()})
        return out

    def set_array(self, name: str, value: Tensor) -> None:
        """Set one of :meth:`arrays` (a tile's weight is programmed, i.e. clipped to its bounds)."""
        if name == "weight":
            self.program(value)
            return
        roles = self._roles()
        if name in roles:
            roles[name].set_weight(value)
            return
        raise ConfigError(f"{type(self).__name__}.set_array.name", name,
                          "one of " + ", ".join(self.arrays()))

    def _roles(self) -> dict[str, AnalogTile]:
        return dict(zip(type(self.config).tile_roles, self.tiles, strict=True))

    @abstractmethod
    def state_dict(self) -> dict: ...

    @abstractmethod
    def load_state_dict(self, state: dict) -> None: ...
