"""The contract every registered learning rule keeps, run over ``registry.kinds()``.

A rule added to the registry is covered here without editing this file: each test builds the
rule through its config with its defaults (:func:`~analogsgd.optim.registry.config`) and the
layer's path (:func:`~analogsgd.nn.base.build_rule`, one tile per role from
``tile_config(role, base)``). What a rule's structure allows is written once, in the tables below:

* rules whose W̄ equals digital SGD's exactly on an ideal device in expected mode, with the
  settings under which it does (:data:`EXACT`);
* every rule reaches digital SGD's loss on a noiseless least-squares problem (:data:`FOLLOW`
  holds the settings a rule needs for that on an ideal device, with the reason).
"""

from __future__ import annotations

import io
import json

import matplotlib.colors
import pytest
import torch

from analogsgd.crossbar import TileConfig, UpdateConfig
from analogsgd.devices import IdealDevice
from analogsgd.devices.linear_step import SoftBounds
from analogsgd.devices.variation import DeviceVariation
from analogsgd.nn.base import build_rule, rule_seed_count
from analogsgd.nn.config import AnalogLayerConfig
from analogsgd.optim import DigitalSGD, registry
from analogsgd.problems import LeastSquares

F64 = torch.float64
KINDS = registry.kinds()
SHAPE = (3, 4)                                       # (out_size, in_size)

#: settings under which a rule's W̄ is digital SGD's W at the same gradient rate, exactly but
#: for float64 rounding. Tiki-Taka v1: γ = 1 and no transfer (every 10⁹ steps) make
#: W̄ = C + A with C = W₀ fixed and A = −β Σ ∇f, i.e. digital SGD at rate β; a transfer
#: C += αA moves W̄ by αA, so with transfers on W̄ follows only in loss (test below).
EXACT: dict[str, dict] = {
    "digital_sgd": {},
    "analog_sgd": {},
    "tiki_taka": {"gamma": 1.0, "transfer_every": 10**9},
}

#: settings a rule needs to converge on an ideal device (none: its defaults). Tiki-Taka v1 at
#: γ = 0 on an ideal device (F ≡ 1, G ≡ 0, A never decays) is an undamped oscillator,
#: C̈ ≈ −αβ∇f(C); γ > 0 reads W̄ = C + γA and damps it.
#: The buffered rules (TT-v2, c-TTv2, AGAD) likewise need γ > 0, and a transfer rate that lets
#: their single-pulse transfers (one Δw_min per element and transfer) keep up within the 2000
#: steps (measured: 8e-5, 2e-5 and 1e-5 f₀); c-TTv2's chopper at p = 0.1 flips the fast tile's
#: sign too often for C to settle below 1e-3 f₀ (6e-3 f₀ measured) and runs at p = 0.01;
#: auto-scaling is off for the chopped rules, whose auto-scaled rate ignores the lr this test sets.
FOLLOW: dict[str, dict] = {
    "tiki_taka": {"gamma": 0.5},
    "tiki_taka_v2": {"gamma": 0.5, "transfer_lr": 0.5},
    "chopped_tiki_taka": {"gamma": 1.0, "transfer_lr": 0.5, "auto_scale": False,
                          "in_chop_prob": 0.01},
    "agad": {"gamma": 0.5, "transfer_lr": 0.5, "auto_scale": False},
}


def ideal_tile() -> TileConfig:
    return TileConfig(device=IdealDevice(), update=UpdateConfig(mode="expected"))


def noisy_tile() -> TileConfig:
    """Pulsed soft bounds with device-to-device spread and cycle-to-cycle noise: every update
    and the realised devices draw from the tiles' generators."""
    return TileConfig(device=SoftBounds(dw_min=0.01),
                      variation=DeviceVariation(dw_min_d2d=0.3, up_down_d2d=0.1, dw_min_c2c=0.2),
                      update=UpdateConfig(mode="pulsed", desired_bl=15))


def make(kind: str, tile: TileConfig, seed: int = 1, **fields):
    layer = AnalogLayerConfig(rule=registry.config(kind, **fields), tile=tile)
    seeds = [seed * 100 + i for i in range(rule_seed_count(layer))]
    return build_rule(layer, SHAPE, seeds, F64, "cpu")


def problem() -> LeastSquares:
    """f(W) = ½ tr((W − W*) H (W − W*)ᵀ), 3 × 4, L = 1, μ ≈ 0.34 (seed 0)."""
    return LeastSquares.random(SHAPE[1], SHAPE[0], 16, 0.5, 0)


def test_tables_name_registered_kinds():
    assert set(EXACT) <= set(KINDS) and set(FOLLOW) <= set(KINDS)


@pytest.mark.parametrize("kind", [k for k in KINDS if k in EXACT])
def test_rule_on_ideal_device_is_digital_sgd(kind):
    """x, d random, 20 steps at lr = 0.1 from a random W₀: |W̄ − W| ≤ 1e-12 (float64 rounding of
    20 sums of O(1) terms is ~1e-15; a wrong rate or sign is O(0.1))."""
    gen = torch.Generator().manual_seed(3)
    w0 = torch.randn(SHAPE, generator=gen, dtype=F64) * 0.3
    rule, digital = make(kind, ideal_tile(), **EXACT[kind]), DigitalSGD(w0)
    rule.program(w0)
    for _ in range(20):
        x = torch.randn(2, SHAPE[1], generator=gen, dtype=F64)
        d = torch.randn(2, SHAPE[0], generator=gen, dtype=F64)
        rule.step(x, d, 0.1)
        digital.step(x, d, 0.1)
        torch.testing.assert_close(rule.weight, digital.weight, rtol=0, atol=1e-12)


def test_mixed_precision_on_ideal_device_is_digital_sgd_up_to_its_accumulator():
    """Mixed precision moves the tile by whole steps n ε and keeps the rest in χ: W + χ is digital
    SGD's W (1e-12, float64 rounding) and |W − W_digital| = |χ| < ε (ε = Δw_min = 1e-3)."""
    gen = torch.Generator().manual_seed(4)
    rule = make("mixed_precision", ideal_tile())
    digital = DigitalSGD(torch.zeros(SHAPE, dtype=F64))
    eps = rule.tiles[0].devices.device.dw_min
    moved = 0.0
    for _ in range(20):
        x = torch.randn(2, SHAPE[1], generator=gen, dtype=F64)
        d = torch.randn(2, SHAPE[0], generator=gen, dtype=F64)
        rule.step(x, d, 0.01)
        digital.step(x, d, 0.01)
        arrays = rule.arrays()
        torch.testing.assert_close(arrays["weight"] + arrays["chi"], digital.weight, rtol=0, atol=1e-12)
        assert float((rule.weight - digital.weight).abs().max()) < eps
        moved = max(moved, float(rule.weight.abs().max()))
    assert moved > 10 * eps                          # the tile did take the updates


@pytest.mark.parametrize("kind", KINDS)
def test_rule_on_ideal_device_reaches_digital_sgds_loss(kind):
    """Noiseless least squares from W₀ = 0, 2000 steps at gradient rate 0.1 (digital SGD ends at
    f − f* ≈ 1e-30 f₀): the rule must end below 1e-3 f₀. That leaves room for the transfer
    delay of fast-tile rules and for mixed precision's ε-quantised weight (≈ 2e-6 f₀ measured)."""
    ls = problem()
    rule = make(kind, ideal_tile(), **FOLLOW.get(kind, {}))
    rule.program(torch.zeros(SHAPE, dtype=F64))
    f0 = float(ls.loss(rule.weight))
    for _ in range(2000):
        rule.step_dense(ls.gradient(rule.weight), 0.1)
    assert float(ls.loss(rule.weight)) < 1e-3 * f0


def _steps(rule, gen: torch.Generator, n: int) -> None:
    for _ in range(n):
        x = torch.rand(4, SHAPE[1], generator=gen, dtype=F64) - 0.5
        d = torch.rand(4, SHAPE[0], generator=gen, dtype=F64) - 0.5
        rule.step(x, d, 0.1)


@pytest.mark.parametrize("kind", KINDS)
def test_state_dict_round_trip_continues_bit_identically(kind):
    """Stop after 7 pulsed steps, save through torch.save / torch.load(weights_only=True), load
    into a rule built from other seeds, and run 7 more steps on both: every array equal, bit
    for bit (the state holds the devices, the arrays, the cursors and every generator)."""
    a = make(kind, noisy_tile(), seed=1)
    _steps(a, torch.Generator().manual_seed(5), 7)
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    b = make(kind, noisy_tile(), seed=2)
    b.load_state_dict(state)
    for gen_seed in (6, 7):                          # equal right after loading, then after steps
        got, want = b.arrays(), a.arrays()
        assert got.keys() == want.keys()
        for name in want:
            assert torch.equal(got[name], want[name]), name
        _steps(a, torch.Generator().manual_seed(gen_seed), 7)
        _steps(b, torch.Generator().manual_seed(gen_seed), 7)


@pytest.mark.parametrize("kind", KINDS)
def test_forward_and_backward_of_the_identity_read_the_weight(kind):
    """With ideal periphery x = I reads W̄ᵀ forward and d = I reads W̄ backward (1e-12: a
    product with one-hot rows is exact, a sum over tiles may round differently)."""
    rule = make(kind, noisy_tile())
    rule.program(torch.rand(SHAPE, generator=torch.Generator().manual_seed(8), dtype=F64) - 0.5)
    _steps(rule, torch.Generator().manual_seed(9), 5)
    w = rule.weight
    torch.testing.assert_close(rule.forward(torch.eye(SHAPE[1], dtype=F64)), w.T, rtol=0, atol=1e-12)
    torch.testing.assert_close(rule.backward(torch.eye(SHAPE[0], dtype=F64)), w, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_config_round_trips_through_json(kind):
    cfg = registry.config(kind).replace(schedule_gradient_lr=False)
    assert type(cfg).from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    layer = AnalogLayerConfig(rule=cfg, tile=noisy_tile())
    back = AnalogLayerConfig.from_dict(json.loads(json.dumps(layer.to_dict())))
    assert back == layer and type(back.rule) is type(cfg)


@pytest.mark.parametrize("kind", KINDS)
def test_kind_has_label_colour_and_builds_from_defaults(kind):
    cls = registry.RULES[kind]
    assert registry.labels()[kind] and matplotlib.colors.is_color_like(registry.colours()[kind])
    cfg = registry.config(kind)
    assert type(cfg) is cls and cls.kind == kind
    rule = make(kind, ideal_tile())
    assert rule.kind == kind and rule.weight.shape == SHAPE
    assert len(rule.tiles) == len(cfg.roles())
    assert set(rule.arrays()) >= {"weight", *cfg.roles()}


def test_labels_are_distinct():
    labels = list(registry.labels().values())
    assert len(set(labels)) == len(labels)


@pytest.mark.parametrize("data, needle", [
    ({"rule": {"transfer_lr": 0.1}}, "AnalogLayerConfig.rule.kind must be one of agad"),
    ({"rule": {"kind": "tiki_taka_v9"}}, "AnalogLayerConfig.rule.kind must be one of"),
    ({"rule": {"kind": "tiki_taka", "transfer_lr": -1}}, "AnalogLayerConfig.rule.transfer_lr"),
    ({"rule": {"kind": "analog_sgd", "transfer_lr": 0.1}}, "AnalogSGDConfig has no field"),
    ({"tile": {"device": {"kind": "SoftBounds", "dw_min": 0.1, "n_states": 5}}},
     "AnalogLayerConfig.tile.device.dw_min"),
])
def test_a_config_json_that_does_not_fit_is_one_line_naming_its_path(data, needle):
    """Config.from_dict (what --resume and --rerun rebuild config.json with): a family without
    its kind, an unknown kind, a bad value, a field the kind does not have and a contradictory
    dw_min/n_states pair (2/5 = 0.4, not 0.1) are each one ConfigError naming the path."""
    from analogsgd.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        AnalogLayerConfig.from_dict(data)
    assert needle in str(err.value) and "\n" not in str(err.value)
