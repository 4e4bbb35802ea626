"""Tiki-Taka v1 (Gokmen & Haensch 2020; analysed as (TT-P)/(TT-W) in Wu et al., NeurIPS 2024).

Two tiles: the fast array A (called P in Wu et al.) receives the gradient, the slow array C
(W in Wu et al.) receives A's content column by column:

* (TT-P) every step:  A ← A − β (∇f(W̄) + ε)              through A's device response;
* (TT-W) every ``transfer_every`` steps: read column(s) j of A (a one-hot forward read) and
  write C ← C + α A[:, j] e_jᵀ                              through C's device response;
* the gradient is taken at W̄ = γ A + C (γ = ``gamma``; γ = 0 is the original algorithm, γ > 0
  the residual-learning reading of Li et al. 2025).

``fast_lr`` is β, ``transfer_lr`` is α. With ``columns_per_transfer = "one"`` the columns are
visited cyclically, one per transfer; with ``"all"`` the whole of A is transferred at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..config import NON_NEGATIVE, POSITIVE_INT, Config, InstanceOf, OneOf, check_argument, param
from ..crossbar.replicas import per_replica
from ..crossbar.tile import AnalogTile
from ..errors import ConfigError
from .base import LearningRule, check_lr, check_tile


@dataclass(frozen=True)
class TikiTakaConfig(Config):
    """Schedule of the transfer from the fast array A to the slow array C."""

    transfer_every: int = param(1, "k: steps between two transfers", POSITIVE_INT)
    columns_per_transfer: str = param("one", "'one' column (cyclic) or 'all' columns per transfer",
                                      OneOf(("one", "all")))
    gamma: float = param(0.0, "γ: the gradient is taken at γA + C", NON_NEGATIVE)


class TikiTaka(LearningRule):
    """Tiki-Taka v1 over a fast tile A and a slow tile C of the same shape."""

    name = "tiki_taka"
    gradient_lr_attribute = "fast_lr"

    def __init__(self, fast: AnalogTile, slow: AnalogTile, fast_lr: float | Tensor,
                 transfer_lr: float | Tensor, config: TikiTakaConfig = TikiTakaConfig()):
        check_tile("TikiTaka.fast", fast)
        if check_tile("TikiTaka.slow", slow).shape != fast.shape:
            raise ConfigError("TikiTaka.slow", f"a tile of shape {slow.shape}",
                              f"a tile of the fast tile's shape {fast.shape}")
        self.fast, self.slow = fast, slow
        self.fast_lr = check_lr("TikiTaka.fast_lr", fast_lr)
        self.transfer_lr = check_lr("TikiTaka.transfer_lr", transfer_lr)
        self.config = check_argument("TikiTaka.config", config, InstanceOf(TikiTakaConfig))
        self.steps = 0
        self.next_column = 0

    @property
    def weight(self) -> Tensor:
        gamma = self.config.gamma
        return self.slow.weight + gamma * self.fast.weight if gamma else self.slow.weight

    def step(self, x: Tensor, d: Tensor) -> None:
        self.fast.update(x, d, self.fast_lr)
        self._after_step()

    def forward(self, x: Tensor) -> Tensor:
        """y = x (C + γA)ᵀ: C's read, plus γ times A's read when γ > 0 (two tiles whose output
        currents are scaled and summed, as in the multi-tile residual reading of Li et al. 2025)."""
        gamma = self.config.gamma
        y = self.slow.forward(x)
        return y + gamma * self.fast.forward(x) if gamma else y

    def backward(self, d: Tensor) -> Tensor:
        """z = d (C + γA), read like :meth:`forward`."""
        gamma = self.config.gamma
        z = self.slow.backward(d)
        return z + gamma * self.fast.backward(d) if gamma else z

    def program(self, weight: Tensor) -> None:
        """C holds the initial weight, A starts at zero (its reference)."""
        self.slow.set_weight(weight)
        self.fast.set_weight(weight.new_zeros(weight.shape))

    @property
    def tiles(self) -> tuple[AnalogTile, ...]:
        return (self.fast, self.slow)

    def step_dense(self, grad: Tensor) -> None:
        self.fast.apply(-per_replica(self.fast_lr, grad) * grad)
        self._after_step()

    def _after_step(self) -> None:
        self.steps += 1
        if self.steps % self.config.transfer_every == 0:
            self.transfer()

    def transfer(self) -> None:
        """Read column(s) of A through a one-hot forward pass and write them onto C."""
        in_size = self.fast.shape[-1]
        if self.config.columns_per_transfer == "all":
            columns = torch.arange(in_size)
        else:
            columns = torch.tensor([self.next_column])
            self.next_column = (self.next_column + 1) % in_size
        lead = self.fast.shape[:-2]
        g = self.fast.conductance                   # dtype and device only (no weight formed)
        eye = torch.zeros(lead + (len(columns), in_size), dtype=g.dtype, device=g.device)
        eye[..., torch.arange(len(columns)), columns] = 1.0
        read = self.fast.forward(eye)               # (..., n_cols, out): A[:, j] for each j
        # C ← C + α A[:, j] e_jᵀ  ==  update with x = e_j, d = −A[:, j]
        self.slow.update(eye, -read, self.transfer_lr)

    def state_dict(self) -> dict:
        return {"fast": self.fast.state_dict(), "slow": self.slow.state_dict(),
                "steps": self.steps, "next_column": self.next_column}

    def load_state_dict(self, state: dict) -> None:
        self.fast.load_state_dict(state["fast"])
        self.slow.load_state_dict(state["slow"])
        self.steps, self.next_column = int(state["steps"]), int(state["next_column"])
