"""Learning rules: explicit objects that update weights from a gradient, called visibly.

A rule exposes :attr:`weight` (the weight at which the caller evaluates the gradient) and two
ways to pass that gradient:

* :meth:`step` with the batch's inputs ``x`` (..., B, in) and output errors ``d`` (..., B, out),
  so that the gradient is Σ_b d_bᵀ x_b, as a crossbar receives it (rank-B outer products);
* :meth:`step_dense` with an already formed gradient matrix (..., out, in), e.g. a noisy
  least-squares gradient ∇f(W) + ε.

Learning rates may be tensors of one value per replica (leading dimension), so that a whole
learning-rate sweep runs as one batched simulation.

For networks (:mod:`analogsgd.nn`) a rule also reads its weight the way the hardware does:
:meth:`forward` (y = x W̄ᵀ) and :meth:`backward` (z = d W̄) go through the tiles' periphery,
:meth:`program` writes an initial weight, and :attr:`gradient_lr` is the learning rate of the
gradient write (the one an optimizer's schedule drives).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from torch import Tensor

from ..config import InstanceOf, check_argument
from ..crossbar.replicas import check_lr
from ..crossbar.tile import AnalogTile


def check_tile(name: str, tile: Any) -> AnalogTile:
    """``tile`` if it is an :class:`AnalogTile`, else a ConfigError naming ``name``."""
    return check_argument(name, tile, InstanceOf(AnalogTile))


class LearningRule(ABC):
    """A learning rule over tiles (abstract)."""

    #: registry name
    name: str = ""

    @property
    @abstractmethod
    def weight(self) -> Tensor:
        """The weight at which the gradient is evaluated (and the model's output is computed)."""

    @abstractmethod
    def step(self, x: Tensor, d: Tensor) -> None:
        """One update from the gradient Σ_b d_bᵀ x_b."""

    @abstractmethod
    def step_dense(self, grad: Tensor) -> None:
        """One update from a gradient matrix."""

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

    #: the attribute that holds the gradient write's learning rate
    gradient_lr_attribute: str = "lr"

    @property
    def gradient_lr(self) -> float | Tensor:
        """The learning rate of the gradient write (Analog SGD's α, Tiki-Taka's β)."""
        return getattr(self, self.gradient_lr_attribute)

    @gradient_lr.setter
    def gradient_lr(self, lr: float | Tensor) -> None:
        setattr(self, self.gradient_lr_attribute,
                check_lr(f"{type(self).__name__}.{self.gradient_lr_attribute}", lr))

    @property
    def tiles(self) -> tuple[AnalogTile, ...]:
        """The tiles the rule owns (none for a digital rule)."""
        return ()

    @abstractmethod
    def state_dict(self) -> dict: ...

    @abstractmethod
    def load_state_dict(self, state: dict) -> None: ...
