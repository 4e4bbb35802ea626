"""Run a learning rule on a least-squares problem with noisy gradients and record its curves."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..config import POSITIVE_INT, InstanceOf, check_argument
from ..crossbar.replicas import check_lr
from ..errors import check_finite
from ..optim.base import LearningRule
from ..progress import NullProgress, Progress
from ..rng import as_torch_generator
from .least_squares import LeastSquares


@dataclass
class Trajectory:
    """Curves recorded every ``record_every`` steps, one column per replica.

    Attributes:
        steps: recorded step indices.
        loss: f(W_k) − f* (len(steps) × replicas).
        grad_sq: ‖∇f(W_k)‖² (len(steps) × replicas).
        saturation: S_K of Theorem 2 of Wu et al. (2024) per replica:
            (1/K) Σ_k (‖W_k‖∞²/τ²)/(1 − ‖W_k‖∞²/τ²) over every step (nan if ‖W_k‖∞ ≥ τ).
        final_weight: W_K.
    """

    steps: list[int] = field(default_factory=list)
    loss: list[Tensor] = field(default_factory=list)
    grad_sq: list[Tensor] = field(default_factory=list)
    saturation: Tensor | None = None
    final_weight: Tensor | None = None

    def tail_mean(self, values: list[Tensor], fraction: float) -> Tensor:
        """Mean over the last ``fraction`` of the recorded points (the plateau)."""
        n = max(1, round(len(values) * fraction))
        return torch.stack(values[-n:]).mean(dim=0)


def run_least_squares(rule: LearningRule, problem: LeastSquares, steps: int, sigma: Tensor | float,
                      generator: torch.Generator | int, record_every: int = 10,
                      tau: Tensor | float | None = None, progress: Progress | None = None,
                      description: str = "least squares", *, lr) -> Trajectory:
    """Iterate W_{k+1} = rule(W_k, ∇f(W_k) + ε_k; lr), ε_k ~ N(0, σ²) per entry.

    ``lr`` is the rule's gradient-write rate (:meth:`~analogsgd.optim.base.LearningRule.step_dense`),
    a number or one value per replica.
    ``sigma`` and ``tau`` may hold one value per replica (leading dimension of the weights);
    ``generator`` may be an int seed.
    The weights' finiteness is checked at every step (one reduction), so a divergent run stops
    with :class:`~analogsgd.errors.NonFiniteError` naming the first step whose weights are not
    finite, not the next recorded one.
    """
    check_argument("run_least_squares.rule", rule, InstanceOf(LearningRule))
    check_argument("run_least_squares.problem", problem, InstanceOf(LeastSquares))
    check_argument("run_least_squares.steps", steps, POSITIVE_INT)
    check_argument("run_least_squares.record_every", record_every, POSITIVE_INT)
    check_lr("run_least_squares.lr", lr)
    generator = as_torch_generator(generator, "run_least_squares.generator")
    progress = progress or NullProgress()
    w = rule.weight
    sig = torch.as_tensor(sigma, dtype=w.dtype).reshape(-1, *([1] * (w.dim() - 1))) if w.dim() > 2 \
        else torch.as_tensor(sigma, dtype=w.dtype)
    tau_t = None if tau is None else torch.as_tensor(tau, dtype=w.dtype)
    traj = Trajectory()
    sat_sum = torch.zeros(w.shape[:-2], dtype=torch.float64)
    chunk = max(1, steps // 50)
    with progress.task(steps, description) as bar:
        for k in range(steps + 1):
            w = rule.weight
            if not math.isfinite(float(w.sum())):   # every step, one reduction (~4 µs); the
                check_finite(w, "weights", step=k)  # full check rules out a mere sum overflow
            if k % record_every == 0 or k == steps:
                grad = problem.gradient(w)
                traj.steps.append(k)
                traj.loss.append(problem.loss(w).double())
                traj.grad_sq.append(grad.square().sum(dim=(-1, -2)).double())
            if tau_t is not None:
                ratio = (w.abs().amax(dim=(-1, -2)).double() / tau_t.double()).square()
                sat_sum += torch.where(ratio < 1, ratio / (1 - ratio), torch.full_like(ratio, float("nan")))
            if k == steps:
                break
            noise = sig * torch.randn(w.shape, generator=generator, dtype=w.dtype)
            rule.step_dense(problem.gradient(w) + noise, lr)
            if (k + 1) % chunk == 0:
                bar.advance(chunk)
    traj.saturation = sat_sum / (steps + 1) if tau_t is not None else None
    traj.final_weight = rule.weight.clone()
    return traj
