"""One error hierarchy for the whole package.

Every configuration error has one shape (scikit-learn style): the field path, the value
received, what is allowed, and how to fix it::

    ConfigError: SoftBounds.dw_min must be a finite number > 0; got -0.001 instead.
"""

from __future__ import annotations

import math
from typing import Any

import torch


class AnalogSGDError(Exception):
    """Base class of every error raised on purpose by analogsgd."""


class ConfigError(AnalogSGDError, ValueError):
    """An invalid configuration value, reported before any work starts.

    Args:
        field: dotted path of the offending field, e.g. ``"SoftBounds.dw_min"``.
        value: the value received.
        allowed: what is allowed, e.g. ``"a finite number > 0"``.
        fix: optional hint on how to fix it.
    """

    def __init__(self, field: str, value: Any, allowed: str, fix: str | None = None):
        self.field, self.value, self.allowed, self.fix = field, value, allowed, fix
        message = f"{field} must be {allowed}; got {value!r} instead."
        if fix:
            message += f" {fix}"
        super().__init__(message)


class NonFiniteError(AnalogSGDError, FloatingPointError):
    """A simulated quantity became NaN or infinite; the run stops instead of writing garbage."""


def check_finite(tensor: torch.Tensor, what: str, step: int | None = None) -> torch.Tensor:
    """Raise :class:`NonFiniteError` naming ``what`` (and the step) if ``tensor`` is not finite."""
    if not bool(torch.isfinite(tensor).all()):
        bad = int((~torch.isfinite(tensor)).sum())
        at = f" at step {step}" if step is not None else ""
        raise NonFiniteError(
            f"{what} became non-finite{at} ({bad} of {tensor.numel()} entries are NaN or inf); "
            "lower the learning rate or check the device bounds."
        )
    return tensor


def is_real_number(value: Any) -> bool:
    """True for int/float (not bool) values; NaN counts as a number here, finiteness is separate."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_finite_number(value: Any) -> bool:
    return is_real_number(value) and math.isfinite(value)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
