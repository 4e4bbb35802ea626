"""The fused kernel's pulse-by-pulse families (power step, exp step) against one-pulse references.

References are the device's own one-pulse step in float64 torch: with N = n₊ + n₋ pulses and
c± = step± n±/N, each pulse is w ← clamp(w + c₊ q₊(w) − c₋ q₋(w), τ_min, τ_max) (for one sign
exactly w + step q(w); for both signs the order average of one pulse, as the torch path's flow
averages over the order: see analogsgd.crossbar.fused_steps).
"""

import math
from dataclasses import dataclass

import pytest
import torch

from analogsgd.crossbar import AnalogTile, TileConfig, UpdateConfig, fused
from analogsgd.crossbar.fused_steps import K_EXACT
from analogsgd.devices import DeviceVariation, ExpStep, PowerStep
from analogsgd.devices.variation import DeviceArray

F64 = torch.float64
K = 5.0  # standard errors of the statistical check
needs_numba = pytest.mark.skipif(not fused.NUMBA_AVAILABLE, reason="numba not installed")
DEVICES = {
    "power 1.5/2": PowerStep(dw_min=0.01, gamma_up=1.5, gamma_down=2.0),
    "power 0.5": PowerStep(dw_min=0.01, gamma_up=0.5, gamma_down=0.5),
    "power 3": PowerStep(dw_min=0.01, tau_min=-0.5, tau_max=1.0, gamma_up=3.0, gamma_down=3.0),
    "exp 2": ExpStep(dw_min=0.01),
    "exp 5/3": ExpStep(dw_min=0.01, tau_min=-0.5, tau_max=1.0, gamma_up=5.0, gamma_down=3.0),
}
#: error bound of the approximation above K_EXACT pulses, in units of one step (module
#: docstring of fused_steps: measured ≤ 1.5 % for γ ≥ 1 and 0.2 for power γ = 0.5, whose
#: response is not smooth at the bound; a factor 1.5–2 is left for rounding differences)
BOUND = {"power 0.5": 0.3}
DEFAULT_BOUND = 0.03


def _reference(devices, w, n_up, n_down):
    """The pulse-by-pulse chain in float64 (masked per element to its own count)."""
    dev = devices.device
    lo, hi = devices.tau_min.double(), devices.tau_max.double()
    s_up, s_down = dev.dw_min * devices.gain_up.double(), dev.dw_min * devices.gain_down.double()
    total = n_up + n_down
    safe = total.clamp(min=1.0)
    c_up, c_down = s_up * (n_up / safe), s_down * (n_down / safe)
    w = w.double().clone()
    for j in range(int(total.max())):
        new = w + c_up * dev.response_up(w, lo, hi) - c_down * dev.response_down(w, lo, hi)
        w = torch.where(j < total, torch.minimum(torch.maximum(new, lo), hi), w)
    return w


def _grid(device, shape, gen, dtype, variation=None):
    devices = DeviceArray.realise(device, shape, variation, gen, dtype=dtype)
    u = torch.rand(shape, generator=gen, dtype=F64)
    w = devices.tau_min.double() + u * (devices.tau_max - devices.tau_min).double()
    return devices, w.to(dtype)


@needs_numba
@pytest.mark.parametrize("name", sorted(DEVICES))
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_counts_up_to_k_compose_pulse_by_pulse(name, dtype):
    """n₊ + n₋ ≤ K_EXACT: the kernel equals the float64 pulse-by-pulse chain to float rounding:
    each pulse rounds once in the tile's dtype (the responses via ln/exp polynomials are within
    a few ulp of torch's pow/expm1, times a step ≤ 0.02 ≪ 1), so 4 (N + 1) ulp of max|w|."""
    gen = torch.Generator().manual_seed(3)
    shape = (K_EXACT + 1, K_EXACT + 1, 7)
    variation = DeviceVariation(dw_min_d2d=0.3, tau_min_d2d=0.2, tau_max_d2d=0.2, up_down=0.1)
    devices, w = _grid(DEVICES[name], shape, gen, dtype, variation)
    n_up = torch.arange(K_EXACT + 1, dtype=dtype).reshape(-1, 1, 1).expand(shape)
    n_down = torch.arange(K_EXACT + 1, dtype=dtype).reshape(1, -1, 1).expand(shape)
    keep = (n_up + n_down) <= K_EXACT
    n_up, n_down = torch.where(keep, n_up, 0.0), torch.where(keep, n_down, 0.0)
    got = fused.compose_counts(w, n_up, n_down, devices)
    ref = _reference(devices, w, n_up.double(), n_down.double())
    scale = float(devices.tau_max.abs().max().clamp(min=devices.tau_min.abs().max()))
    tol = 4.0 * (n_up + n_down + 1).double() * torch.finfo(dtype).eps * scale
    assert ((got.double() - ref).abs() <= tol).all()
    assert not torch.equal(got, w)
    # one sign: exactly the device's one-pulse step (no order average involved)
    one = (n_down == 0) & (n_up == 1)
    step = DEVICES[name].dw_min * devices.gain_up * DEVICES[name].response_up(w, devices.tau_min, devices.tau_max)
    first = torch.minimum(w + step, devices.tau_max)
    assert ((got - first)[one].abs() <= 4 * torch.finfo(dtype).eps * scale).all()


@needs_numba
@pytest.mark.parametrize("name", sorted(DEVICES))
@pytest.mark.parametrize("step", [1e-3, 1e-2])
def test_counts_above_k_within_the_stated_bound(name, step):
    """n₊ + n₋ from K_EXACT + 1 to 200, one sign and mixed (up share 1, 0.8, 0.5, 0), w on a
    grid of the range, step = range·{1e-3, 1e-2}/2: the approximation (RK4 flow plus the
    modified-equation correction) is within BOUND steps of the pulse-by-pulse chain (the flow
    alone, as the torch path composes, is 0.02–0.19 steps off: the check fails without the
    correction)."""
    base = DEVICES[name]
    span = base.tau_max - base.tau_min
    device = PowerStep(dw_min=step * span / 2, tau_min=base.tau_min, tau_max=base.tau_max,
                       gamma_up=base.gamma_up, gamma_down=base.gamma_down) \
        if isinstance(base, PowerStep) else \
        ExpStep(dw_min=step * span / 2, tau_min=base.tau_min, tau_max=base.tau_max,
                gamma_up=base.gamma_up, gamma_down=base.gamma_down)
    totals = torch.tensor(list(range(K_EXACT + 1, 40)) + [50, 64, 100, 150, 200], dtype=F64)
    shares = torch.tensor([1.0, 0.8, 0.5, 0.0], dtype=F64)
    w0 = torch.linspace(base.tau_min, base.tau_max, 41, dtype=F64)
    shape = (len(totals), len(shares), len(w0))
    n_up = (totals.reshape(-1, 1, 1) * shares.reshape(1, -1, 1)).round().expand(shape)
    n_down = totals.reshape(-1, 1, 1).expand(shape) - n_up
    w = w0.expand(shape).contiguous()
    devices = DeviceArray.realise(device, shape, None, torch.Generator().manual_seed(0), dtype=F64)
    got = fused.compose_counts(w, n_up, n_down, devices)
    ref = _reference(devices, w, n_up, n_down)
    err = float((got - ref).abs().max()) / device.dw_min
    assert err <= BOUND.get(name, DEFAULT_BOUND), err


@needs_numba
@pytest.mark.parametrize("device", [PowerStep(dw_min=0.005, gamma_up=1.5, gamma_down=2.0),
                                    ExpStep(dw_min=0.005, gamma_up=3.0, gamma_down=2.0)])
def test_fused_and_torch_paths_agree_in_mean_and_spread(device):
    """As the soft-bounds check of test_pulsed_fast: a fused and a torch tile from one seed agree
    in the mean (K·SE) and the variance (K·√(4/T) on the ratio) of the weight change over T
    replicas, c2c on. The torch path is the RK4 flow, which departs from the pulse chain by about
    ½ |f(w_N) − f(w_0)| ≤ ½ N step²γ/range ≈ 0.03 steps here, ≪ K·SE ≈ 0.3 steps."""
    trials = 8000
    g = torch.Generator().manual_seed(21)
    x = torch.rand(4, 5, generator=g, dtype=F64) * torch.sign(torch.randn(4, 5, generator=g, dtype=F64))
    d = 0.2 * torch.randn(4, 3, generator=g, dtype=F64)
    outs = []
    for kernel in ("auto", "torch"):
        cfg = TileConfig(device=device, variation=DeviceVariation(dw_min_c2c=0.5),
                         update=UpdateConfig(kernel=kernel))
        tile = AnalogTile((trials, 3, 5), cfg, torch.Generator().manual_seed(5), dtype=F64)
        tile.set_weight(torch.full((trials, 3, 5), 0.2, dtype=F64))
        tile.update(x.expand(trials, -1, -1), d.expand(trials, -1, -1), 0.3)
        assert tile.last_update_path == ("fused-numba" if kernel == "auto" else "torch")
        outs.append(tile.weight - 0.2)
    a, b = outs
    assert float(a.abs().mean()) > 5 * device.dw_min   # several pulses per element
    se = ((a.var(0) + b.var(0)) / trials).sqrt()
    assert ((a.mean(0) - b.mean(0)).abs() <= K * se + 1e-12).all()
    assert ((a.var(0) / b.var(0) - 1).abs() < K * math.sqrt(4.0 / trials)).all()


@dataclass(frozen=True)
class _BentPowerStep(PowerStep):
    """A subclass that changes the up response without stating new kernel constants."""

    def response_up(self, w, tau_min, tau_max):
        return super().response_up(w, tau_min, tau_max) ** 2


def test_subclass_changing_the_response_loses_the_step_constants():
    assert PowerStep().step_kernel_constants() is not None
    assert _BentPowerStep().step_kernel_constants() is None
    assert fused.kernel_form(_BentPowerStep()) is None
