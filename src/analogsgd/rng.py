"""Seeded generators: every random draw in analogsgd comes from one of these, never global state.

A run seed is split into independent child seeds with NumPy's ``SeedSequence`` so that, for
example, each tile and each Monte-Carlo instance gets its own stream while the whole run is
reproduced exactly by the one seed.
"""

from __future__ import annotations

import numpy as np
import torch


def child_seeds(seed: int, n: int) -> list[int]:
    """``n`` independent 63-bit seeds derived from ``seed``."""
    states = np.random.SeedSequence(seed).generate_state(n, dtype=np.uint64)
    return [int(s >> np.uint64(1)) for s in states]


def torch_generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed``."""
    gen = torch.Generator(device=device)
    gen.manual_seed(int(seed))
    return gen


def numpy_generator(seed: int) -> np.random.Generator:
    """A NumPy ``Generator`` (PCG64) seeded with ``seed``."""
    return np.random.default_rng(int(seed))
