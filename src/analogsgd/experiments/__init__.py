"""Named, versioned experiments that reproduce the papers' figures and tables.

Each module in this package that defines a module-level ``EXPERIMENT`` (an
:class:`~analogsgd.experiments.base.Experiment`) is registered under its name; adding an
experiment means adding one module, nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil

from ..errors import ConfigError
from .base import Experiment, RunContext

__all__ = ["Experiment", "RunContext", "all_experiments", "get_experiment"]


def all_experiments() -> dict[str, Experiment]:
    """Every registered experiment, by name, sorted."""
    found: dict[str, Experiment] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        exp = getattr(module, "EXPERIMENT", None)
        if isinstance(exp, Experiment):
            if exp.name in found:
                raise RuntimeError(f"two experiments are named {exp.name!r}")
            found[exp.name] = exp
    return dict(sorted(found.items()))


def get_experiment(name: str) -> Experiment:
    experiments = all_experiments()
    if name not in experiments:
        raise ConfigError("experiment", name, "one of " + ", ".join(experiments),
                          "Run `analogsgd list` to see them.")
    return experiments[name]
