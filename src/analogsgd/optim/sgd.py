"""Digital SGD (the reference) and Analog SGD on one tile.

* Digital SGD: W ← W − α ∇f(W) in floating point.
* Analog SGD (Eq. (3) of Wu et al., NeurIPS 2024, general form Eq. (2) of Li et al. 2025):
  the tile applies ΔW = −α(∇f + ε) through its device response,
  W ← W + ΔW ⊙ F(W) − |ΔW| ⊙ G(W) (+ ζ), in expectation or pulse by pulse.
"""

from __future__ import annotations

from torch import Tensor

from ..config import InstanceOf, check_argument
from ..crossbar.replicas import per_replica
from ..crossbar.tile import AnalogTile
from .base import LearningRule, check_lr, check_tile


class DigitalSGD(LearningRule):
    """Floating-point SGD: the reference every analog rule is compared with."""

    name = "digital_sgd"

    def __init__(self, weight: Tensor, lr: float | Tensor):
        self._w = check_argument("DigitalSGD.weight", weight, InstanceOf(Tensor)).clone()
        self.lr = check_lr("DigitalSGD.lr", lr)

    @property
    def weight(self) -> Tensor:
        return self._w

    def step(self, x: Tensor, d: Tensor) -> None:
        self.step_dense(d.transpose(-1, -2) @ x)

    def program(self, weight: Tensor) -> None:
        self._w = weight.to(self._w).clone()

    def step_dense(self, grad: Tensor) -> None:
        self._w = self._w - per_replica(self.lr, grad) * grad

    def state_dict(self) -> dict:
        return {"weight": self._w.clone()}

    def load_state_dict(self, state: dict) -> None:
        self._w = state["weight"].clone()


class AnalogSGD(LearningRule):
    """Analog SGD: the gradient is written straight onto one tile."""

    name = "analog_sgd"

    def __init__(self, tile: AnalogTile, lr: float | Tensor):
        self.tile = check_tile("AnalogSGD.tile", tile)
        self.lr = check_lr("AnalogSGD.lr", lr)

    @property
    def weight(self) -> Tensor:
        return self.tile.weight

    def step(self, x: Tensor, d: Tensor) -> None:
        self.tile.update(x, d, self.lr)

    def forward(self, x: Tensor) -> Tensor:
        return self.tile.forward(x)

    def backward(self, d: Tensor) -> Tensor:
        return self.tile.backward(d)

    def program(self, weight: Tensor) -> None:
        self.tile.set_weight(weight)

    @property
    def tiles(self) -> tuple[AnalogTile, ...]:
        return (self.tile,)

    def step_dense(self, grad: Tensor) -> None:
        self.tile.apply(-per_replica(self.lr, grad) * grad)

    def state_dict(self) -> dict:
        return {"tile": self.tile.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.tile.load_state_dict(state["tile"])


