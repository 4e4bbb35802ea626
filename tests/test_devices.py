"""Device families against closed forms, driven by the ``ALL_DEVICES`` registry.

Tolerances:
* closed forms in float64: a few ulp (eps = 2.2e-16) times the magnitudes involved, times the
  number of rounded operations when a loop accumulates them (n pulses → ≤ c·n·eps·scale);
* bisection: 60 halvings of an interval of length ≤ 2e6 leave < 2e-12;
* the RK4 pulse flow: the Euler error bound of one-pulse-at-a-time application, ½·n·step²·max|q q'|
  (each pulse is one Euler step of the flow; the flow contracts, so local errors add up), plus a
  10 % margin for the RK4 error, which is orders of magnitude smaller in the regimes used;
* statistics over random pulse orders: k = 5 standard errors (two-sided p ≈ 6e-7 per check).
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from analogsgd.devices import (
    ALL_DEVICES, ALL_PRESETS, AbstractDevice, CLinDevice, ConstantStep, ExpStep, IdealDevice,
    PowerStep, SoftBounds, asymmetric_linear_device, make_device,
)
from analogsgd.errors import ConfigError

EPS = torch.finfo(torch.float64).eps
F64 = torch.float64

# One asymmetric, non-default example per family, with its closed-form symmetric point and
# F(w⋄) (the value of the symmetric part at the symmetric point, as the family defines it).
EXAMPLES: dict[str, tuple[AbstractDevice, float, float]] = {
    "ideal": (IdealDevice(dw_min=1e-3), 0.0, 1.0),
    "soft_bounds": (SoftBounds(dw_min=1e-2, tau_min=-0.5, tau_max=0.8, w_sym=0.1), 0.1, 1.0),
    "constant_step": (ConstantStep(dw_min=1e-2, tau_min=-0.4, tau_max=0.8), 0.2, 1.0),
    "power_step": (PowerStep(dw_min=1e-2, tau_min=-0.5, tau_max=1.0, gamma_up=1.5, gamma_down=1.5),
                   0.25, 2.0 ** -1.5),
    "exp_step": (ExpStep(dw_min=1e-2, tau_min=-0.5, tau_max=1.0, gamma_up=3.0, gamma_down=1.5),
                 (3.0 * 1.0 + 1.5 * -0.5) / 4.5, 1.0 - math.exp(-3.0 * 1.5 / 4.5)),
    "c_lin": (CLinDevice(dw_min=1e-2, tau_min=-0.6, tau_max=0.6, c_lin=0.3), 0.3 * 0.6, 1.0 - 0.3 ** 2),
}
FAMILIES = sorted(ALL_DEVICES)


def t(x) -> torch.Tensor:
    return torch.as_tensor(x, dtype=F64)


def test_every_family_has_an_example():
    assert set(EXAMPLES) == set(ALL_DEVICES), "add a closed-form example for each new family"
    for name, (dev, _, _) in EXAMPLES.items():
        assert type(dev) is ALL_DEVICES[name]


@pytest.mark.parametrize("name", FAMILIES)
def test_symmetric_point_closed_form_and_bisection(name):
    dev, w_sym, f_sym = EXAMPLES[name]
    generic = AbstractDevice.symmetric_point.fget(dev)  # bisection, ignoring any override
    assert dev.symmetric_point == pytest.approx(w_sym, abs=1e-14)
    assert generic == pytest.approx(w_sym, abs=2e-12)
    w = t([dev.symmetric_point])
    assert float(dev.G(w)) == pytest.approx(0.0, abs=1e-14)
    assert float(dev.F(w)) == pytest.approx(f_sym, rel=1e-14)


def test_power_step_unequal_exponents_uses_bisection():
    dev = PowerStep(tau_min=-1.0, tau_max=1.0, gamma_up=2.0, gamma_down=0.5)
    w = t([dev.symmetric_point])
    assert float(dev.G(w)) == pytest.approx(0.0, abs=1e-14)
    # ω² = (1 − ω)^½ at ω = (1 − w⋄)/2: a check independent of the bisection
    omega = (1.0 - dev.symmetric_point) / 2.0
    assert omega ** 2 == pytest.approx((1.0 - omega) ** 0.5, abs=1e-13)


@pytest.mark.parametrize("name", FAMILIES)
def test_n_states(name):
    dev = EXAMPLES[name][0]
    assert dev.n_states == pytest.approx((dev.tau_max - dev.tau_min) / dev.dw_min, rel=4 * EPS)


def test_preset_state_counts():
    counts = {"li2025_four_state": 4, "li2025_ten_state": 10, "wu2024_least_squares_ald": 60000,
              "aihwkit_soft_bounds": 1200, "aihwkit_constant_step": 1200,
              "wu2024_mnist_soft_bounds": 1400, "wu2024_authors_soft_bounds": 1400}
    assert set(counts) == set(ALL_PRESETS)
    for name, factory in ALL_PRESETS.items():
        device, variation = factory()
        assert device.n_states == pytest.approx(counts[name], rel=1e-12), name
    dev, var = ALL_PRESETS["aihwkit_soft_bounds"]()
    assert (dev.dw_min, dev.tau_min, dev.tau_max) == (1e-3, -0.6, 0.6)
    assert (var.dw_min_d2d, var.dw_min_c2c, var.tau_max_d2d, var.up_down_d2d) == (0.3, 0.3, 0.3, 0.01)


@pytest.mark.parametrize("name", FAMILIES)
def test_compact_update_equals_pulse_update(name):
    """W + ΔW⊙F − |ΔW|⊙G equals w + Δw q₊ (Δw ≥ 0) or w + Δw q₋ (Δw < 0) (Eq. (6)–(7), Wu 2024)."""
    dev = EXAMPLES[name][0]
    gen = torch.Generator().manual_seed(0)
    lo, hi = max(dev.tau_min, -2.0), min(dev.tau_max, 2.0)
    w = lo + (hi - lo) * torch.rand(1000, generator=gen, dtype=F64)
    dw = 0.1 * torch.randn(1000, generator=gen, dtype=F64)
    compact = w + dw * dev.F(w) - dw.abs() * dev.G(w)
    pulse = torch.where(dw >= 0, w + dw * dev.q_up(w), w + dw * dev.q_down(w))
    torch.testing.assert_close(compact, pulse, rtol=0, atol=8 * EPS * 2.0)


def test_ald_compact_update_closed_form():
    """ALD: F ≡ 1, G = w/τ, so the update is W + ΔW − |ΔW| ⊙ W/τ (Eq. (3) of Wu et al. 2024)."""
    tau = 0.7
    dev = asymmetric_linear_device(tau=tau)
    gen = torch.Generator().manual_seed(1)
    w = tau * (2 * torch.rand(500, generator=gen, dtype=F64) - 1)
    dw = 0.3 * torch.randn(500, generator=gen, dtype=F64)
    torch.testing.assert_close(dev.F(w), torch.ones_like(w), rtol=0, atol=2 * EPS)
    torch.testing.assert_close(dev.G(w), w / tau, rtol=0, atol=2 * EPS)
    compact = w + dw * dev.F(w) - dw.abs() * dev.G(w)
    torch.testing.assert_close(compact, w + dw - dw.abs() * w / tau, rtol=0, atol=8 * EPS)


@pytest.mark.parametrize("name", ["soft_bounds", "c_lin", "power_step", "exp_step"])
def test_saturating_families_converge_to_upper_bound_never_past(name):
    """Repeated up pulses move monotonically toward τ_max and never past it."""
    dev = EXAMPLES[name][0].replace(dw_min=0.05)
    w = t([dev.tau_min, dev.symmetric_point, 0.5 * (dev.symmetric_point + dev.tau_max)])
    for _ in range(4000):
        new = w + dev.dw_min * dev.q_up(w)
        assert bool((new >= w).all()) and bool((new <= dev.tau_max).all())
        w = new
    if name in ("soft_bounds", "c_lin"):  # geometric approach: (1 − a)^4000 ≈ 0
        torch.testing.assert_close(w, torch.full_like(w, dev.tau_max), rtol=0, atol=4 * EPS)
    else:  # algebraic/exponential approach: within a few steps of the bound
        assert bool((dev.tau_max - w < 0.05).all())
    composed = dev.compose_pulses(t([0.0]), t([1e6]), t([0.0]), t(dev.dw_min), t(dev.dw_min),
                                  dev.tau_min, dev.tau_max)
    assert float(composed) <= dev.tau_max + 4 * EPS


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(
    tau_max=st.floats(0.05, 5.0), tau_min=st.floats(-5.0, -0.05), sym=st.floats(-0.9, 0.9),
    w0=st.floats(0.0, 1.0), steps=st.lists(st.floats(-1.0, 1.0), min_size=1, max_size=60),
)
def test_theorem1_bounded_weights_without_clipping(tau_max, tau_min, sym, w0, steps):
    """Theorem 1 of Wu et al. (2024): with W₀ in the bounds and every step ≤ τ, W stays inside.

    For the ALD (τ_max = −τ_min = τ, w⋄ = 0) the condition is ‖ΔW_k‖∞ ≤ τ; for general soft
    bounds it is Δw ≤ τ_max − w⋄ up and |Δw| ≤ w⋄ − τ_min down (each pulse is then a convex
    combination of w and the bound it moves toward). Compact update, no clipping; tolerance:
    4 ulp of the bound per step (float64 rounding of w + Δw·q).
    """
    w_sym = tau_min + (tau_max - tau_min) * (0.5 + 0.5 * sym)
    if not tau_min < w_sym < tau_max:
        return
    dev = SoftBounds(tau_min=tau_min, tau_max=tau_max, w_sym=w_sym)
    w = t([tau_min + (tau_max - tau_min) * w0, tau_min, tau_max])
    scale = max(abs(tau_min), abs(tau_max))
    for k, s in enumerate(steps, start=1):
        dw = s * (tau_max - w_sym) if s >= 0 else s * (w_sym - tau_min)
        dw_t = torch.full_like(w, dw)
        w = w + dw_t * dev.F(w) - dw_t.abs() * dev.G(w)
        assert bool((w <= tau_max + 4 * k * EPS * scale).all())
        assert bool((w >= tau_min - 4 * k * EPS * scale).all())


def test_theorem1_ald_with_tau_bounded_steps():
    """The ALD statement itself on a vector: ‖ΔW_k‖∞ ≤ τ keeps ‖W_k‖∞ ≤ τ (float64, 4·k ulp)."""
    tau = 0.6
    dev = asymmetric_linear_device(tau=tau)
    gen = torch.Generator().manual_seed(3)
    w = tau * (2 * torch.rand(4000, generator=gen, dtype=F64) - 1)
    for k in range(1, 301):
        dw = tau * (2 * torch.rand(4000, generator=gen, dtype=F64) - 1)
        w = w + dw * dev.F(w) - dw.abs() * dev.G(w)
        assert float(w.abs().max()) <= tau * (1 + 4 * k * EPS)


# -- compose_pulses against one pulse at a time ----------------------------------------------

def pulse_loop(dev: AbstractDevice, w: torch.Tensor, n: int, step: float, up: bool) -> torch.Tensor:
    """The reference: n pulses applied one at a time, each clipped to the bounds if hard."""
    for _ in range(n):
        w = w + step * dev.q_up(w) if up else w - step * dev.q_down(w)
        if dev.hard_bounds:
            w = dev.clip(w)
    return w


def uses_rk4_default(dev: AbstractDevice) -> bool:
    return type(dev).compose_pulses is AbstractDevice.compose_pulses


def start_weights(dev: AbstractDevice) -> torch.Tensor:
    lo, hi = max(dev.tau_min, -1.0), min(dev.tau_max, 1.0)
    return t([lo + f * (hi - lo) for f in (0.1, 0.3, 0.5, 0.7, 0.9)])


@pytest.mark.parametrize("up", [True, False], ids=["up", "down"])
@pytest.mark.parametrize("name", [n for n in FAMILIES if not uses_rk4_default(EXAMPLES[n][0])])
def test_compose_exact_single_sign(name, up):
    """Closed-form compositions equal the pulse loop to float64 rounding (≤ 8·n·eps·scale)."""
    dev = EXAMPLES[name][0]
    w0 = start_weights(dev)
    for n in (1, 7, 60, 400):
        step = dev.dw_min
        ref = pulse_loop(dev, w0, n, step, up)
        n_up, n_down = (t(n), t(0)) if up else (t(0), t(n))
        got = dev.compose_pulses(w0, n_up, n_down, t(step), t(step), dev.tau_min, dev.tau_max)
        if dev.hard_bounds:
            got = dev.clip(got)
        scale = float(w0.abs().max()) + n * step
        torch.testing.assert_close(got, ref, rtol=0, atol=8 * n * EPS * scale)


def flow_error_bound(dev: AbstractDevice, lo: float, hi: float, n: int, step: float, up: bool) -> float:
    """½·n·step²·max|q·q'| over [lo, hi] (q' by autograd on a 4001-point grid)."""
    grid = torch.linspace(lo, hi, 4001, dtype=F64, requires_grad=True)
    q = dev.q_up(grid) if up else dev.q_down(grid)
    (dq,) = torch.autograd.grad(q.sum(), grid)
    return 0.5 * n * step ** 2 * float((q * dq).abs().max().detach())


@pytest.mark.parametrize("up", [True, False], ids=["up", "down"])
@pytest.mark.parametrize("name", [n for n in FAMILIES if uses_rk4_default(EXAMPLES[n][0])])
def test_compose_rk4_flow_error_bound(name, up):
    """RK4 flow vs pulse loop: |error| ≤ 1.1·½·n·step²·max|q q'|, and the error is O(step).

    Each pulse is an Euler step of the flow dw/dn = ±step·q(w), with local error
    ≤ ½ step² max|q q'|; q₊ falls (q₋ rises) with w, so the flow contracts and the n local errors
    add up at most. Halving the step at fixed n·step must halve the error (first order): the
    ratio is checked in [0.4, 0.6].
    """
    dev = EXAMPLES[name][0]
    w0 = start_weights(dev)[1:-1]
    errors = []
    for n, step in ((100, 4e-3), (200, 2e-3)):
        ref = pulse_loop(dev, w0, n, step, up)
        n_up, n_down = (t(n), t(0)) if up else (t(0), t(n))
        got = dev.compose_pulses(w0, n_up, n_down, t(step), t(step), dev.tau_min, dev.tau_max)
        lo, hi = float(torch.minimum(w0, ref).min()), float(torch.maximum(w0, ref).max())
        bound = flow_error_bound(dev, lo, hi, n, step, up)
        err = (got - ref).abs()
        assert float(err.max()) <= 1.1 * bound + 1e-15
        errors.append(err)
    ratio = errors[1] / errors[0]
    assert bool(((ratio > 0.4) & (ratio < 0.6)).all()), ratio


def orderings(dev: SoftBounds, w0: torch.Tensor, n_up: int, n_down: int, n_orders: int, seed: int):
    """Final weights of ``n_orders`` uniformly random orders of the mixed pulses (one per row)."""
    gen = torch.Generator().manual_seed(seed)
    is_up = torch.argsort(torch.rand(n_orders, n_up + n_down, generator=gen), dim=1) < n_up
    w = w0.expand(n_orders).clone()
    for k in range(n_up + n_down):
        w = torch.where(is_up[:, k], w + dev.dw_min * dev.q_up(w), w - dev.dw_min * dev.q_down(w))
    return w


def test_soft_bounds_mixed_sign_contraction_is_order_independent():
    """Π = (1 − a₊)^{n₊}(1 − a₋)^{n₋} for every order: slope between two starting weights.

    Each order's map is affine, so (f(w₁) − f(w₂))/(w₁ − w₂) is its contraction; it equals the
    closed form to float64 rounding of the 65 affine steps (tolerance 1e-12 on a value ≈ 0.1–1,
    the loss of digits in the difference quotient being ≈ 65·eps/|w₁ − w₂|).
    """
    dev = SoftBounds(dw_min=0.02, tau_min=-0.6, tau_max=0.9, w_sym=0.1)
    n_up, n_down = 40, 25
    f1 = orderings(dev, t(0.3), n_up, n_down, 200, seed=5)
    f2 = orderings(dev, t(-0.2), n_up, n_down, 200, seed=5)
    a_up, a_down = dev.dw_min / (dev.tau_max - dev.w_sym), dev.dw_min / (dev.w_sym - dev.tau_min)
    expected = (1 - a_up) ** n_up * (1 - a_down) ** n_down
    torch.testing.assert_close((f1 - f2) / 0.5, torch.full_like(f1, expected), rtol=0, atol=1e-12)
    args = (t(n_up), t(n_down), t(dev.dw_min), t(dev.dw_min), dev.tau_min, dev.tau_max)
    slope = (dev.compose_pulses(t(0.3), *args) - dev.compose_pulses(t(-0.2), *args)) / 0.5
    assert float(slope) == pytest.approx(expected, abs=1e-13)


@pytest.mark.parametrize("w0", [-0.4, 0.1, 0.5])
def test_soft_bounds_mixed_sign_result_within_spread_of_orders(w0):
    """The composed result lies inside [min, max] of 1000 random orders and within 5 standard
    errors of their mean (the order average; the flow's own bias is O(a), well below 5 SE here).
    """
    dev = SoftBounds(dw_min=0.02, tau_min=-0.6, tau_max=0.9, w_sym=0.1)
    n_up, n_down = 40, 25
    finals = orderings(dev, t(w0), n_up, n_down, 1000, seed=11)
    got = float(dev.compose_pulses(t(w0), t(n_up), t(n_down), t(dev.dw_min), t(dev.dw_min),
                                   dev.tau_min, dev.tau_max))
    assert float(finals.min()) <= got <= float(finals.max())
    se = float(finals.std()) / math.sqrt(finals.numel())
    assert abs(got - float(finals.mean())) <= 5 * se


# -- front door and errors ------------------------------------------------------------------

@pytest.mark.parametrize("name", FAMILIES)
def test_make_device_builds_every_family(name):
    assert isinstance(make_device(name), ALL_DEVICES[name])


def test_make_device_unknown_name_lists_known_names():
    with pytest.raises(ConfigError) as err:
        make_device("softbounds")
    message = str(err.value)
    assert "make_device.name" in message and "'softbounds'" in message
    for name in ALL_DEVICES:
        assert name in message


def test_make_device_unknown_and_invalid_parameters():
    with pytest.raises(ConfigError, match=r"PowerStep\.gama_up"):
        make_device("power_step", gama_up=2.0)
    with pytest.raises(ConfigError, match=r"ExpStep\.gamma_up must be a finite number > 0; got -1"):
        make_device("exp_step", gamma_up=-1.0)
    with pytest.raises(ConfigError, match=r"CLinDevice\.c_lin"):
        make_device("c_lin", c_lin=1.0)
    with pytest.raises(ConfigError, match=r"CLinDevice\.tau_min"):
        make_device("c_lin", tau_min=0.1, tau_max=0.6)
    with pytest.raises(ConfigError, match=r"PowerStep\.tau_min"):
        make_device("power_step", tau_min=1.0, tau_max=0.5)


def test_soft_bounds_F_G_closed_form():
    """F = 1 + ½δ[1/(w⋄ − τ_min) − 1/(τ_max − w⋄)], G = ½δ[1/(w⋄ − τ_min) + 1/(τ_max − w⋄)], δ = w − w⋄."""
    dev = EXAMPLES["soft_bounds"][0]
    w = torch.linspace(dev.tau_min, dev.tau_max, 101, dtype=F64)
    d = w - dev.w_sym
    inv_lo, inv_hi = 1 / (dev.w_sym - dev.tau_min), 1 / (dev.tau_max - dev.w_sym)
    torch.testing.assert_close(dev.F(w), 1 + 0.5 * d * (inv_lo - inv_hi), rtol=0, atol=16 * EPS)
    torch.testing.assert_close(dev.G(w), 0.5 * d * (inv_lo + inv_hi), rtol=0, atol=16 * EPS)


def test_c_lin_F_G_closed_form():
    """F = 1 − c·w/τ, G = w/τ − c (arXiv 2502.06309)."""
    dev = EXAMPLES["c_lin"][0]
    tau, c = dev.tau_max, dev.c_lin
    w = torch.linspace(-tau, tau, 101, dtype=F64)
    torch.testing.assert_close(dev.F(w), 1 - c * w / tau, rtol=0, atol=16 * EPS)
    torch.testing.assert_close(dev.G(w), w / tau - c, rtol=0, atol=16 * EPS)
