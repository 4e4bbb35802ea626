"""A divergent least-squares run stops at the first step whose weights are not finite."""

import pytest
import torch

from analogsgd.errors import NonFiniteError
from analogsgd.optim import DigitalSGD
from analogsgd.problems import LeastSquares, run_least_squares


def test_the_first_non_finite_step_is_named_not_the_next_record():
    gen = torch.Generator().manual_seed(0)
    problem = LeastSquares.random(4, 3, 16, 0.3, gen)
    lr = 50.0   # α·L = 50: |1 − αλ| ≈ 49 per step along the top eigenvector, float32 overflows
    w = torch.zeros(3, 4)
    first = None   # independent reference: the plain recursion W ← W − α∇f(W), σ = 0
    for k in range(200):
        if not torch.isfinite(w).all():
            first = k
            break
        w = w - lr * problem.gradient(w)
    assert first is not None and first % 50 != 0
    rule = DigitalSGD(torch.zeros(3, 4))
    with pytest.raises(NonFiniteError, match=f"weights became non-finite at step {first} "):
        run_least_squares(rule, problem, 200, 0.0, gen, record_every=50, lr=lr)
