"""Digital SGD (the reference) and Analog SGD on one tile.

* Digital SGD: W ← W − α ∇f(W) in floating point.
* Analog SGD (Eq. (3) of Wu et al., NeurIPS 2024, general form Eq. (2) of Li et al. 2025):
  the tile applies ΔW = −α(∇f + ε) through its device response,
  W ← W + ΔW ⊙ F(W) − |ΔW| ⊙ G(W) (+ ζ), in expectation or pulse by pulse.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from ..config import InstanceOf, check_argument
from ..crossbar.replicas import per_replica
from ..crossbar.tile import AnalogTile
from .base import LearningRule, TileRule
from .registry import RuleConfig, register


@register
@dataclass(frozen=True)
class DigitalSGDConfig(RuleConfig):
    """Floating-point SGD at rate α = lr."""

    kind = "digital_sgd"
    label = "Digital SGD"
    colour = "black"

    def build(self, tiles: tuple[AnalogTile, ...] = (), weight: Tensor | None = None,
              generator=None) -> DigitalSGD:
        return DigitalSGD(check_argument("DigitalSGDConfig.build.weight", weight, InstanceOf(Tensor)),
                          self)


@register
@dataclass(frozen=True)
class AnalogSGDConfig(RuleConfig):
    """The gradient written straight onto one tile at rate α = lr."""

    kind = "analog_sgd"
    label = "Analog SGD"
    colour = "tab:red"
    tile_roles = ("tile",)

    def build(self, tiles: tuple[AnalogTile, ...], weight: Tensor | None = None,
              generator=None) -> AnalogSGD:
        (tile,) = tiles
        return AnalogSGD(tile, self)


class DigitalSGD(LearningRule):
    """Floating-point SGD: the reference every analog rule is compared with."""

    def __init__(self, weight: Tensor, config: DigitalSGDConfig = DigitalSGDConfig()):
        self._w = check_argument("DigitalSGD.weight", weight, InstanceOf(Tensor)).clone()
        self.config = check_argument("DigitalSGD.config", config, InstanceOf(DigitalSGDConfig))

    @property
    def weight(self) -> Tensor:
        return self._w

    def step(self, x: Tensor, d: Tensor, lr, initial_lr=None) -> None:
        self.step_dense(d.transpose(-1, -2) @ x, lr, initial_lr)

    def program(self, weight: Tensor) -> None:
        self._w = weight.to(self._w).clone()

    def step_dense(self, grad: Tensor, lr, initial_lr=None) -> None:
        self._w = self._w - per_replica(self._rate(lr, initial_lr), grad) * grad

    def state_dict(self) -> dict:
        return {"weight": self._w.clone()}

    def load_state_dict(self, state: dict) -> None:
        self._w = state["weight"].clone()


class AnalogSGD(TileRule):
    """Analog SGD: the gradient is written straight onto one tile."""

    def __init__(self, tile: AnalogTile, config: AnalogSGDConfig = AnalogSGDConfig()):
        super().__init__(tile)
        self.config = check_argument("AnalogSGD.config", config, InstanceOf(AnalogSGDConfig))

    def step(self, x: Tensor, d: Tensor, lr, initial_lr=None) -> None:
        self.tile.update(x, d, self._rate(lr, initial_lr))

    def step_dense(self, grad: Tensor, lr, initial_lr=None) -> None:
        self.tile.apply(-per_replica(self._rate(lr, initial_lr), grad) * grad)

    def state_dict(self) -> dict:
        return {"tile": self.tile.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.tile.load_state_dict(state["tile"])
