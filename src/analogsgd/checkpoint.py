"""Checkpoints of a training run: model (analog layers included), optimizer, scheduler, RNGs.

An analog layer's state travels in ``model.state_dict()`` through torch's
``get_extra_state``/``set_extra_state`` convention (see :mod:`analogsgd.nn.base`): every tile's
conductances, device-to-device arrays and reference, its generator state, the rule's counters,
and the layer's config as a dict with :data:`FORMAT_VERSION`. Loading into a layer whose config
differs raises :class:`ConfigMismatchError` naming each differing field.

:func:`save_checkpoint` writes atomically (a temporary file in the same folder, then a rename),
so a run killed mid-write leaves the previous checkpoint intact. Resuming from it with the
same data order reproduces the uninterrupted run bit for bit on the same machine.

A checkpoint holds only tensors, numbers, strings, ``None`` and lists/dicts of them, so
:func:`load_checkpoint` reads it with ``torch.load(weights_only=True)``: a file carrying any other
pickled object (which could run code while it loads) is refused. On load it checks, before
anything is changed, the unit's identity (``identity=``, as the caller defines it), every
floating tensor of the model for finiteness, and each analog layer's arrays (shape, dtype,
finiteness, conductances within the per-element device bounds, see
:mod:`analogsgd.nn.layer_state`).
"""

from __future__ import annotations

import json
import math
import os
import pickle
from pathlib import Path
from typing import Any

import torch

from .errors import AnalogSGDError, ConfigError, first_line

#: version of the checkpoint layout (file and analog layer state); bumped on any change
FORMAT_VERSION = 2  # 2: the layer config holds a rule config; transfer counters renamed

_GENERATOR_TAG = "__torch_generator_state__"
MISMATCH = "the checkpoint's layer differs from the model's"
_PARTS = ("format_version", "model", "optimizer", "scheduler", "torch_rng", "cuda_rng", "extra")


class CheckpointError(AnalogSGDError, ValueError):
    """A checkpoint that cannot be read into this model: missing, other version, other layout."""


class ConfigMismatchError(CheckpointError):
    """The checkpoint's config differs from the model's (the message names each field)."""


def config_differences(saved: Any, current: Any, path: str = "") -> list[str]:
    """``"path: checkpoint A, model B"`` for each leaf where two nested config dicts differ."""
    if isinstance(saved, dict) and isinstance(current, dict):
        out: list[str] = []
        for key in list(saved) + [k for k in current if k not in saved]:
            sub = f"{path}.{key}" if path else str(key)
            if key not in current:
                out.append(f"{sub}: checkpoint {saved[key]!r}, model has no such field")
            elif key not in saved:
                out.append(f"{sub}: checkpoint has no such field, model {current[key]!r}")
            else:
                out += config_differences(saved[key], current[key], sub)
        return out
    if isinstance(saved, (list, tuple)) and isinstance(current, (list, tuple)):
        if len(saved) == len(current):
            return [d for i, (a, b) in enumerate(zip(saved, current))
                    for d in config_differences(a, b, f"{path}[{i}]")]
    elif _same(saved, current):
        return []
    return [f"{path or '<root>'}: checkpoint {saved!r}, model {current!r}"]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def check_layers(model: torch.nn.Module, state: dict, where: Any = "the checkpoint") -> None:
    """Check every layer that can judge its saved state (a ``state_problems`` method, as the
    analog layers have) before anything is loaded; one error lists every layer that differs."""
    problems = []
    for name, module in model.named_modules():
        judge = getattr(module, "state_problems", None)
        key = f"{name}._extra_state" if name else "_extra_state"
        if judge is None or key not in state:
            continue
        reason, diffs = judge(state[key])
        label = f"{type(module).__name__} {name!r}" if name else type(module).__name__
        if reason:
            raise CheckpointError(f"{where}: {label}: {reason}")
        if diffs:
            problems.append(f"{label}: " + "; ".join(diffs))
    if problems:
        raise ConfigMismatchError(f"{where}: {MISMATCH}: " + " | ".join(problems))


def _plain_problem(value: Any, path: str) -> str | None:
    """Where ``value`` holds something ``torch.load(weights_only=True)`` would refuse (None if
    nothing): only tensors, numbers, strings, None and lists/tuples/str-keyed dicts of them."""
    if value is None or isinstance(value, (bool, int, float, str, torch.Tensor)):
        return None
    if isinstance(value, (list, tuple)):
        return next((p for i, v in enumerate(value) if (p := _plain_problem(v, f"{path}[{i}]"))),
                    None)
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, (str, int)):
                return f"{path}: key {k!r}"
            if p := _plain_problem(v, f"{path}.{k}"):
                return p
        return None
    return f"{path}: {type(value).__name__}"


def plain_identity(identity: Any) -> Any:
    """``identity`` as plain JSON values (tuples as lists), the form it is stored and compared in."""
    return json.loads(json.dumps(identity))


def check_checkpoint_path(path: str | os.PathLike) -> Path:
    """Refuse, before any training, a checkpoint path that cannot be written: a path that exists
    but is not a regular file, or a folder that cannot be created or written."""
    path = Path(path)
    if path.exists() and not path.is_file():
        raise ConfigError("checkpoint path", str(path), "a regular file (or a path not yet "
                          "existing)", "Remove or rename what is there.")
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError("checkpoint folder", str(folder), "a folder that can be created",
                          f"({exc.strerror or exc}).") from None
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError("checkpoint folder", str(folder), "a writable folder")
    return path


def save_checkpoint(path: str | os.PathLike, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer | None = None, scheduler: Any = None, *,
                    identity: Any = None, **extra: Any) -> Path:
    """Write model, optimizer and scheduler state, torch's global RNG states, the unit's
    ``identity`` (plain JSON values, e.g. ``{"experiment": ..., "seed": ...}``) and ``extra``.

    ``extra`` holds tensors, numbers, strings, None and lists/dicts of them (epoch, step,
    history …); a ``torch.Generator`` in it (say the data loader's) is stored as its uint8 state
    tensor and restored by :func:`load_checkpoint`. Anything else raises ``TypeError`` here, so
    that every file written loads with ``weights_only=True``. The write is atomic and the file's
    mode follows the umask. Returns the path written.
    """
    from .runfolder import atomic_write

    path = Path(path)
    extra = {k: ({_GENERATOR_TAG: v.get_state(), "device": str(v.device)}
                 if isinstance(v, torch.Generator) else v) for k, v in extra.items()}
    payload = {
        "format_version": FORMAT_VERSION,
        "identity": None if identity is None else plain_identity(identity),
        "model": model.state_dict(),
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        "extra": extra,
    }
    if problem := _plain_problem(payload, "checkpoint"):
        raise TypeError(f"cannot checkpoint {problem}: only tensors, numbers, strings, None and "
                        "lists/dicts of them load back with weights_only=True")
    atomic_write(path, lambda fh: torch.save(payload, fh), mode="wb", sync=True)
    return path


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The payload of a checkpoint file, read with ``torch.load(weights_only=True)``.

    Raises:
        CheckpointError: no such file, not a regular file, a file carrying pickled objects other
            than tensors, numbers, strings, lists and dicts (refused unread: loading them could
            run code), an unreadable file, or another format version.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}")
    if not path.is_file():
        raise CheckpointError(f"{path} is not a checkpoint file (it is a directory or special file)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        found = [ln for ln in lines if "GLOBAL" in ln]
        if found:   # torch's safe unpickler met a class or function reference
            raise CheckpointError(
                f"{path} is refused: it holds a pickled Python object other than tensors, "
                f"numbers, strings, lists and dicts, and loading it could run code "
                f"({found[0]}); analogsgd never writes such a file") from None
        detail = next((ln for ln in lines if "Unsupported" in ln), first_line(exc))
        raise CheckpointError(f"{path} is not a readable checkpoint: {detail}") from None
    except (OSError, RuntimeError, EOFError, ValueError, TypeError, KeyError, AttributeError,
            IndexError, MemoryError) as exc:
        raise CheckpointError(f"{path} is not a readable checkpoint: {first_line(exc)}") from None
    version = payload.get("format_version") if isinstance(payload, dict) else None
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{path} has checkpoint format version {version!r}; this analogsgd "
                              f"reads version {FORMAT_VERSION}")
    missing = [k for k in _PARTS if k not in payload]
    if missing:
        raise CheckpointError(f"{path} is not a complete checkpoint: no {', '.join(missing)}")
    return payload


def check_identity(path: Any, saved: Any, wanted: Any) -> None:
    """Refuse a checkpoint whose stored identity differs from ``wanted`` (each field named)."""
    wanted = plain_identity(wanted)
    if saved == wanted:
        return
    if saved is None:
        raise CheckpointError(f"{path} holds no identity; expected the checkpoint of {wanted}")
    diffs = config_differences(saved, wanted)
    raise CheckpointError(f"{path} belongs to another run or unit: "
                          + "; ".join(d.replace(", model ", ", expected ") for d in diffs))


def check_finite_tensors(path: Any, state: dict) -> None:
    """Refuse a model state holding a NaN or infinite entry in any floating tensor."""
    for key, value in state.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            bad = int((~torch.isfinite(value)).sum())
            if bad:
                raise CheckpointError(f"{path}: {key} has {bad} of {value.numel()} entries NaN "
                                      "or infinite")


def load_checkpoint(path: str | os.PathLike, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer | None = None, scheduler: Any = None, *,
                    generators: dict[str, torch.Generator] | None = None,
                    restore_global_rng: bool = True, identity: Any = None) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` into ``model`` (and the optimizer
    and scheduler when given); return its ``extra`` dict.

    Generators saved in ``extra`` are restored into the ones passed as ``generators`` under the
    same names (and returned as such); any other saved generator comes back as its state
    tensor. With ``restore_global_rng`` torch's global CPU (and CUDA) RNG states are restored.
    With ``identity`` the stored identity must equal it. Every check happens before anything
    is loaded.

    Raises:
        CheckpointError: see :func:`read_checkpoint`; another identity; a non-finite tensor; an
            analog layer whose arrays have another shape or dtype, are not finite or hold
            conductances outside the device bounds; a saved optimizer or scheduler state
            missing or of another layout; a model whose layout differs (with torch's message).
        ConfigMismatchError: an analog layer's config differs (each field named).
    """
    path = Path(path)
    payload = read_checkpoint(path)
    if identity is not None:
        check_identity(path, payload.get("identity"), identity)
    if not isinstance(payload["model"], dict):
        raise CheckpointError(f"{path} holds no model state")
    check_finite_tensors(path, payload["model"])
    check_layers(model, payload["model"], path)
    try:
        model.load_state_dict(payload["model"])
    except RuntimeError as exc:
        raise CheckpointError(f"{path} does not fit the model: "
                              + " ".join(str(exc).split())) from None
    for name, obj in (("optimizer", optimizer), ("scheduler", scheduler)):
        if obj is not None:
            if payload[name] is None:
                raise CheckpointError(f"{path} holds no {name} state")
            try:
                obj.load_state_dict(payload[name])
            except (ValueError, KeyError, TypeError, RuntimeError) as exc:
                raise CheckpointError(f"{path}: its {name} state does not fit: "
                                      f"{first_line(exc)}") from None
    if restore_global_rng:
        torch.set_rng_state(payload["torch_rng"])
        if payload["cuda_rng"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(payload["cuda_rng"])
    generators = generators or {}
    extra = {}
    for key, value in payload["extra"].items():
        if isinstance(value, dict) and _GENERATOR_TAG in value:
            if key in generators:
                generators[key].set_state(value[_GENERATOR_TAG])
                value = generators[key]
            else:
                value = value[_GENERATOR_TAG]
        extra[key] = value
    return extra
