"""A network as the shapes of its analog layers, the only property the cost model reads.

A fully connected layer ``in → out`` is one ``out × in`` crossbar; a convolution with a ``k × k``
kernel from ``C_in`` to ``C_out`` channels is one ``C_out × k·k·C_in`` crossbar (one column of
inputs per patch, the usual im2col mapping). Biases are a separate count (a digital or one extra
crossbar row per output); layers kept digital (batch norm, the first layers of ResNet-18 in
Li et al.'s runs) are not listed.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..config import POSITIVE_INT, check_argument
from ..errors import ConfigError


@dataclass(frozen=True)
class AnalogLayer:
    """One analog crossbar of ``d_out × d_in`` weights.

    Attributes:
        name: the layer's name in the network (``"layer4.1.conv2"``).
        d_out: outputs (rows written by one pulse train, crossbar columns' count in aihwkit's
            ``out × in`` convention).
        d_in: inputs (``k·k·C_in`` for a convolution).
        bias: the layer has one bias per output.
    """

    name: str
    d_out: int
    d_in: int
    bias: bool = True

    def __post_init__(self) -> None:
        check_argument(f"AnalogLayer({self.name!r}).d_out", self.d_out, POSITIVE_INT)
        check_argument(f"AnalogLayer({self.name!r}).d_in", self.d_in, POSITIVE_INT)

    @property
    def n_weights(self) -> int:
        """Crossbar weights ``d_out·d_in`` (biases excluded)."""
        return self.d_out * self.d_in

    @property
    def n_biases(self) -> int:
        return self.d_out if self.bias else 0


@dataclass(frozen=True)
class AnalogNetwork:
    """A named sequence of analog layers."""

    name: str
    layers: tuple[AnalogLayer, ...]

    def __post_init__(self) -> None:
        if not self.layers:
            raise ConfigError(f"AnalogNetwork({self.name!r}).layers", self.layers,
                              "at least one analog layer")
        names = [layer.name for layer in self.layers]
        if len(set(names)) != len(names):
            raise ConfigError(f"AnalogNetwork({self.name!r}).layers", names,
                              "layers with distinct names")

    @property
    def n_weights(self) -> int:
        """Σ_l d_out·d_in over the analog layers."""
        return sum(layer.n_weights for layer in self.layers)

    @property
    def n_biases(self) -> int:
        return sum(layer.n_biases for layer in self.layers)

    @property
    def n_inputs(self) -> int:
        """Σ_l d_in: the length of all layers' input vectors x together."""
        return sum(layer.d_in for layer in self.layers)

    @property
    def n_outputs(self) -> int:
        """Σ_l d_out: the length of all layers' error vectors δ together."""
        return sum(layer.d_out for layer in self.layers)

    @property
    def largest(self) -> AnalogLayer:
        """The layer with the most weights (the first of equals): its update bounds the
        per-sample update time when every layer updates on its own tiles in parallel."""
        return max(self.layers, key=lambda layer: layer.n_weights)


def from_shapes(name: str, shapes: Iterable[Sequence[int]], bias: bool = True) -> AnalogNetwork:
    """A network from ``(d_out, d_in)`` pairs, layers named ``layer0``, ``layer1``, …"""
    layers = []
    for i, shape in enumerate(shapes):
        if len(shape) != 2:
            raise ConfigError(f"from_shapes({name!r}).shapes[{i}]", tuple(shape),
                              "a pair (d_out, d_in)")
        layers.append(AnalogLayer(f"layer{i}", int(shape[0]), int(shape[1]), bias))
    return AnalogNetwork(name, tuple(layers))


def conv(name: str, c_in: int, c_out: int, kernel: int, bias: bool = True) -> AnalogLayer:
    """A ``kernel × kernel`` convolution ``c_in → c_out`` as a ``c_out × kernel²·c_in`` crossbar."""
    return AnalogLayer(name, c_out, kernel * kernel * c_in, bias)


def lenet5() -> AnalogNetwork:
    """LeNet-5 of Li et al. (§8 of reference/aimc-papers.md), all four layers analog:
    conv5(1→16), conv5(16→32), FC 512→128, FC 128→10 (80 016 weights, 186 biases)."""
    return AnalogNetwork("LeNet-5", (
        conv("conv1", 1, 16, 5), conv("conv2", 16, 32, 5),
        AnalogLayer("fc1", 128, 512), AnalogLayer("fc2", 10, 128)))


def _basic_block(prefix: str, c_in: int, c_out: int, downsample: bool) -> list[AnalogLayer]:
    """A ResNet basic block: two 3×3 convolutions, a 1×1 shortcut when the shape changes
    (convolutions without bias: batch norm follows each)."""
    layers = [conv(f"{prefix}.conv1", c_in, c_out, 3, bias=False),
              conv(f"{prefix}.conv2", c_out, c_out, 3, bias=False)]
    if downsample:
        layers.append(conv(f"{prefix}.shortcut", c_in, c_out, 1, bias=False))
    return layers


def resnet18_cifar(analog: Sequence[str] = ("layer3", "layer4", "fc"), n_classes: int = 10
                   ) -> AnalogNetwork:
    """CIFAR ResNet-18 (3×3 stem to 64 channels, stages of 64/128/256/512 channels with two basic
    blocks each, FC 512 → ``n_classes``), keeping the stages named in ``analog``.

    The default (layer3, layer4 and the FC layer analog) is the split of Li et al.'s CIFAR runs;
    it is also the split that reproduces their ResNet-18 storage of Analog SGD (50.2 KB = 2 bytes
    × Σ d_in = 2 × 25 088) and update time (D = 4608 = 3·3·512).
    """
    stages = {"stem": [conv("stem", 3, 64, 3, bias=False)]}
    c_in = 64
    for i, c_out in enumerate((64, 128, 256, 512), start=1):
        stage = _basic_block(f"layer{i}.0", c_in, c_out, downsample=c_in != c_out)
        stage += _basic_block(f"layer{i}.1", c_out, c_out, downsample=False)
        stages[f"layer{i}"] = stage
        c_in = c_out
    stages["fc"] = [AnalogLayer("fc", n_classes, 512)]
    unknown = [s for s in analog if s not in stages]
    if unknown or not analog:
        raise ConfigError("resnet18_cifar.analog", tuple(analog),
                          "a non-empty subset of " + ", ".join(stages))
    layers = tuple(layer for name, stage in stages.items() if name in analog for layer in stage)
    return AnalogNetwork("ResNet-18", layers)


def perceptron(sizes: Sequence[int] = (785, 250, 10)) -> AnalogNetwork:
    """A fully connected network ``sizes[0] → sizes[1] → …``; the default is the 785-250-10
    perceptron of Li et al.'s energy estimate (785 = 784 pixels + a bias input, so no separate
    biases)."""
    if len(sizes) < 2:
        raise ConfigError("perceptron.sizes", tuple(sizes), "at least two layer widths")
    return AnalogNetwork("perceptron-" + "-".join(str(s) for s in sizes), tuple(
        AnalogLayer(f"fc{i + 1}", d_out, d_in, bias=False)
        for i, (d_in, d_out) in enumerate(itertools.pairwise(sizes))))
