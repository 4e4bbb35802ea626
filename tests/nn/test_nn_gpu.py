"""Analog layers on a CUDA device (skipped without one): same results as on the CPU where the
computation is deterministic, a pulsed training step with the noisy periphery, device moves and
a checkpoint round trip on the device."""

import pytest
import torch
from torch import nn

from analogsgd.checkpoint import load_checkpoint, save_checkpoint
from analogsgd.crossbar import TileConfig, UpdateConfig
from analogsgd.crossbar.periphery import PeripheryConfig
from analogsgd.devices import IdealDevice
from analogsgd.nn import (
    AnalogConv2d,
    AnalogLayerConfig,
    AnalogLinear,
    AnalogOptimizer,
    AnalogSequential,
)
from analogsgd.optim import TikiTakaConfig

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

F64 = torch.float64
PULSED = AnalogLayerConfig(rule=TikiTakaConfig(), out_scaling=True,
                           tile=TileConfig(periphery=PeripheryConfig.paper()))


def net(device, config, seed=0):
    return AnalogSequential(AnalogConv2d(1, 2, 3, padding=1, config=config, generator=seed),
                            nn.Tanh(), nn.Flatten(),
                            AnalogLinear(2 * 5 * 5, 3, config=config, generator=seed + 1)).to(device)


def step(model, x, y, opt):
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss.item()


def test_expected_mode_on_cuda_matches_cpu():
    cfg = AnalogLayerConfig(tile=TileConfig(device=IdealDevice(), update=UpdateConfig(mode="expected")))
    x = torch.randn(4, 1, 5, 5, dtype=F64, generator=torch.Generator().manual_seed(0))
    y = torch.tensor([0, 1, 2, 0])
    cpu, gpu = net("cpu", cfg).double(), net("cuda", cfg).double()
    for model, dev in ((cpu, "cpu"), (gpu, "cuda")):
        opt = AnalogOptimizer(model.parameters(), lr=0.1)
        for _ in range(2):
            step(model, x.to(dev), y.to(dev), opt)
    for (_, a), (_, b) in zip(cpu.analog_layers(), gpu.analog_layers()):
        assert b.rule.tile.conductance.is_cuda
        torch.testing.assert_close(b.get_weights()[0].cpu(), a.get_weights()[0], rtol=0, atol=1e-12)


def test_pulsed_tiki_taka_with_paper_periphery_trains_and_resumes_on_cuda(tmp_path):
    model = net("cuda", PULSED)
    assert all(t.generator.device.type == "cuda" for _, m in model.analog_layers() for t in m.rule.tiles)
    opt = AnalogOptimizer(model.parameters(), lr=0.01)
    data = torch.Generator(device="cuda").manual_seed(1)

    def batch():
        return (torch.randn(8, 1, 5, 5, device="cuda", generator=data),
                torch.randint(0, 3, (8,), device="cuda", generator=data))

    losses = [step(model, *batch(), opt) for _ in range(2)]
    path = save_checkpoint(tmp_path / "gpu.pt", model, opt, data=data)
    after = [step(model, *batch(), opt) for _ in range(2)]
    fresh = net("cuda", PULSED, seed=5)
    fresh_opt = AnalogOptimizer(fresh.parameters(), lr=0.01)
    load_checkpoint(path, fresh, fresh_opt, generators={"data": data})
    assert [step(fresh, *batch(), fresh_opt) for _ in range(2)] == after
    assert all(torch.isfinite(torch.tensor(losses + after)))
    for (_, a), (_, b) in zip(model.analog_layers(), fresh.analog_layers()):
        assert torch.equal(a.rule.slow.conductance, b.rule.slow.conductance)
