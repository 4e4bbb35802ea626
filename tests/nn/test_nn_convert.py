"""convert_to_analog on a small CNN, per-layer configs, AnalogSequential helpers, bad configs."""

import math

import pytest
import torch
from torch import nn

from analogsgd.crossbar import TileConfig, UpdateConfig
from analogsgd.devices import asymmetric_linear_device
from analogsgd.errors import ConfigError
from analogsgd.nn import (
    AnalogConv2d,
    AnalogLayerConfig,
    AnalogLinear,
    AnalogOptimizer,
    AnalogSequential,
    analog_layers,
    convert_to_analog,
)
from analogsgd.optim import TikiTakaConfig

F64 = torch.float64


class SmallCNN(nn.Module):
    """conv-tanh-pool-conv-tanh-pool-linear-tanh-linear, the paper's CNN shape in miniature."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Tanh(), nn.MaxPool2d(2),
                                      nn.Conv2d(4, 6, 3, stride=2), nn.Tanh())
        self.fc1 = nn.Linear(6 * 1 * 1, 8)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        h = self.features(x).flatten(1)
        return self.head(torch.tanh(self.fc1(h)))


def make_cnn():
    torch.manual_seed(0)
    return SmallCNN().double()


def test_converted_cnn_matches_the_digital_one_and_trains_one_step():
    digital = make_cnn()
    x = torch.randn(4, 1, 6, 6, generator=torch.Generator().manual_seed(1), dtype=F64)
    y = torch.tensor([0, 1, 2, 1])
    want = digital(x)
    expected = TileConfig(update=UpdateConfig(mode="expected"))   # the pulsed path: test_nn_checkpoint
    tt = AnalogLayerConfig(rule=TikiTakaConfig(), tile=expected)
    model = convert_to_analog(make_cnn(), AnalogLayerConfig(tile=expected),
                              per_layer={"fc1": tt, "head": None}, generator=2)
    kinds = {name: type(m).__name__ for name, m in analog_layers(model)}
    assert kinds == {"features.0": "AnalogConv2d", "features.3": "AnalogConv2d", "fc1": "AnalogLinear"}
    assert isinstance(model.head, nn.Linear) and model.fc1.rule.kind == "tiki_taka"
    torch.testing.assert_close(model(x), want, rtol=0, atol=1e-12)   # weights within ±0.6

    opt = AnalogOptimizer(model.parameters(), lr=0.05)
    before = {name: m.rule.weight.clone() for name, m in analog_layers(model)}
    head_before = model.head.weight.detach().clone()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    assert math.isfinite(loss.item())
    for name, m in analog_layers(model):
        moved = m.rule.fast.weight if m.rule.kind == "tiki_taka" else m.rule.weight - before[name]
        assert float(moved.abs().max()) > 0, name
    assert not torch.equal(model.head.weight, head_before)


def test_per_layer_callable_and_sequential_helpers():
    seq = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 2))
    dev = asymmetric_linear_device(0.8)
    cfg = AnalogLayerConfig(tile=TileConfig(device=dev, update=UpdateConfig(mode="expected")))
    model = AnalogSequential.from_digital(
        seq, per_layer=lambda name, m: cfg if m.out_features == 2 else AnalogLayerConfig(),
        generator=3)
    assert isinstance(model, AnalogSequential)
    names = [n for n, _ in model.analog_layers()]
    assert names == ["0", "2"]
    assert model[2].config.tile.device.tau_max == 0.8
    assert model[0].config == AnalogLayerConfig()
    assert set(model.analog_state()) == {"0", "2"}
    w, b = model.get_weights()["2"]
    torch.testing.assert_close(w, seq[2].weight.detach())
    torch.testing.assert_close(b, seq[2].bias.detach())


def test_a_bare_layer_is_converted_and_weights_are_clipped_to_the_bounds():
    lin = nn.Linear(3, 2)
    with torch.no_grad():
        lin.weight.fill_(2.0)
    layer = convert_to_analog(lin, generator=0)
    assert isinstance(layer, AnalogLinear)
    assert float(layer.get_weights()[0].max()) == pytest.approx(0.6)    # SoftBounds τ_max


def test_subclasses_such_as_attention_projections_stay_digital():
    model = nn.Sequential(nn.Linear(4, 4), nn.MultiheadAttention(4, 2))
    convert_to_analog(model, generator=0)
    assert isinstance(model[0], AnalogLinear) and type(model[1].out_proj) is not AnalogLinear
    x = torch.randn(3, 1, 4)
    model[1](x, x, x)                     # still works: it reads out_proj.weight


def test_per_layer_seeds_differ_and_are_reproducible():
    a = convert_to_analog(nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3)), generator=7)
    b = convert_to_analog(nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3)), generator=7)
    sa = [t.generator.get_state() for t in a[0].rule.tiles + a[1].rule.tiles]
    sb = [t.generator.get_state() for t in b[0].rule.tiles + b[1].rule.tiles]
    assert all(torch.equal(x, y) for x, y in zip(sa, sb))
    assert not torch.equal(sa[0], sa[1])


@pytest.mark.parametrize("kwargs, field", [
    ({"rule": "tiki_taka"}, "AnalogLayerConfig.rule"),
    ({"out_scaling_columnwise": True}, "AnalogLayerConfig.out_scaling_columnwise"),
    ({"weight_scaling_omega": 0.6}, "AnalogLayerConfig.weight_scaling_omega"),
    ({"tile": "soft_bounds"}, "AnalogLayerConfig.tile"),
])
def test_bad_layer_configs_are_one_line_config_errors(kwargs, field):
    with pytest.raises(ConfigError) as err:
        AnalogLayerConfig(**kwargs)
    message = str(err.value)
    assert message.startswith(field) and "\n" not in message and "got" in message


@pytest.mark.parametrize("build, field", [
    (lambda: AnalogConv2d(1, 2, 0), "AnalogConv2d.kernel_size"),
    (lambda: AnalogConv2d(1, 2, 3, stride=0), "AnalogConv2d.stride"),
    (lambda: AnalogConv2d(1, 2, 3, padding=-1), "AnalogConv2d.padding"),
    (lambda: AnalogLinear(2, 2, config="analog_sgd"), "AnalogLinear.config"),
    (lambda: AnalogLinear(0, 2), "AnalogLinear.in_size"),
    (lambda: AnalogConv2d(1, 2.5, 3), "AnalogConv2d.out_size"),
    (lambda: AnalogLinear(2, 2, generator="seed"), "generator"),
    (lambda: convert_to_analog(nn.Sequential(nn.Linear(2, 2)), per_layer={"fc": None}),
     "convert_to_analog.per_layer"),
    (lambda: convert_to_analog(nn.Conv2d(2, 2, 3, groups=2)), "convert_to_analog(Conv2d).groups"),
    (lambda: convert_to_analog(nn.Conv2d(2, 2, 3, padding="same")), "convert_to_analog(Conv2d).padding"),
])
def test_bad_layer_arguments_are_config_errors(build, field):
    with pytest.raises(ConfigError) as err:
        build()
    assert str(err.value).startswith(field) and "\n" not in str(err.value)
