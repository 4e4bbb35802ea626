"""Frozen, typed configuration dataclasses with constraints declared as data.

A config class is a frozen dataclass whose fields are declared with :func:`param`, which
records the field's documentation (meaning, unit, paper symbol) and its constraint. Every
constraint is checked in ``__post_init__``, so an invalid object cannot exist; cross-field
invariants go in :meth:`Config.check_invariants`.

    >>> @dataclasses.dataclass(frozen=True)
    ... class Example(Config):
    ...     dw_min: float = param(1e-3, "minimal pulse step Δw_min", Interval(0, None, low_open=True))
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Sequence

from .errors import ConfigError, is_real_number


class Constraint:
    """A predicate over one field's value with a human description of what is allowed."""

    def ok(self, value: Any) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def invalid_example(self) -> Any:
        """A value that violates the constraint (used by the generic fuzz test)."""
        return float("nan")


@dataclass(frozen=True)
class Interval(Constraint):
    """A finite real number (or an integer if ``integer``) within [low, high]."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    integer: bool = False
    allow_inf: bool = False

    def ok(self, value: Any) -> bool:
        if self.integer:
            if not isinstance(value, int) or isinstance(value, bool):
                return False
        elif not is_real_number(value):
            return False
        if math.isnan(value) or (math.isinf(value) and not self.allow_inf):
            return False
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
            return False
        return True

    def describe(self) -> str:
        kind = "an integer" if self.integer else ("a number" if self.allow_inf else "a finite number")
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        return kind + (" " + " and ".join(parts) if parts else "")

    def invalid_example(self) -> Any:
        if self.low is not None:
            return self.low - 1
        if self.high is not None:
            return self.high + 1
        return float("nan")


@dataclass(frozen=True)
class OneOf(Constraint):
    """One of a fixed set of values."""

    choices: tuple

    def ok(self, value: Any) -> bool:
        return value in self.choices

    def describe(self) -> str:
        return "one of " + ", ".join(repr(c) for c in self.choices)

    def invalid_example(self) -> Any:
        return "__not_a_choice__"


@dataclass(frozen=True)
class IsBool(Constraint):
    def ok(self, value: Any) -> bool:
        return isinstance(value, bool)

    def describe(self) -> str:
        return "True or False"

    def invalid_example(self) -> Any:
        return "yes"


@dataclass(frozen=True)
class NumberList(Constraint):
    """A non-empty sequence of numbers each satisfying ``item``."""

    item: Interval = Interval()
    min_len: int = 1

    def ok(self, value: Any) -> bool:
        return (
            isinstance(value, (list, tuple))
            and len(value) >= self.min_len
            and all(self.item.ok(v) for v in value)
        )

    def describe(self) -> str:
        return f"a list of at least {self.min_len} items, each {self.item.describe()}"

    def invalid_example(self) -> Any:
        return []


POSITIVE = Interval(0.0, None, low_open=True)
NON_NEGATIVE = Interval(0.0, None)
PROBABILITY = Interval(0.0, 1.0)
POSITIVE_INT = Interval(1, None, integer=True)
NON_NEGATIVE_INT = Interval(0, None, integer=True)


def param(default: Any, doc: str, check: Constraint | None = None, **kwargs: Any) -> Any:
    """Declare a config field: default, documentation (meaning, unit, symbol) and constraint."""
    metadata = {"doc": doc, "check": check}
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=metadata, **kwargs)
    return dataclasses.field(default=default, metadata=metadata, **kwargs)


class Config:
    """Mixin for frozen config dataclasses: validates every declared constraint at construction."""

    #: short registry name of the class (for serialisation), defaults to the class name
    kind: ClassVar[str | None] = None

    def __post_init__(self) -> None:
        owner = type(self).__name__
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            check = f.metadata.get("check")
            value = getattr(self, f.name)
            if check is not None and not check.ok(value):
                raise ConfigError(f"{owner}.{f.name}", value, check.describe())
        self.check_invariants()

    def check_invariants(self) -> None:
        """Cross-field checks; raise :class:`ConfigError` on violation."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict, nested configs included, with their kind."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            out[f.name] = _to_plain(getattr(self, f.name))
        return out

    def replace(self, **changes: Any):
        """A validated copy with ``changes`` applied (unknown names are a ConfigError)."""
        return replace_fields(self, changes)


def _to_plain(value: Any) -> Any:
    if isinstance(value, Config):
        return {"kind": type(value).kind or type(value).__name__, **value.to_dict()}
    if isinstance(value, (list, tuple)):
        return [_to_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def field_docs(config_cls: type) -> dict[str, str]:
    """The documentation string of every field of a config class."""
    return {f.name: f.metadata.get("doc", "") for f in dataclasses.fields(config_cls)}


def replace_fields(config: Any, changes: Mapping[str, Any]) -> Any:
    """Apply dotted-path ``changes`` (``{"device.dw_min": 1e-3}``) to a frozen config, validated."""
    owner = type(config).__name__
    names = {f.name for f in dataclasses.fields(config)}
    direct: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in changes.items():
        head, _, rest = key.partition(".")
        if head not in names:
            raise ConfigError(
                f"{owner}.{head}", value, "one of " + ", ".join(sorted(names)),
                "Check the spelling of the field name.",
            )
        if rest:
            nested.setdefault(head, {})[rest] = value
        else:
            direct[head] = value
    for head, sub in nested.items():
        if not dataclasses.is_dataclass(getattr(config, head)):  # e.g. steps.x=1, a TOML table
            raise ConfigError(f"{owner}.{head}", sub, "a single value (it has no sub-fields)",
                              f"Use --set {head}=VALUE (or `{head} = VALUE` in TOML).")
        direct[head] = replace_fields(getattr(config, head), sub)
    checks = {f.name: f.metadata.get("check") for f in dataclasses.fields(config)}
    for head, value in direct.items():
        if isinstance(checks[head], NumberList):  # one value given for a list field
            direct[head] = tuple(value) if isinstance(value, (list, tuple)) else (value,)
    try:
        return dataclasses.replace(config, **direct)
    except ConfigError as err:
        raise ConfigError(_prefix(owner, err.field), err.value, err.allowed, err.fix) from None


def _prefix(owner: str, field: str) -> str:
    return field if field.startswith(owner + ".") else f"{owner}.{field}"


def parse_value(text: str) -> Any:
    """Parse a command-line override value: int, float, bool, list (comma separated) or str."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if "," in text:
        return [parse_value(t) for t in text.split(",") if t.strip()]
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def as_tuple(values: Sequence[float]) -> tuple[float, ...]:
    return tuple(float(v) for v in values)
