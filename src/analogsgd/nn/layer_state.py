"""An analog layer's checkpoint state: what it holds, how a saved state is judged and loaded.

The state (``get_extra_state``, torch's convention, so it travels in ``model.state_dict()``):
``format_version``, the layer class, its sizes and bias flag, the device type, the config as a
nested dict, and the rule's state: every tile's conductance, device-to-device arrays, reference
and generator state, and Tiki-Taka's counters. Only tensors, numbers and strings, so
``torch.load(weights_only=True)`` reads it.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from ..checkpoint import (
    FORMAT_VERSION,
    MISMATCH,
    CheckpointError,
    ConfigMismatchError,
    config_differences,
)
from ..rng import torch_generator

if TYPE_CHECKING:  # pragma: no cover
    from .base import AnalogLayerBase

log = logging.getLogger(__name__)


def _identity(layer: AnalogLayerBase) -> dict:
    return {"layer": type(layer).__name__, "in_size": layer.in_size, "out_size": layer.out_size,
            "bias": layer.has_bias}


def layer_state(layer: AnalogLayerBase) -> dict:
    """The layer's full analog state (recorded rows not yet applied are not part of it)."""
    if layer._rows:
        log.warning("%s: state saved with %d recorded backward pass(es) not yet applied by a "
                    "step; they are not part of the state", type(layer).__name__, len(layer._rows))
    return {"format_version": FORMAT_VERSION, **_identity(layer),
            "device_type": layer.analog_ctx.device.type,
            "config": layer.config.to_dict(), "rule": layer.rule.state_dict()}


def state_problems(layer: AnalogLayerBase, state) -> tuple[str | None, list[str]]:
    """(why ``state`` cannot be read at all, or None; each field where it differs from
    ``layer``, as ``"path: checkpoint A, model B"``)."""
    if not isinstance(state, dict) or "format_version" not in state:
        return "the checkpoint holds no analog layer state", []
    if state["format_version"] != FORMAT_VERSION:
        return (f"checkpoint format version {state['format_version']}, this analogsgd reads "
                f"version {FORMAT_VERSION}"), []
    mine = _identity(layer)
    saved = {k: state.get(k) for k in mine}
    diffs = (config_differences(state.get("config"), layer.config.to_dict())
             + config_differences(saved, mine))
    if diffs:
        return None, diffs
    return array_problem(state.get("rule"), layer.rule.state_dict(), "rule"), []


_BOUNDS = ("tau_min", "tau_max")


def array_problem(saved, current, path: str) -> str | None:
    """What is wrong with the saved rule state ``saved`` next to the layer's own ``current``
    (None when nothing): keys, types, shapes, dtypes, finiteness and the device bounds."""
    if isinstance(current, dict):
        if not isinstance(saved, dict):
            return f"{path} is {type(saved).__name__}, not a dict"
        if set(saved) != set(current):
            return f"{path} has keys {sorted(saved)}, the layer {sorted(current)}"
        for key in current:
            if problem := array_problem(saved[key], current[key], f"{path}.{key}"):
                return problem
        return _bounds_problem(saved, path) if "conductance" in saved else None
    if isinstance(current, Tensor):
        if not isinstance(saved, Tensor):
            return f"{path} is {type(saved).__name__}, not a tensor"
        if saved.dtype != current.dtype:
            return f"{path} has dtype {saved.dtype}, the layer {current.dtype}"
        if path.endswith(".generator"):      # its size depends on the device type
            return None
        if saved.shape != current.shape:
            return f"{path} has shape {tuple(saved.shape)}, the layer {tuple(current.shape)}"
        if saved.is_floating_point():
            bad = saved.isnan() if path.rsplit(".", 1)[-1] in _BOUNDS else ~saved.isfinite()
            if n := int(bad.sum()):
                return f"{path} has {n} of {saved.numel()} entries NaN or infinite"
        return None
    if type(saved) is not type(current):
        return f"{path} is {saved!r}, the layer holds a {type(current).__name__}"
    return None


def _bounds_problem(tile: dict, path: str) -> str | None:
    """Conductances outside [τ_min, τ_max] of their element (tolerance: 4 ulps of the bound, the
    clip being exact, so only corruption exceeds it), or τ_min > τ_max."""
    g, lo, hi = tile["conductance"], tile["tau_min"], tile["tau_max"]
    if bool((lo > hi).any()):
        return f"{path}: tau_min > tau_max for {int((lo > hi).sum())} elements"
    eps = 4 * torch.finfo(g.dtype).eps
    low = lo - eps * lo.abs().clamp(min=1.0)
    high = hi + eps * hi.abs().clamp(min=1.0)
    out = (g < low) | (g > high)
    if n := int(out.sum()):
        i = int(out.flatten().nonzero()[0])
        value, a, b = float(g.flatten()[i]), float(lo.flatten()[i]), float(hi.flatten()[i])
        return (f"{path}.conductance has {n} of {g.numel()} entries outside the device bounds "
                f"[tau_min, tau_max] (e.g. {value:.6g} outside [{a:.6g}, {b:.6g}])")
    return None


def load_layer_state(layer: AnalogLayerBase, state, name: str) -> None:
    """Load ``state`` into ``layer`` after checking it (errors name the layer as ``name``)."""
    reason, diffs = state_problems(layer, state)
    if reason:
        raise CheckpointError(f"{name}: {reason}")
    if diffs:
        raise ConfigMismatchError(f"{name}: {MISMATCH}: " + "; ".join(diffs))
    device = layer.analog_ctx.device
    rule_state = _to_device(state["rule"], device)
    saved_type = state.get("device_type", device.type)
    if saved_type != device.type:
        log.warning("%s: state saved on %s, loaded on %s: a generator cannot change device "
                    "type, so each tile gets a new generator seeded from its saved state (the "
                    "continuation is reproducible but not the one the saved run would take)",
                    name, saved_type, device.type)
        rule_state = _regenerate(rule_state, device)
    layer.rule.load_state_dict(rule_state)


def _regenerate(state, device: torch.device):
    """A rule state whose generator states are replaced by those of new generators on
    ``device``, each seeded from a hash of the saved state (deterministic)."""
    if isinstance(state, dict):
        out = {}
        for key, value in state.items():
            if key == "generator":
                digest = hashlib.sha256(value.cpu().numpy().tobytes()).digest()
                value = torch_generator(int.from_bytes(digest[:8], "little") >> 2, device).get_state()
            else:
                value = _regenerate(value, device)
            out[key] = value
        return out
    return state


def _to_device(state, device: torch.device):
    """Tensors of a (nested) rule state moved to ``device``; generator states stay as they are."""
    if isinstance(state, dict):
        return {k: state[k] if k == "generator" else _to_device(state[k], device) for k in state}
    if isinstance(state, Tensor):
        return state.to(device)
    return state
