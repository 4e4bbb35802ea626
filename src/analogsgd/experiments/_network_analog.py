"""The analog twin of a digital network for the network experiments, and its optimizer.

Every ``nn.Linear``/``nn.Conv2d`` becomes an :class:`~analogsgd.nn.AnalogLinear` /
:class:`~analogsgd.nn.AnalogConv2d` holding the same initial weights, on soft-bounds devices with
bounds ±τ and Δw_min (the ALD of Eq. (3) of Wu et al., NeurIPS 2024; with ``device='authors'``
plus aihwkit's default device spread, :func:`~analogsgd.devices.presets.wu2024_authors_soft_bounds`),
read through the paper's periphery (:meth:`~analogsgd.crossbar.periphery.PeripheryConfig.paper`),
aihwkit's default one, or exactly. Each layer's tiles get their own seed and draw their own
device-to-device spread.

Learning rates (see :mod:`analogsgd.nn.config`): the optimizer's lr is the gradient-write rate,
α for the single-tile rules (Analog SGD, mixed precision) and β (``fast_lr``) for the fast-tile
rules (the Tiki-Taka family), whose transfer rate α is their rule config's ``transfer_lr``. The
digital parameters (biases, output scales) take SGD at α in both cases, like aihwkit, whose
optimizer lr is α and whose ``fast_lr`` is β. A learning-rate schedule acts as in aihwkit: it
scales α (the gradient write of the single-tile rules, the transfer of the others) and the
digital parameters' rate, and leaves β fixed.
"""

from __future__ import annotations

import torch
from torch import nn

from ..rng import child_seeds


def rule_config(algorithm: str, transfer_lr: float, transfer_every: int):
    """The rule config of ``algorithm`` with a study's rates: a fast-tile rule transfers at
    α = ``transfer_lr`` every ``transfer_every`` steps (where it has such a field that takes one
    number: the chopped rules count mat-vecs, residual learning keeps its per-transfer lists) with
    aihwkit's schedule (fixed β, transfer rate scaled by the schedule); other rules as
    registered."""
    from ..optim import registry

    cls = registry.RULES[algorithm]
    if not cls.fast_tile:
        return cls()
    wanted = {"transfer_lr": transfer_lr, "schedule_gradient_lr": False,
              "schedule_transfer_lr": True, "transfer_every": transfer_every}
    fields = cls.__dataclass_fields__
    return cls(**{name: value for name, value in wanted.items()
                  if name in fields and fields[name].metadata["check"].ok(value)})


def layer_config(cfg, algorithm: str, tau: float, rule=None):
    """The :class:`~analogsgd.nn.AnalogLayerConfig` of every layer of a unit: ``rule`` (a rule
    config; None: :func:`rule_config` of ``algorithm`` at the study's rates) on the study's
    tiles."""
    from ..crossbar.periphery import PeripheryConfig
    from ..crossbar.tile import TileConfig, UpdateConfig
    from ..devices.linear_step import asymmetric_linear_device
    from ..devices.presets import wu2024_authors_soft_bounds
    from ..devices.variation import DeviceVariation
    from ..nn import AnalogLayerConfig

    periphery = {"paper": PeripheryConfig.paper, "aihwkit": PeripheryConfig,
                 "aihwkit-preset": PeripheryConfig.aihwkit_preset,
                 "ideal": PeripheryConfig.ideal}[cfg.periphery]()
    device, variation = (wu2024_authors_soft_bounds(tau, cfg.dw_min) if cfg.device == "authors"
                         else (asymmetric_linear_device(tau, cfg.dw_min), DeviceVariation()))
    tile = TileConfig(device=device, variation=variation,
                      update=UpdateConfig(mode=cfg.update_mode), periphery=periphery)
    if rule is None:
        rule = rule_config(algorithm, cfg.analog_lr, cfg.transfer_every)
    return AnalogLayerConfig(rule=rule,
                             tile=tile,
                             out_scaling=cfg.learn_out_scale,
                             weight_scaling_omega=cfg.weight_scaling_omega)


def to_analog(model: nn.Sequential, config, seed: int) -> nn.Sequential:
    """A copy of ``model`` whose linear and convolution layers are analog (seeded per layer)."""
    from ..nn import AnalogConv2d, AnalogLinear

    layers = list(model)
    seeds = child_seeds(seed, len(layers))
    out = []
    for layer, s in zip(layers, seeds):
        if isinstance(layer, nn.Linear):
            layer = AnalogLinear.from_digital(layer, config, generator=s)
        elif isinstance(layer, nn.Conv2d):
            layer = AnalogConv2d.from_digital(layer, config, generator=s)
        out.append(layer)
    return nn.Sequential(*out)


def gradient_write_lr(cfg, rule_cls) -> float:
    """The optimizer lr of a unit's analog layers, the rule's gradient-write rate: β
    (``fast_lr``) for a fast-tile rule, else α (``analog_lr``)."""
    return cfg.fast_lr if rule_cls.fast_tile else cfg.analog_lr


def analog_model_and_optimizer(model: nn.Sequential, cfg, algorithm: str, tau: float, seed: int,
                               rule=None):
    """(analog model, :class:`~analogsgd.nn.AnalogOptimizer`) of one unit (``rule``: see
    :func:`layer_config`)."""
    from ..nn import AnalogOptimizer
    from ..nn.function import AnalogContext

    layer_cfg = layer_config(cfg, algorithm, tau, rule)
    analog = to_analog(model, layer_cfg, seed)
    contexts = [p for p in analog.parameters() if isinstance(p, AnalogContext)]
    digital = [p for p in analog.parameters() if not isinstance(p, AnalogContext)]
    write_lr = gradient_write_lr(cfg, type(layer_cfg.rule))
    groups = [{"params": contexts, "lr": write_lr}]
    if digital:
        groups.append({"params": digital, "lr": cfg.analog_lr})
    return analog, AnalogOptimizer(groups, lr=write_lr)


def analog_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every analog layer's effective weight (for comparisons), by module name."""
    from ..nn.base import AnalogLayerBase

    return {name: m.get_weights()[0] for name, m in model.named_modules()
            if isinstance(m, AnalogLayerBase)}
