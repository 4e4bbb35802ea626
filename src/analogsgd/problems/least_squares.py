"""The least-squares problem of Wu et al. (NeurIPS 2024), §5 and Fig. 1/4.

f(W) = (1/2N) Σ_n ‖W x_n − W* x_n‖² = ½ tr((W − W*) H (W − W*)ᵀ), H = XᵀX/N, with
W ∈ R^{D_out×D} (D = 40 inputs, D_out = 100 outputs), X ∈ R^{N×D} Gaussian and H rescaled so
that its largest eigenvalue (the smoothness constant L) is 1. f* = 0 at W*. Stochastic
gradients are ∇f(W) + ε with ε i.i.d. N(0, σ²) per entry, so Theorem 2's total noise is
E‖ε‖² = D_out·D·σ².
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..config import POSITIVE, POSITIVE_INT, check_argument
from ..errors import ConfigError
from ..rng import as_torch_generator


@dataclass
class LeastSquares:
    """f(W) = ½ tr((W − W*) H (W − W*)ᵀ) with W* and H given."""

    H: Tensor
    w_star: Tensor

    @classmethod
    def random(cls, d_in: int, d_out: int, n_samples: int, w_star_max: float,
               generator: torch.Generator | int, dtype: torch.dtype = torch.float64) -> LeastSquares:
        """Gaussian data X (n_samples × d_in), L = λ_max(H) = 1, W* uniform in ±w_star_max.

        ``n_samples >= d_in`` keeps H = XᵀX/N non-singular (μ = λ_min(H) > 0); ``generator``
        may be an int seed."""
        for name, value, check in (("d_in", d_in, POSITIVE_INT), ("d_out", d_out, POSITIVE_INT),
                                   ("n_samples", n_samples, POSITIVE_INT),
                                   ("w_star_max", w_star_max, POSITIVE)):
            check_argument(f"LeastSquares.random.{name}", value, check)
        if n_samples < d_in:
            raise ConfigError("LeastSquares.random.n_samples", n_samples, f">= d_in = {d_in}",
                              "With fewer samples than inputs H = XᵀX/N is singular.")
        generator = as_torch_generator(generator, "LeastSquares.random.generator")
        x = torch.randn(n_samples, d_in, generator=generator, dtype=dtype)
        h = x.T @ x / n_samples
        h = h / torch.linalg.eigvalsh(h).max()
        w_star = (2 * torch.rand(d_out, d_in, generator=generator, dtype=dtype) - 1) * w_star_max
        return cls(h, w_star)

    @property
    def smoothness(self) -> float:
        return float(torch.linalg.eigvalsh(self.H).max())

    @property
    def strong_convexity(self) -> float:
        return float(torch.linalg.eigvalsh(self.H).min())

    def gradient(self, w: Tensor) -> Tensor:
        """∇f(W) = (W − W*) H (any leading replica dimensions)."""
        return (w - self.w_star.to(w)) @ self.H.to(w)

    def loss(self, w: Tensor) -> Tensor:
        """f(W) − f* per replica (sums over the last two dimensions)."""
        e = w - self.w_star.to(w)
        return 0.5 * ((e @ self.H.to(w)) * e).sum(dim=(-1, -2))

    def ald_stationary_point(self, sigma: float, tau: float) -> Tensor:
        """Closed-form fixed point of expected Analog SGD on the ALD when |∇f| ≪ σ.

        E|g + ε| ≈ c = σ√(2/π) per entry turns Eq. (3) of Wu et al. (2024) into
        0 = −α(W − W*)H − (α c/τ) W in expectation, so W∞ = W* H (H + (c/τ) I)⁻¹: a shrinkage
        toward the symmetric point that does not depend on α.
        """
        c = sigma * (2.0 / torch.pi) ** 0.5
        eye = torch.eye(self.H.shape[0], dtype=self.H.dtype)
        return self.w_star @ self.H @ torch.linalg.inv(self.H + (c / tau) * eye)
