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
import inspect
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

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
        return self.high is None or not (value > self.high
                                         or (self.high_open and value == self.high))

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
    """A sequence of at least ``min_len`` numbers each satisfying ``item``; with ``distinct`` no
    value repeats, with ``increasing`` the values rise strictly (which implies distinct)."""

    item: Interval = Interval()
    min_len: int = 1
    distinct: bool = False
    increasing: bool = False

    def ok(self, value: Any) -> bool:
        if not (isinstance(value, (list, tuple)) and len(value) >= self.min_len
                and all(self.item.ok(v) for v in value)):
            return False
        if self.increasing and any(b <= a for a, b in itertools.pairwise(value)):
            return False
        return not (self.distinct and len(set(value)) != len(value))

    def describe(self) -> str:
        order = ", strictly increasing" if self.increasing else (", distinct" if self.distinct else "")
        return f"a list of at least {self.min_len} items{order}, each {self.item.describe()}"

    def invalid_example(self) -> Any:
        """The empty list, or (where that is allowed) a list of one bad item."""
        return [] if self.min_len > 0 else [self.item.invalid_example()]


@dataclass(frozen=True)
class Text(Constraint):
    """A string; non-empty when ``non_empty`` (e.g. a name), any string otherwise (a path,
    ``''`` for a default)."""

    non_empty: bool = False

    def ok(self, value: Any) -> bool:
        return isinstance(value, str) and (bool(value.strip()) or not self.non_empty)

    def describe(self) -> str:
        return "a non-empty string" if self.non_empty else "a string"

    def invalid_example(self) -> Any:
        return 0


@dataclass(frozen=True)
class TextList(Constraint):
    """A non-empty sequence of distinct non-empty strings (e.g. dataset names)."""

    def ok(self, value: Any) -> bool:
        return (isinstance(value, (list, tuple)) and len(value) >= 1
                and all(isinstance(v, str) and v.strip() for v in value)
                and len(set(value)) == len(value))

    def describe(self) -> str:
        return "a non-empty list of distinct non-empty strings"

    def invalid_example(self) -> Any:
        return ()


@dataclass(frozen=True)
class InstanceOf(Constraint):
    """An instance of ``cls`` (a nested config such as a device, a design or a solver)."""

    cls: type

    def ok(self, value: Any) -> bool:
        return isinstance(value, self.cls)

    def describe(self) -> str:
        return f"an instance of {self.cls.__name__}"

    def invalid_example(self) -> Any:
        return "__not_a_config__"


@dataclass(frozen=True)
class OrNone(Constraint):
    """None (a default decided elsewhere, e.g. "as the tile's forward read") or ``inner``."""

    inner: Constraint

    def ok(self, value: Any) -> bool:
        return value is None or self.inner.ok(value)

    def describe(self) -> str:
        return f"None or {self.inner.describe()}"

    def invalid_example(self) -> Any:
        return self.inner.invalid_example()


POSITIVE = Interval(0.0, None, low_open=True)
NON_NEGATIVE = Interval(0.0, None)
POSITIVE_INT = Interval(1, None, integer=True)
NON_NEGATIVE_INT = Interval(0, None, integer=True)


def check_argument(name: str, value: Any, check: Constraint) -> Any:
    """``value`` if it satisfies ``check``, else a :class:`ConfigError` naming the argument
    ``name`` (``"AnalogSGD.lr"``): the boundary check of a library function, the same one a
    config field gets."""
    if not check.ok(value):
        raise ConfigError(name, _shown(value), check.describe())
    return value


def _shown(value: Any) -> Any:
    """An array-like value as its type and shape (a repr would span lines), others as is."""
    shape = getattr(value, "shape", None)
    if shape is not None and hasattr(value, "dtype") and (len(shape) > 1 or math.prod(shape) > 8):
        return f"a {type(value).__name__} of shape {tuple(shape)}"
    return value


def param(default: Any, doc: str, check: Constraint | None = None, **kwargs: Any) -> Any:
    """Declare a config field: default, documentation (meaning, unit, symbol) and constraint
    (every field needs one; the generic fuzz test fails on a field without)."""
    metadata = {"doc": doc, "check": check}
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=metadata, **kwargs)
    return dataclasses.field(default=default, metadata=metadata, **kwargs)


#: every Config class by its serialised kind (``kind`` or the class name), for :func:`from_dict`
CONFIG_KINDS: dict[str, type] = {}


class Config:
    """Mixin for frozen config dataclasses: validates every declared constraint at construction."""

    #: short registry name of the class (for serialisation), defaults to the class name
    kind: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("kind") or cls.__name__
        other = CONFIG_KINDS.get(name)
        if other is not None and other.__qualname__ != cls.__qualname__:
            raise TypeError(f"config kind {name!r} of {cls.__qualname__} is already taken by "
                            f"{other.__module__}.{other.__qualname__}")
        CONFIG_KINDS[name] = cls

    def __post_init__(self) -> None:
        owner = type(self).__name__
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            check = f.metadata.get("check")
            if check is not None:
                check_argument(f"{owner}.{f.name}", getattr(self, f.name), check)
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

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str | None = None):
        """The config that :meth:`to_dict` wrote (nested configs rebuilt by their ``kind``),
        validated; a field this class does not have, or a kind that is not a subclass of the
        field's class, is one ConfigError naming its path."""
        return _from_plain(cls, data, where or cls.__name__)

    def linked_changes(self, changes: dict[str, Any]) -> dict[str, Any]:
        """``changes`` completed for fields that describe one quantity: a class whose fields are
        derived from each other (a device's dw_min and n_states) says which one follows a change
        of the other. Default: ``changes`` as given."""
        return changes


def tuple_fields(config: Config, names: tuple[str, ...]) -> None:
    """Store the sequence fields ``names`` of a frozen config as tuples, in ``__post_init__``
    before the checks: a list becomes a tuple and a single number or string a one-tuple (JSON
    and ``--set`` give lists and single values), so that equal configs compare equal."""
    for name in names:
        value = getattr(config, name)
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            object.__setattr__(config, name, (value,))
        elif isinstance(value, list):
            object.__setattr__(config, name, tuple(value))


def _to_plain(value: Any) -> Any:
    if isinstance(value, Config):
        return {"kind": type(value).kind or type(value).__name__, **value.to_dict()}
    if isinstance(value, (list, tuple)):
        return [_to_plain(v) for v in value]
    if isinstance(value, float):  # a float subclass (a derived value) written as a plain float
        return float(value) if math.isfinite(value) else str(value)
    return value


def _from_plain(cls: type, data: Any, where: str) -> Any:
    """Rebuild a ``cls`` (or the subclass named by ``data['kind']``) from plain JSON values."""
    if not isinstance(data, Mapping):
        raise ConfigError(where, data, f"a table (dict) of {cls.__name__} fields")
    kind = data.get("kind")
    if kind is not None:
        target = CONFIG_KINDS.get(kind)
        if target is None or not issubclass(target, cls):
            known = sorted(k for k, c in CONFIG_KINDS.items() if issubclass(c, cls))
            raise ConfigError(f"{where}.kind", kind, "one of " + ", ".join(known))
        cls = target
    if inspect.isabstract(cls) or getattr(cls, "__abstractmethods__", None):
        known = sorted(k for k, c in CONFIG_KINDS.items() if issubclass(c, cls)
                       and not getattr(c, "__abstractmethods__", None))
        raise ConfigError(f"{where}.kind", kind, "one of " + ", ".join(known),
                          f"{cls.__name__} is a family: the table names its member by 'kind'.")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name == "kind":
            continue
        if name not in fields:
            raise ConfigError(f"{where}.{name}", value, "one of " + ", ".join(sorted(fields)),
                              f"{cls.__name__} has no field {name!r}.")
        values[name] = _value_from_plain(value, fields[name], f"{where}.{name}")
    try:
        return cls(**values)
    except ConfigError as err:
        raise ConfigError(_prefix(where, err.field.removeprefix(cls.__name__ + ".")), err.value,
                          err.allowed, err.fix) from None


def _value_from_plain(value: Any, f: dataclasses.Field, where: str) -> Any:
    """A field's value from JSON: a nested config rebuilt as the class its ``InstanceOf``
    constraint names (any subclass, by kind), lists as tuples where the default is a tuple,
    ``'inf'``/``'nan'`` strings as floats where the default is a float."""
    check = f.metadata.get("check")
    if isinstance(check, OrNone):
        if value is None:
            return None
        check = check.inner
    if isinstance(check, InstanceOf) and issubclass(check.cls, Config):
        return _from_plain(check.cls, value, where)
    default = f.default if f.default is not dataclasses.MISSING else None
    if isinstance(default, tuple) and isinstance(value, list):
        return tuple(value)
    if isinstance(default, float) and isinstance(value, str) and value in ("inf", "-inf", "nan"):
        return float(value)
    return value


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
        if isinstance(checks[head], (NumberList, TextList)):  # one value given for a list field
            direct[head] = tuple(value) if isinstance(value, (list, tuple)) else (value,)
    linked = getattr(config, "linked_changes", None)
    if linked is not None:  # fields that describe one quantity (e.g. a device's dw_min, n_states)
        direct = linked(direct)
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

