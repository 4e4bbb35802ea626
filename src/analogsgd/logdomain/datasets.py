"""Regression data: synthetic single/multi-feature sets and scikit-learn's diabetes (10 features).

Every set is standardised (features and target to zero mean, unit variance), as the DAC full
scale is stated in standardised units; sample order comes from the generator passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Dataset:
    name: str
    X: np.ndarray  # (S, N)
    y: np.ndarray  # (S,)

    @property
    def n_features(self) -> int:
        return self.X.shape[1]


def _standardise(X, y):
    X = (X - X.mean(0)) / X.std(0)
    y = (y - y.mean()) / y.std()
    return X, y


def synthetic(n_samples: int, n_features: int, rng: np.random.Generator, noise: float = 0.1,
              name: str | None = None) -> Dataset:
    """y = X w* + b* + noise with w* ~ N(0, 1/N), b* = 0.3, X ~ N(0, 1)."""
    X = rng.standard_normal((n_samples, n_features))
    w = rng.standard_normal(n_features) / np.sqrt(n_features)
    y = X @ w + 0.3 + noise * rng.standard_normal(n_samples)
    X, y = _standardise(X, y)
    return Dataset(name or f"synthetic-{n_features}f", X, y)


def diabetes() -> Dataset:
    """scikit-learn's diabetes set (442 samples, 10 features; Efron et al. 2004), standardised."""
    from sklearn.datasets import load_diabetes

    d = load_diabetes()
    X, y = _standardise(d.data.astype(float), d.target.astype(float))
    return Dataset("diabetes", X, y)


def stream(ds: Dataset, epochs: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The sample stream: ``epochs`` passes, each in a fresh random order."""
    idx = np.concatenate([rng.permutation(len(ds.y)) for _ in range(epochs)])
    return ds.X[idx], ds.y[idx]


def check_name(name, field: str = "dataset") -> None:
    """Raise ConfigError unless ``name`` is 'diabetes' or 'synthetic-<N>f'."""
    from ..errors import ConfigError

    ok = name == "diabetes" or (isinstance(name, str) and name.startswith("synthetic-")
                                and name[len("synthetic-"):].rstrip("f").isdigit()
                                and int(name[len("synthetic-"):].rstrip("f")) >= 1)
    if not ok:
        raise ConfigError(field, name, "'diabetes' or 'synthetic-<N>f' with N >= 1")


def make(name: str, rng: np.random.Generator, n_samples: int = 400) -> Dataset:
    if name == "diabetes":
        return diabetes()
    if name.startswith("synthetic-"):
        n = int(name.split("-")[1].rstrip("f"))
        return synthetic(n_samples, n, rng, name=name)
    raise ValueError(f"unknown dataset {name!r}")
