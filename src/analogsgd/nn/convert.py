"""Swap the ``nn.Linear`` and ``nn.Conv2d`` layers of any model for analog ones."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping

from torch import nn

from ..errors import ConfigError
from ..rng import child_seeds
from .base import AnalogLayerBase, GeneratorLike, layer_seed
from .config import DEFAULT_CONFIG, AnalogLayerConfig
from .conv import AnalogConv2d
from .linear import AnalogLinear

log = logging.getLogger(__name__)

PerLayer = Mapping[str, AnalogLayerConfig | None] | Callable[[str, nn.Module], AnalogLayerConfig | None]

_CONVERTERS = {nn.Linear: AnalogLinear, nn.Conv2d: AnalogConv2d}


def analog_layers(model: nn.Module) -> Iterator[tuple[str, AnalogLayerBase]]:
    """(qualified name, layer) of every analog layer in ``model``, in module order."""
    for name, module in model.named_modules():
        if isinstance(module, AnalogLayerBase):
            yield name, module


def _convertible(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Modules whose type is exactly ``nn.Linear`` or ``nn.Conv2d``. Subclasses may change the
    forward pass or be read through ``.weight`` by their parent (``nn.MultiheadAttention``'s
    ``out_proj``), so they stay digital; each one is logged."""
    out = []
    for name, m in model.named_modules():
        if type(m) in _CONVERTERS:
            out.append((name, m))
        elif isinstance(m, (nn.Linear, nn.Conv2d)):
            log.info("convert_to_analog: %r (%s) stays digital: only exact nn.Linear/nn.Conv2d "
                     "are converted", name, type(m).__name__)
    return out


def convert_to_analog(model: nn.Module, config: AnalogLayerConfig = DEFAULT_CONFIG, *,
                      per_layer: PerLayer | None = None,
                      generator: GeneratorLike = None) -> nn.Module:
    """Replace every ``nn.Linear`` and ``nn.Conv2d`` in ``model`` by its analog twin, in place
    (exact types only: subclasses such as ``nn.MultiheadAttention``'s projection stay digital).

    Each layer's weight is programmed onto its tiles (clipped to the bounds) and its bias copied.

    Args:
        model: any module (a bare ``nn.Linear``/``nn.Conv2d`` is returned converted).
        config: the config of every converted layer unless ``per_layer`` says otherwise.
        per_layer: a dict from qualified layer name (as in ``model.named_modules()``) to a config,
            or None to keep that layer digital; or a callable ``(name, module) -> config | None``
            (None: keep digital). Names in the dict that are not convertible layers are an error.
        generator: seed, generator or None for torch's default generator; each converted layer
            gets its own child seed, in module order.

    Returns:
        the model (the same object unless it was itself a bare layer).
    """
    if not isinstance(model, nn.Module):
        raise ConfigError("convert_to_analog.model", type(model).__name__, "a torch.nn.Module")
    if not isinstance(config, AnalogLayerConfig):
        raise ConfigError("convert_to_analog.config", config, "an AnalogLayerConfig")
    if per_layer is not None and not isinstance(per_layer, Mapping) and not callable(per_layer):
        raise ConfigError("convert_to_analog.per_layer", per_layer,
                          "None, a dict from layer name to config (or None), or a callable "
                          "(name, module) -> config | None")
    targets = _convertible(model)
    if isinstance(per_layer, Mapping):
        known = {name for name, _ in targets}
        unknown = sorted(set(per_layer) - known)
        if unknown:
            raise ConfigError("convert_to_analog.per_layer", unknown,
                              "names of nn.Linear/nn.Conv2d layers: " + ", ".join(sorted(known)))
    seeds = child_seeds(layer_seed(generator), max(len(targets), 1))
    parents = dict(model.named_modules())
    for (name, module), seed in zip(targets, seeds):
        cfg = _layer_config(name, module, config, per_layer)
        if cfg is None:
            continue
        new = _CONVERTERS[type(module)].from_digital(module, cfg, seed)
        if name == "":
            return new
        parent_name, _, attr = name.rpartition(".")
        setattr(parents[parent_name], attr, new)
    return model


def _layer_config(name: str, module: nn.Module, default: AnalogLayerConfig,
                  per_layer: PerLayer | None) -> AnalogLayerConfig | None:
    if per_layer is None:
        return default
    if isinstance(per_layer, Mapping):
        cfg = per_layer.get(name, default)
    else:
        cfg = per_layer(name, module)
    if cfg is not None and not isinstance(cfg, AnalogLayerConfig):
        raise ConfigError(f"convert_to_analog.per_layer[{name!r}]", cfg,
                          "an AnalogLayerConfig or None (keep the layer digital)")
    return cfg
