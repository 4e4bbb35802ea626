"""DeviceArray: seeded realisation, d2d statistics, zero-shifting and c2c noise.

Statistical tolerances are k = 5 standard errors (two-sided p ≈ 6e-7 per check):
* mean of N i.i.d. draws of std σ: SE = σ/√N;
* sample std of N normal draws: SE ≈ σ/√(2N);
* sample variance of T normal draws: SE ≈ var·√(2/(T−1));
* sample correlation of independent draws: SE ≈ 1/√N.
The clamps in the draws (step factor ≥ 0, bound factor ≥ 0.05) cut the normal at ≥ 3.17σ for
σ = 0.3; they shift the mean by < 1e-4 relative, far below 5 SE at the N used. Deterministic
model errors are added where the check compares against a first-order formula (stated there).
"""

from __future__ import annotations

import math

import pytest
import torch

from analogsgd.devices import (
    ALL_DEVICES,
    ALL_PRESETS,
    ConstantStep,
    DeviceArray,
    DeviceVariation,
    IdealDevice,
    SoftBounds,
    asymmetric_linear_device,
)
from analogsgd.errors import ConfigError

F64 = torch.float64
K = 5.0
SPREAD = DeviceVariation(dw_min_d2d=0.3, up_down=0.05, up_down_d2d=0.1, tau_min_d2d=0.2,
                         tau_max_d2d=0.3, dw_min_c2c=0.1)


def realise(device, shape, variation, seed, dtype=F64):
    return DeviceArray.realise(device, shape, variation, torch.Generator().manual_seed(seed), dtype=dtype)


def tensors(arr: DeviceArray) -> list[torch.Tensor]:
    return [arr.gain_up, arr.gain_down, arr.tau_min, arr.tau_max, arr.reference]


def test_realise_is_reproducible_from_the_seed():
    dev = SoftBounds()
    var = SPREAD.replace(zero_shift=True)
    a, b, c = (realise(dev, (64, 32), var, s, torch.float32) for s in (7, 7, 8))
    for x, y in zip(tensors(a), tensors(b)):
        assert torch.equal(x, y)
    for x, y in zip(tensors(a)[:4], tensors(c)[:4]):
        assert not torch.equal(x, y)


def test_realise_does_not_touch_the_global_rng():
    state = torch.random.get_rng_state()
    realise(SoftBounds(), (16, 16), SPREAD, 3)
    assert torch.equal(state, torch.random.get_rng_state())


def test_d2d_step_statistics():
    n = 1_000_000
    arr = realise(SoftBounds(), (1000, 1000), DeviceVariation(dw_min_d2d=0.3), 1)
    step = arr.gain_up
    assert torch.equal(arr.gain_up, arr.gain_down)  # no up/down asymmetry configured
    assert abs(float(step.mean()) - 1.0) <= K * 0.3 / math.sqrt(n)
    assert abs(float(step.std()) - 0.3) <= K * 0.3 / math.sqrt(2 * n)


def test_d2d_up_down_statistics():
    """β = up_down + up_down_d2d·ξ: gain₊ = 1 + β, gain₋ = 1 − β (no step spread)."""
    n = 1_000_000
    arr = realise(SoftBounds(), (1000, 1000), DeviceVariation(up_down=0.05, up_down_d2d=0.1), 2)
    torch.testing.assert_close(arr.gain_up + arr.gain_down, torch.full_like(arr.gain_up, 2.0),
                               rtol=0, atol=4 * torch.finfo(F64).eps)
    beta = 0.5 * (arr.gain_up - arr.gain_down)
    assert abs(float(beta.mean()) - 0.05) <= K * 0.1 / math.sqrt(n)
    assert abs(float(beta.std()) - 0.1) <= K * 0.1 / math.sqrt(2 * n)


def test_d2d_bound_statistics_and_independence():
    n = 1_000_000
    dev = SoftBounds(tau_min=-0.5, tau_max=0.8)
    arr = realise(dev, (1000, 1000), SPREAD, 3)
    for got, nominal, rel in ((arr.tau_min, -0.5, 0.2), (arr.tau_max, 0.8, 0.3)):
        sigma = abs(nominal) * rel
        assert abs(float(got.mean()) - nominal) <= K * sigma / math.sqrt(n)
        assert abs(float(got.std()) - sigma) <= K * sigma / math.sqrt(2 * n)
    assert bool((arr.tau_min < 0).all()) and bool((arr.tau_max > 0).all())
    flat = torch.stack([t.flatten() for t in (arr.gain_up, arr.tau_min, arr.tau_max)])
    corr = torch.corrcoef(flat)
    off_diagonal = corr[~torch.eye(3, dtype=torch.bool)]
    assert float(off_diagonal.abs().max()) <= K / math.sqrt(n)


def test_infinite_bounds_are_not_spread():
    arr = realise(IdealDevice(), (10,), SPREAD, 4)
    assert bool(torch.isinf(arr.tau_min).all()) and bool(torch.isinf(arr.tau_max).all())


def _has_symmetric_point(dev) -> bool:
    w = torch.tensor([0.9 * dev.symmetric_point + 0.1 * max(dev.tau_min, -1.0),
                      0.9 * dev.symmetric_point + 0.1 * min(dev.tau_max, 1.0)], dtype=F64)
    return bool((dev.G(w) != 0).any())


@pytest.mark.parametrize("name", sorted(ALL_DEVICES))
def test_zero_shift_reference_is_the_per_element_symmetric_point(name):
    """gain₊·q₊(ref) = gain₋·q₋(ref) per element, to the 60-halving bisection (≤ 1e-12)."""
    dev = ALL_DEVICES[name]()
    if not _has_symmetric_point(dev):
        pytest.skip("G ≡ 0: every point is symmetric (see test_zero_shift_without_asymmetry)")
    arr = realise(dev, (200, 50), SPREAD.replace(zero_shift=True), 5)
    ref = arr.reference
    torch.testing.assert_close(ref, arr.symmetric_point(), rtol=0, atol=0)
    inside = (ref > arr.tau_min) & (ref < arr.tau_max)
    assert float(inside.double().mean()) > 0.99  # a symmetric point exists for nearly all
    torch.testing.assert_close(arr.q_up(ref)[inside], arr.q_down(ref)[inside], rtol=0, atol=1e-12)
    torch.testing.assert_close(arr.G(ref)[inside], torch.zeros_like(ref[inside]), rtol=0, atol=1e-12)


def test_zero_shift_soft_bounds_closed_form():
    """aihwkit's SoftBoundsReferenceDevice: w* = (α₊ − α₋)/(α₊/b_max − α₋/b_min)."""
    arr = realise(SoftBounds(), (300, 30), SPREAD.replace(zero_shift=True), 6)
    a_up, a_down = arr.gain_up, arr.gain_down
    closed = (a_up - a_down) / (a_up / arr.tau_max - a_down / arr.tau_min)
    alive = (a_up > 0) | (a_down > 0)  # a step factor clamped to 0 is a stuck device: no w*
    assert float(alive.double().mean()) > 0.99
    torch.testing.assert_close(arr.reference[alive], closed[alive], rtol=0, atol=1e-12)


def test_zero_shift_without_asymmetry():
    """G ≡ 0 (ideal, constant step with equal gains): the reference is the bounds' midpoint."""
    var = DeviceVariation(dw_min_d2d=0.3, zero_shift=True)
    ideal = realise(IdealDevice(), (20,), var, 7)
    assert torch.equal(ideal.reference, torch.zeros(20, dtype=F64))
    const = realise(ConstantStep(tau_min=-0.4, tau_max=0.8), (20,), var, 7)
    torch.testing.assert_close(const.reference, torch.full((20,), 0.2, dtype=F64), rtol=0, atol=1e-15)


# -- cycle-to-cycle noise ---------------------------------------------------------------------

def c2c_trials(device, w0, n_up, n_down, sigma, trials, seed):
    arr = realise(device, (trials,), DeviceVariation(dw_min_c2c=sigma), 0)
    w = torch.full((trials,), w0, dtype=F64)
    n_up_t = torch.full_like(w, float(n_up))
    n_down_t = torch.full_like(w, float(n_down))
    noisy = arr.apply_pulses(w, n_up_t, n_down_t, torch.Generator().manual_seed(seed))
    clean = arr.clip(device.compose_pulses(w, n_up_t, n_down_t, arr.gain_up * device.dw_min,
                                           arr.gain_down * device.dw_min, arr.tau_min, arr.tau_max))
    return noisy, float(clean[0])


def test_c2c_constant_step_mean_and_variance():
    """Constant steps: mean = w₀ + n₊Δw − n₋Δw and var = σ²(n₊ + n₋)Δw² exactly (no model error)."""
    dev = ConstantStep(dw_min=1e-3, tau_min=-1.0, tau_max=1.0)
    trials, sigma, n_up, n_down = 40_000, 0.3, 30, 12
    noisy, clean = c2c_trials(dev, 0.1, n_up, n_down, sigma, trials, seed=10)
    var = sigma ** 2 * (n_up + n_down) * dev.dw_min ** 2
    assert clean == pytest.approx(0.1 + (n_up - n_down) * dev.dw_min, abs=1e-15)
    assert abs(float(noisy.mean()) - clean) <= K * math.sqrt(var / trials)
    assert abs(float(noisy.var()) / var - 1) <= K * math.sqrt(2 / (trials - 1))


@pytest.mark.parametrize("n_up, n_down", [(20, 0), (0, 20), (15, 10)])
def test_c2c_soft_bounds_mean_and_variance(n_up, n_down):
    """Soft bounds: the mean is the noiseless composition (5 SE); the variance is σ²Σ step².

    Σ step² is summed over the pulses of the noiseless path (one at a time, in the order up then
    down). The implementation evaluates the steps at the start weight, a first-order formula:
    the steps change by a relative ≤ n·a over the path (a = Δw/(τ − w⋄) = 1/600 here), so the
    tolerance on var/σ²Σstep² is 5 SE + 2·n·a.
    """
    dev = asymmetric_linear_device(tau=0.6, dw_min=1e-3)
    trials, sigma, w0 = 40_000, 0.3, 0.2
    noisy, clean = c2c_trials(dev, w0, n_up, n_down, sigma, trials, seed=11)
    w, steps2 = torch.tensor(w0, dtype=F64), 0.0
    for up in [True] * n_up + [False] * n_down:
        s = dev.dw_min * (dev.q_up(w) if up else dev.q_down(w))
        steps2 += float(s) ** 2
        w = w + s if up else w - s
    var = sigma ** 2 * steps2
    assert abs(float(noisy.mean()) - clean) <= K * math.sqrt(var / trials)
    a = dev.dw_min / dev.tau_max
    assert abs(float(noisy.var()) / var - 1) <= K * math.sqrt(2 / (trials - 1)) + 2 * (n_up + n_down) * a


def test_c2c_needs_a_generator():
    arr = realise(SoftBounds(), (4,), DeviceVariation(dw_min_c2c=0.1), 0)
    w = torch.zeros(4, dtype=F64)
    with pytest.raises(ConfigError, match="generator"):
        arr.apply_pulses(w, torch.ones_like(w), torch.zeros_like(w), None)


def test_apply_pulses_respects_the_bounds():
    """Even with large noise, every element ends inside its own [τ_min, τ_max]."""
    dev = SoftBounds(dw_min=0.05)
    arr = realise(dev, (5000,), SPREAD.replace(dw_min_c2c=2.0), 12)
    w = torch.zeros(5000, dtype=F64)
    out = arr.apply_pulses(w, torch.full_like(w, 40.0), torch.full_like(w, 3.0), torch.Generator().manual_seed(1))
    assert bool((out <= arr.tau_max).all()) and bool((out >= arr.tau_min).all())


def test_presets_realise():
    for name, factory in ALL_PRESETS.items():
        device, variation = factory()
        arr = realise(device, (8, 8), variation, 0)
        assert arr.gain_up.shape == (8, 8), name


def test_variation_rejects_invalid_values():
    with pytest.raises(ConfigError, match=r"DeviceVariation\.up_down must be"):
        DeviceVariation(up_down=1.0)
    with pytest.raises(ConfigError, match=r"DeviceVariation\.dw_min_c2c"):
        DeviceVariation(dw_min_c2c=-0.1)


@pytest.mark.parametrize("name", sorted(ALL_DEVICES))
def test_float32_arrays_stay_finite_and_bounded(name):
    """Every family in float32 (the tile's dtype), with spread, noise and up to 10⁴ pulses."""
    dev = ALL_DEVICES[name]().replace(dw_min=0.01)
    arr = realise(dev, (50, 40), SPREAD.replace(zero_shift=True), 13, dtype=torch.float32)
    gen = torch.Generator().manual_seed(2)
    w = torch.zeros(50, 40)
    for n_up, n_down in ((0.0, 0.0), (3.0, 1.0), (1e4, 0.0), (0.0, 1e4), (500.0, 700.0)):
        w = arr.apply_pulses(w, torch.full_like(w, n_up), torch.full_like(w, n_down), gen)
        assert bool(torch.isfinite(w).all()), (n_up, n_down)
        if dev.hard_bounds:
            assert bool((w <= arr.tau_max).all()) and bool((w >= arr.tau_min).all())
    assert bool(torch.isfinite(arr.reference).all())
