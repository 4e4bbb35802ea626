"""The compiled column transfer (crossbar/column_transfer.py) against the general transfer of
Tiki-Taka: the same weights, bit for bit, wherever it applies."""

import pytest
import torch

from analogsgd.crossbar import AnalogTile, TileConfig, UpdateConfig, column_transfer, fused
from analogsgd.crossbar.periphery import IOConfig, PeripheryConfig
from analogsgd.devices.presets import aihwkit_soft_bounds
from analogsgd.errors import ConfigError
from analogsgd.optim.tiki_taka import TikiTaka, TikiTakaConfig

pytestmark = pytest.mark.skipif(not fused.NUMBA_AVAILABLE, reason="numba not installed")

ADC_READ = IOConfig(noise_management="none", bound_management="none")  # 7/9 bits, out noise


def rule(counting: str, io: IOConfig | None, dtype=torch.float32, seed: int = 0):
    preset = aihwkit_soft_bounds()
    cfg = TileConfig(device=preset.device, variation=preset.variation,
                     update=UpdateConfig(counting=counting), periphery=PeripheryConfig())
    fast = AnalogTile((48, 37), cfg, seed, dtype=dtype)
    slow = AnalogTile((48, 37), cfg, seed + 1, dtype=dtype)
    return TikiTaka(fast, slow, TikiTakaConfig(transfer_lr=0.05, transfer_every=1,
                                               columns_per_transfer="one", transfer_forward=io))


def run(counting, io, compiled: bool, monkeypatch, dtype=torch.float32, steps=45):
    """Weights of A and C, and the write paths taken, after ``steps`` Tiki-Taka steps."""
    if not compiled:
        monkeypatch.setattr(column_transfer, "transfer_column", lambda *a, **k: False)
    r = rule(counting, io, dtype)
    g = torch.Generator().manual_seed(3)
    paths = set()
    for _ in range(steps):
        x = torch.rand(2, 37, generator=g, dtype=dtype)
        d = torch.randn(2, 48, generator=g, dtype=dtype) * 0.3
        r.step(x, d, 0.05)
        paths.add(r.slow.last_update_path)
    monkeypatch.undo()
    return r.fast.weight, r.slow.weight, paths


@pytest.mark.parametrize("counting", ["moments", "bit_trains"])
@pytest.mark.parametrize("io", [None, ADC_READ.replace(noise_management="abs_max"),
                                ADC_READ.replace(out_noise=0.0, inp_bits=0)],
                         ids=["default", "noise-managed", "noiseless-no-dac"])
def test_compiled_transfer_equals_general_transfer(counting, io, monkeypatch):
    """45 steps (more than one pass over the 37 columns), the aihwkit soft-bounds device with
    its spread and c2c noise, the transfer read through a 7-bit DAC and 9-bit ADC with output
    noise (the fast tile's forward read without noise and bound management, by default),
    with noise management, and without noise or DAC: A and C equal bit for bit."""
    a1, c1, paths = run(counting, io, True, monkeypatch)
    a0, c0, paths0 = run(counting, io, False, monkeypatch)
    kernel = "trains-numba" if counting == "bit_trains" else "sparse-numba"
    assert paths == paths0 == {kernel}
    assert torch.equal(a1, a0)
    assert torch.equal(c1, c0)
    assert not torch.equal(c1, rule(counting, io).slow.weight)  # C moved


def test_compiled_transfer_float64(monkeypatch):
    a1, c1, _ = run("moments", None, True, monkeypatch, dtype=torch.float64, steps=40)
    a0, c0, _ = run("moments", None, False, monkeypatch, dtype=torch.float64, steps=40)
    assert torch.equal(c1, c0) and torch.equal(a1, a0)


def test_compiled_transfer_declines_what_it_does_not_cover():
    """An iterative bound management or input noise on the read, replicas, or a torch write
    take the general path: transfer_column returns False and draws nothing."""
    r = rule("moments", ADC_READ.replace(bound_management="iterative"))
    state = r.fast.generator.get_state()
    assert not column_transfer.transfer_column(r.fast, r.slow, 0, r.io, 0.05)
    assert not column_transfer.transfer_column(r.fast, r.slow, 0,
                                               ADC_READ.replace(inp_noise=0.01), 0.05)
    torch_write = rule("moments", None)
    torch_write.slow.config = torch_write.slow.config.replace(
        update=UpdateConfig(kernel="torch"))
    assert not column_transfer.transfer_column(torch_write.fast, torch_write.slow, 0,
                                               torch_write.io, 0.05)
    assert torch.equal(r.fast.generator.get_state(), state)


def test_compiled_transfer_refuses_a_non_finite_column():
    """A NaN in the read column is one ConfigError, as on the general path."""
    r = rule("moments", None)
    r.fast.conductance[5, 2] = float("nan")
    before = r.slow.weight.clone()
    with pytest.raises(ConfigError, match="finite"):
        column_transfer.transfer_column(r.fast, r.slow, 2, r.io, 0.05)
    assert torch.equal(r.slow.weight, before)
