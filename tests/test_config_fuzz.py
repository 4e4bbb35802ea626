"""Generic config fuzz test (scikit-learn style) over every Config subclass in the package.

Discovery is generic: every module under ``analogsgd`` is imported and ``Config`` subclasses are
collected recursively, so classes added anywhere in the package are covered without editing
this file. Abstract classes are skipped. A class that cannot be built from its defaults may opt
out of the construction and fuzz checks (not of the documentation check) with a documented
class attribute ``fuzz_skip_reason: ClassVar[str]`` giving the reason.

Every field of every class must declare a constraint (a field without one fails
``test_every_field_has_a_constraint``). For every field: the default object constructs, the
default value satisfies the constraint, the constraint's ``invalid_example()`` violates it, and
replacing the field with that value raises :class:`ConfigError` whose message names
``Class.field``. A list field declared distinct (or increasing) also refuses its default with
the first entry repeated.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil

import pytest

import analogsgd
from analogsgd.config import Config, Constraint, NumberList, TextList
from analogsgd.errors import ConfigError


def _import_all() -> dict[str, str]:
    """Import every module of the package; map the ones that fail to their error."""
    failures: dict[str, str] = {}
    for info in pkgutil.walk_packages(analogsgd.__path__, prefix="analogsgd."):
        if info.name.rsplit(".", 1)[-1] == "__main__":  # importing it runs the command line
            continue
        try:
            importlib.import_module(info.name)
        except Exception as exc:  # noqa: BLE001 - reported by test_every_module_imports
            failures[info.name] = f"{type(exc).__name__}: {exc}"
    return failures


IMPORT_FAILURES = _import_all()


def _subclasses(cls: type) -> list[type]:
    out, stack, seen = [], list(cls.__subclasses__()), set()
    while stack:
        sub = stack.pop()
        if sub in seen:
            continue
        seen.add(sub)
        out.append(sub)
        stack.extend(sub.__subclasses__())
    return out


CONFIG_CLASSES = sorted(
    (c for c in _subclasses(Config)
     if c.__module__.startswith("analogsgd.") and not inspect.isabstract(c)),
    key=lambda c: f"{c.__module__}.{c.__qualname__}",
)


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _skip_reason(cls: type) -> str | None:
    reason = getattr(cls, "fuzz_skip_reason", None)
    if reason is None:
        return None
    assert isinstance(reason, str) and reason.strip(), (
        f"{_name(cls)}.fuzz_skip_reason must be a non-empty string explaining the opt-out")
    return reason


def _fields() -> list[tuple[type, dataclasses.Field]]:
    """Every (class, field) pair of every discovered config class, constrained or not."""
    return [(cls, f) for cls in CONFIG_CLASSES if dataclasses.is_dataclass(cls)
            for f in dataclasses.fields(cls) if f.init]


FIELDS = _fields()
FIELD_IDS = [f"{_name(c)}.{f.name}" for c, f in FIELDS]
DISTINCT = [(c, f) for c, f in FIELDS
            if isinstance(f.metadata.get("check"), TextList)
            or (isinstance(f.metadata.get("check"), NumberList)
                and (f.metadata["check"].distinct or f.metadata["check"].increasing))]


def test_every_module_imports():
    assert not IMPORT_FAILURES, "modules that fail to import:\n" + "\n".join(
        f"  {name}: {err}" for name, err in sorted(IMPORT_FAILURES.items()))


def test_discovery_finds_the_known_configs():
    names = {c.__name__ for c in CONFIG_CLASSES}
    assert {"SoftBounds", "IdealDevice", "DeviceVariation", "PowerStep", "ExpStep",
            "ConstantStep", "CLinDevice"} <= names
    assert "AbstractDevice" not in names


@pytest.mark.parametrize("cls", CONFIG_CLASSES, ids=_name)
def test_is_a_frozen_dataclass(cls):
    assert dataclasses.is_dataclass(cls), f"{_name(cls)} subclasses Config but is not a dataclass"
    assert cls.__dataclass_params__.frozen, f"{_name(cls)} must be frozen"


@pytest.mark.parametrize("cls", CONFIG_CLASSES, ids=_name)
def test_every_field_is_documented(cls):
    if not dataclasses.is_dataclass(cls):
        pytest.fail(f"{_name(cls)} is not a dataclass")
    undocumented = [f.name for f in dataclasses.fields(cls)
                    if not str(f.metadata.get("doc", "")).strip()]
    assert not undocumented, f"{_name(cls)}: fields without a doc: {undocumented} (declare them with param())"


def test_discovery_finds_every_field():
    # a few fields of different kinds, so that the generic list is known not to be empty
    ids = set(FIELD_IDS)
    assert {"analogsgd.crossbar.tile.TileConfig.device",
            "analogsgd.logdomain.simulate.SolverConfig.k_max",
            "analogsgd.experiments.logdomain_regression.RegressionConfig.datasets"} <= ids
    assert len(FIELDS) > 150


@pytest.mark.parametrize("cls", CONFIG_CLASSES, ids=_name)
def test_every_field_has_a_constraint(cls):
    if not dataclasses.is_dataclass(cls):
        pytest.fail(f"{_name(cls)} is not a dataclass")
    free = [f.name for f in dataclasses.fields(cls)
            if f.init and not isinstance(f.metadata.get("check"), Constraint)]
    assert not free, (f"{_name(cls)}: fields without a constraint: {free} "
                      "(declare one with param(default, doc, check))")


@pytest.mark.parametrize("cls", CONFIG_CLASSES, ids=_name)
def test_default_constructs(cls):
    reason = _skip_reason(cls)
    if reason:
        pytest.skip(f"{cls.__qualname__}: {reason}")
    obj = cls()
    for f in dataclasses.fields(cls):
        check = f.metadata.get("check")
        if check is not None:
            assert check.ok(getattr(obj, f.name)), f"{cls.__qualname__}.{f.name}: default violates its check"


@pytest.mark.parametrize("cls, field", FIELDS, ids=FIELD_IDS)
def test_invalid_value_raises_config_error_naming_the_field(cls, field):
    reason = _skip_reason(cls)
    if reason:
        pytest.skip(f"{cls.__qualname__}: {reason}")
    check = field.metadata.get("check")
    assert isinstance(check, Constraint), f"{cls.__qualname__}.{field.name} has no constraint"
    bad = check.invalid_example()
    assert not check.ok(bad), f"{check!r}.invalid_example() = {bad!r} satisfies the constraint"
    default = cls()
    with pytest.raises(ConfigError) as err:
        dataclasses.replace(default, **{field.name: bad})
    assert f"{cls.__name__}.{field.name}" in str(err.value)
    assert "got" in str(err.value) and "instead" in str(err.value)
    with pytest.raises(ConfigError) as err:  # the dotted-path replace gives the same message
        default.replace(**{field.name: bad})
    assert f"{cls.__name__}.{field.name}" in str(err.value)


@pytest.mark.parametrize("cls, field", DISTINCT, ids=[f"{_name(c)}.{f.name}" for c, f in DISTINCT])
def test_repeated_entry_raises_config_error(cls, field):
    reason = _skip_reason(cls)
    if reason:
        pytest.skip(f"{cls.__qualname__}: {reason}")
    default = cls()
    values = list(getattr(default, field.name))
    repeated = type(getattr(default, field.name))(values + values[:1])
    with pytest.raises(ConfigError) as err:
        dataclasses.replace(default, **{field.name: repeated})
    assert f"{cls.__name__}.{field.name}" in str(err.value)
    assert "distinct" in str(err.value) or "increasing" in str(err.value)
