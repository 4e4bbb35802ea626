"""The digital networks of the network experiments and their seeded initialisation.

Their analog twins are made by :mod:`._network_analog`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError


def _activation(name: str) -> nn.Module:
    return {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}[name]()


def cnn_feature_map(image_shape: tuple[int, ...]) -> tuple[int, int] | None:
    """(H, W) after the CNN's conv5-pool2-conv5-pool2 stages, or None when images of
    ``image_shape`` (C, H, W) are too small for them (under 16×16)."""
    _, h, w = image_shape
    h, w = ((h - 4) // 2 - 4) // 2, ((w - 4) // 2 - 4) // 2
    return (h, w) if h >= 1 and w >= 1 else None


def build_network(cfg, image_shape: tuple[int, ...], n_classes: int) -> nn.Sequential:
    """The digital network of a :class:`~._network_common.NetworkConfig`.

    ``fcn``: Flatten, then Linear-act per hidden width, then Linear to the classes (the paper's
    784-256-128-10 sigmoid network). ``cnn``: conv5(16)-act-pool2-conv5(32)-act-pool2-flatten-
    FC→hidden[0]-act-FC→classes (the paper's CNN; 512 features on 28×28 images).
    """
    layers: list[nn.Module] = [nn.Flatten()] if cfg.arch == "fcn" else []
    if cfg.arch == "cnn":
        fmap = cnn_feature_map(image_shape)
        if fmap is None:
            raise ConfigError("NetworkConfig.arch", cfg.arch, "'fcn' for images smaller than 16×16")
        layers += [nn.Conv2d(image_shape[0], 16, 5), _activation(cfg.activation), nn.MaxPool2d(2),
                   nn.Conv2d(16, 32, 5), _activation(cfg.activation), nn.MaxPool2d(2), nn.Flatten()]
        width = 32 * fmap[0] * fmap[1]
    else:
        width = int(np.prod(image_shape))
    for size in cfg.hidden:
        layers += [nn.Linear(width, int(size)), _activation(cfg.activation)]
        width = int(size)
    layers.append(nn.Linear(width, n_classes))
    return nn.Sequential(*layers)


def init_parameters(model: nn.Module, generator: torch.Generator) -> None:
    """Seeded initialisation, U(−1/√fan_in, 1/√fan_in) for weights and biases (torch's default
    distribution, but from ``generator`` instead of the global state)."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Linear, nn.Conv2d)):
                bound = 1.0 / math.sqrt(module.weight[0].numel())
                module.weight.uniform_(-bound, bound, generator=generator)
                if module.bias is not None:
                    module.bias.uniform_(-bound, bound, generator=generator)
