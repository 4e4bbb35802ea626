"""Learning rules: explicit objects that update weights from a gradient, called visibly.

A rule exposes :attr:`weight` (the weight at which the caller evaluates the gradient) and two
ways to pass that gradient:

* :meth:`step` with the batch's inputs ``x`` (..., B, in) and output errors ``d`` (..., B, out),
  so that the gradient is Σ_b d_bᵀ x_b, as a crossbar receives it (rank-B outer products);
* :meth:`step_dense` with an already formed gradient matrix (..., out, in), e.g. a noisy
  least-squares gradient ∇f(W) + ε.

Learning rates may be tensors of one value per replica (leading dimension), so that a whole
learning-rate sweep runs as one batched simulation.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from torch import Tensor


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

    @abstractmethod
    def state_dict(self) -> dict: ...

    @abstractmethod
    def load_state_dict(self, state: dict) -> None: ...
