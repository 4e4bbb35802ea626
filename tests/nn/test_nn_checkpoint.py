"""Checkpoints: a killed and resumed run ends bit-identical to the uninterrupted one; clear errors.

The network mixes every piece of state a checkpoint must carry: a convolution and a linear layer
on Analog SGD, a Tiki-Taka layer (fast and slow tiles, step and column counters), pulsed updates
(fused kernel draws from the tiles' generators), device-to-device variation and cycle-to-cycle
noise (aihwkit's default spread), the paper's noisy periphery (reads draw from the generators
too), a learnable output scale, momentum buffers, a StepLR schedule and a data generator.
"""

import dataclasses

import pytest
import torch
from torch import nn

from analogsgd.checkpoint import (
    FORMAT_VERSION,
    CheckpointError,
    ConfigMismatchError,
    load_checkpoint,
    save_checkpoint,
)
from analogsgd.crossbar import TileConfig, fused
from analogsgd.crossbar.periphery import PeripheryConfig
from analogsgd.devices import ALL_PRESETS, asymmetric_linear_device
from analogsgd.nn import (
    AnalogConv2d,
    AnalogLayerConfig,
    AnalogLinear,
    AnalogOptimizer,
    AnalogSequential,
)
from analogsgd.optim import TikiTakaConfig

DEVICE, VARIATION = ALL_PRESETS["aihwkit_soft_bounds"]()
TILE = TileConfig(device=DEVICE, variation=VARIATION, periphery=PeripheryConfig.paper())
SGD = AnalogLayerConfig(tile=TILE)
TT = AnalogLayerConfig(rule=TikiTakaConfig(transfer_lr=0.1, transfer_every=2), tile=TILE,
                       out_scaling=True)


def build(seed: int, sgd: AnalogLayerConfig = SGD, kernel: str = "auto"):
    gen = torch.Generator().manual_seed(seed)
    tt = TT
    if kernel != "auto":          # the torch update path (the one a GPU runs)
        sgd, tt = (c.replace(**{"tile.update.kernel": kernel}) for c in (sgd, TT))
    model = AnalogSequential(AnalogConv2d(1, 3, 3, config=sgd, generator=gen), nn.Tanh(),
                             nn.Flatten(), AnalogLinear(27, 10, config=tt, generator=gen), nn.Tanh(),
                             AnalogLinear(10, 4, config=sgd, generator=gen))
    opt = AnalogOptimizer(model.parameters(), lr=0.05, momentum=0.5)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    return model, opt, sched


def train(model, opt, sched, data: torch.Generator, steps: int) -> list[float]:
    losses = []
    for _ in range(steps):
        x = torch.randn(6, 1, 5, 5, generator=data)
        y = torch.randint(0, 4, (6,), generator=data)
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    return losses


def assert_same_state(a, b, path="state"):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            assert_same_state(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), path
    else:
        assert a == b, path


@pytest.mark.parametrize("kernel", ["auto", "torch"])
def test_kill_and_resume_is_bit_identical(tmp_path, kernel):
    k, m = 3, 4
    model, opt, sched = build(seed=1, kernel=kernel)
    data = torch.Generator().manual_seed(0)
    train(model, opt, sched, data, k)
    path = save_checkpoint(tmp_path / "run" / "last.pt", model, opt, sched, data=data, step=k)
    uninterrupted = train(model, opt, sched, data, m)

    fresh, fresh_opt, fresh_sched = build(seed=99, kernel=kernel)   # other seed: all must load
    resumed_data = torch.Generator()
    extra = load_checkpoint(path, fresh, fresh_opt, fresh_sched, generators={"data": resumed_data})
    assert extra["step"] == k and extra["data"] is resumed_data
    resumed = train(fresh, fresh_opt, fresh_sched, resumed_data, m)

    assert resumed == uninterrupted
    assert_same_state(fresh.state_dict(), model.state_dict())
    assert_same_state(fresh_opt.state_dict(), opt.state_dict())
    tt = fresh[3].rule
    assert tt.cursor.count == k + m and tt.cursor.next_column == (k + m) // 2
    want = "sparse-numba" if fused.NUMBA_AVAILABLE and kernel == "auto" else "torch"  # small batch
    assert fresh[5].rule.tile.last_update_path == want
    assert float(VARIATION.dw_min_d2d) > 0 and not torch.equal(tt.fast.devices.gain_up,
                                                               torch.ones_like(tt.fast.devices.gain_up))


def test_layer_state_loads_with_weights_only(tmp_path):
    """The analog layer state is plain tensors, numbers and strings: torch's safe loader reads it."""
    model, _, _ = build(seed=2)
    torch.save(model.state_dict(), tmp_path / "weights.pt")
    state = torch.load(tmp_path / "weights.pt", weights_only=True)
    fresh, _, _ = build(seed=3)
    fresh.load_state_dict(state)
    assert_same_state(fresh.state_dict(), model.state_dict())


def test_config_difference_names_the_field(tmp_path):
    model, opt, _ = build(seed=4)
    path = save_checkpoint(tmp_path / "c.pt", model, opt)
    other = dataclasses.replace(SGD, tile=dataclasses.replace(
        TILE, device=dataclasses.replace(DEVICE, tau_max=0.8)))
    fresh, fresh_opt, _ = build(seed=4, sgd=other)
    with pytest.raises(ConfigMismatchError) as err:
        load_checkpoint(path, fresh, fresh_opt)
    assert "tile.device.tau_max: checkpoint 0.6, model 0.8" in str(err.value)
    assert "AnalogConv2d '0'" in str(err.value) and "AnalogLinear '5'" in str(err.value)

    tt_model = AnalogLinear(27, 10, config=SGD.replace(rule=TikiTakaConfig()), generator=0)
    with pytest.raises(ConfigMismatchError, match="rule.kind: checkpoint 'tiki_taka', model 'analog_sgd'"):
        AnalogLinear(27, 10, config=SGD, generator=0).load_state_dict(tt_model.state_dict())
    with pytest.raises(ConfigMismatchError, match="in_size: checkpoint 27, model 26"):
        AnalogLinear(26, 10, config=SGD, generator=0).load_state_dict(tt_model.state_dict(),
                                                                      strict=False)


def test_file_errors(tmp_path):
    model, opt, _ = build(seed=5)
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt", model, opt)
    path = save_checkpoint(tmp_path / "v.pt", model, opt)
    payload = torch.load(path, weights_only=True)
    payload["format_version"] = FORMAT_VERSION + 1
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match=f"format version {FORMAT_VERSION + 1}"):
        load_checkpoint(path, model, opt)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "junk.pt", model, opt)
    path = save_checkpoint(tmp_path / "no_opt.pt", model)
    with pytest.raises(CheckpointError, match="holds no optimizer state"):
        load_checkpoint(path, model, opt)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.pt", "no_opt.pt", "v.pt"]


def test_layer_state_format_version_is_checked():
    layer = AnalogLinear(3, 2, generator=0)
    state = layer.state_dict()
    state["_extra_state"] = dict(state["_extra_state"], format_version=FORMAT_VERSION + 1)
    with pytest.raises(CheckpointError, match="format version"):
        layer.load_state_dict(state)


def test_zero_shift_reference_is_restored():
    cfg = AnalogLayerConfig(tile=TileConfig(device=asymmetric_linear_device(0.7),
                                            variation=dataclasses.replace(VARIATION, zero_shift=True)))
    a = AnalogLinear(4, 3, config=cfg, generator=0)
    b = AnalogLinear(4, 3, config=cfg, generator=1)
    b.load_state_dict(a.state_dict())
    assert torch.equal(b.rule.tile.devices.reference, a.rule.tile.devices.reference)
    assert torch.equal(b.get_weights()[0], a.get_weights()[0])


def test_state_from_another_device_type_loads_with_new_generators(caplog):
    """A generator cannot move between device types: the arrays load as saved, each tile gets a
    generator seeded from its saved state, deterministically, and a warning says so."""
    layer = AnalogLinear(4, 3, config=TT, generator=0)
    state = layer.state_dict()
    state["_extra_state"] = dict(state["_extra_state"], device_type="cuda")
    a, b = AnalogLinear(4, 3, config=TT, generator=1), AnalogLinear(4, 3, config=TT, generator=2)
    a.load_state_dict(state)
    b.load_state_dict(state)
    assert "saved on cuda, loaded on cpu" in caplog.text
    assert torch.equal(a.rule.slow.conductance, layer.rule.slow.conductance)
    for ta, tb, tl in zip(a.rule.tiles, b.rule.tiles, layer.rule.tiles):
        assert torch.equal(ta.generator.get_state(), tb.generator.get_state())
        assert not torch.equal(ta.generator.get_state(), tl.generator.get_state())
