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


def as_torch_generator(generator: torch.Generator | int, name: str,
                       device: str | torch.device = "cpu") -> torch.Generator:
    """``generator`` itself, or a new one on ``device`` seeded with an int seed; anything else
    (None, a float, a generator on another device type) is a ConfigError naming ``name``."""
    from .errors import ConfigError

    if isinstance(generator, int) and not isinstance(generator, bool):
        return torch_generator(generator, device)
    if not isinstance(generator, torch.Generator):
        raise ConfigError(name, generator, "an int seed or a torch.Generator",
                          "Every random draw comes from a seeded generator, e.g. generator=0.")
    want = torch.device(device).type
    if torch.device(generator.device).type != want:
        raise ConfigError(name, f"a generator on {generator.device}", f"a generator on {want}",
                          f"Pass an int seed, or torch.Generator(device='{want}').manual_seed(s).")
    return generator
