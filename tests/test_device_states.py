"""n_states as a device parameter: Δw_min = (τ_max − τ_min)/n_states, honoured by the pulsed
update (both paths) and by ζ of Lemma 1 (Li et al. 2025); the Table 3 presets of Li et al.

Tolerances are stated per test: grid levels to float64 rounding accumulated over the run;
the ζ variance at 4 standard errors of a sample variance.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from analogsgd.crossbar import AnalogTile, TileConfig, UpdateConfig, fused
from analogsgd.devices import (
    ALL_DEVICES,
    LI2025_DEVICES,
    LI2025_TABLE3,
    ConstantStep,
    IdealDevice,
    SoftBounds,
    li2025_device,
    make_device,
)
from analogsgd.errors import ConfigError

F64 = torch.float64


# -- the field -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(ALL_DEVICES))
def test_n_states_sets_dw_min_for_every_family(name):
    """n_states = N on bounds [−0.8, 0.6] gives Δw_min = 1.4/N exactly (one division), and
    device.n_states reads N; the default (0) derives n_states from Δw_min instead."""
    dev = make_device(name, tau_min=-0.8, tau_max=0.6, n_states=7)
    assert dev.n_states == 7
    assert dev.dw_min == 1.4 / 7 or dev.dw_min == (0.6 - -0.8) / 7
    plain = make_device(name, tau_min=-0.8, tau_max=0.6, dw_min=0.02)
    assert plain.n_states == (0.6 - -0.8) / 0.02


def test_contradictory_dw_min_and_n_states_is_one_config_error():
    with pytest.raises(ConfigError) as err:
        SoftBounds(tau_min=-1.0, tau_max=1.0, dw_min=0.3, n_states=10)
    message = str(err.value)
    assert "SoftBounds.dw_min" in message and "0.3" in message and "n_states = 10" in message
    assert len(message.splitlines()) == 1
    # agreeing values (to rounding) are accepted
    assert SoftBounds(tau_min=-1.0, tau_max=1.0, dw_min=0.2, n_states=10).dw_min == 0.2


@pytest.mark.parametrize("bad", [-1, float("nan")])
def test_negative_or_nan_n_states_refused(bad):
    with pytest.raises(ConfigError, match="ConstantStep.n_states"):
        ConstantStep(n_states=bad)


def test_n_states_needs_finite_bounds():
    with pytest.raises(ConfigError, match="IdealDevice.n_states"):
        IdealDevice(n_states=10)
    with pytest.raises(ConfigError, match="SoftBounds.n_states"):
        SoftBounds(n_states=float("inf"))


@pytest.mark.parametrize("name", sorted(ALL_DEVICES))
@pytest.mark.parametrize("given", ["dw_min", "n_states"])
def test_to_dict_round_trip(name, given):
    """A dict holding both n_states and the derived Δw_min (or both given ones) rebuilds the
    same device, field for field (the ideal device has no finite range to divide)."""
    if name == "ideal" and given == "n_states":
        pytest.skip("n_states needs finite bounds (tested in test_n_states_needs_finite_bounds)")
    kwargs = {"dw_min": 0.05} if given == "dw_min" else {"n_states": 13}
    dev = make_device(name, **kwargs)
    plain = dev.to_dict()
    assert all(type(v) in (int, float, str, bool) for v in plain.values())  # no marker types leak
    rebuilt = type(dev)(**{k: float(v) if v in ("inf", "-inf") else v for k, v in plain.items()})
    assert rebuilt == dev and rebuilt.dw_min == dev.dw_min and rebuilt.n_states == dev.n_states


def test_replace_keeps_the_given_quantity():
    """Built from n_states, a change of bounds keeps the count (Δw_min follows); built from
    Δw_min, it keeps the step (the count follows), as before n_states existed; both through
    Config.replace and dataclasses.replace."""
    by_count = SoftBounds(tau_min=-1.0, tau_max=1.0, n_states=10)
    for wider in (by_count.replace(tau_max=2.0), dataclasses.replace(by_count, tau_max=2.0)):
        assert wider.n_states == 10 and wider.dw_min == pytest.approx(0.3, rel=1e-15)
    by_step = SoftBounds(tau_min=-1.0, tau_max=1.0, dw_min=0.2)
    for wider in (by_step.replace(tau_max=2.0), dataclasses.replace(by_step, tau_max=2.0)):
        assert wider.dw_min == 0.2 and wider.n_states == pytest.approx(15.0, rel=1e-15)
    # Config.replace of one of the pair derives the other; dataclasses.replace keeps the old
    # value of the other, and a pair that disagrees is refused
    assert by_step.replace(n_states=4).dw_min == 0.5
    assert by_count.replace(dw_min=0.5).n_states == 4.0
    assert by_count.replace(n_states=0).dw_min == 0.2
    with pytest.raises(ConfigError, match="SoftBounds.dw_min"):
        dataclasses.replace(by_count, dw_min=0.5)
    with pytest.raises(ConfigError, match="SoftBounds.dw_min"):
        by_step.replace(dw_min=0.5, n_states=10)


# -- honoured by the pulsed update -----------------------------------------------------------

@pytest.mark.parametrize("n_states", [4, 10])
@pytest.mark.parametrize("kernel", ["auto", "torch"])
def test_pulsed_run_visits_at_most_n_states_plus_one_levels(n_states, kernel):
    """A constant-step device with n_states = N on [−1, 1] and no variation: every pulse moves
    by Δw_min = 2/N and the hard bounds lie on the grid, so a weight starting at 0 (a grid
    point for even N) only ever sits on the N + 1 levels −1 + kΔw_min. 300 random batch updates
    of 16 elements, large enough (lr = 1) to walk into both bounds. Tolerance: the weights are
    sums of ≤ 300·31 steps, so within 1e-10 of a level (float64 rounding ≈ 1e-12)."""
    dev = ConstantStep(tau_min=-1.0, tau_max=1.0, n_states=n_states)
    cfg = TileConfig(device=dev, update=UpdateConfig(kernel=kernel))
    tile = AnalogTile((4, 4), cfg, torch.Generator().manual_seed(n_states), dtype=F64)
    gen = torch.Generator().manual_seed(100 + n_states)
    dw = 2.0 / n_states
    seen: set[int] = set()
    for _ in range(300):
        x = torch.randn(2, 4, generator=gen, dtype=F64)
        d = torch.randn(2, 4, generator=gen, dtype=F64)
        tile.update(x, d, 1.0)
        w = tile.weight
        k = torch.round((w + 1.0) / dw)
        assert float((w - (k * dw - 1.0)).abs().max()) <= 1e-10
        seen.update(int(v) for v in k.reshape(-1))
    expected_path = ("sparse-numba" if kernel == "auto" and fused.NUMBA_AVAILABLE  # batch 2
                     else "torch")
    assert tile.last_update_path == expected_path
    assert seen <= set(range(n_states + 1))
    assert {0, n_states} <= seen and len(seen) == n_states + 1  # the run does reach every level


def test_quantisation_noise_uses_dw_min_from_n_states():
    """ζ of Lemma 1 (Li et al. 2025) in the expected update: Var ζ = |ΔW| Δw_min (1 − |ΔW|/(BL Δw_min))
    with Δw_min = 2/10 from n_states = 10 (the default Δw_min 1e-3 would give a variance 200×
    smaller). A constant-step device (F = 1, G = 0) at w = 0 with ΔW = 0.1 (clipping at ±1 is
    6σ away): W' − ΔW is ζ. 20 000 elements; the sample variance within 4 SE, SE = σ²√(2/n)."""
    dev = ConstantStep(tau_min=-1.0, tau_max=1.0, n_states=10)
    update = UpdateConfig(mode="expected", quantisation_noise=True, max_pulses=31)
    tile = AnalogTile((100, 200), TileConfig(device=dev, update=update),
                      torch.Generator().manual_seed(3), dtype=F64)
    delta = torch.full((100, 200), 0.1, dtype=F64)
    tile.apply(delta)
    zeta = tile.weight - delta
    dw, bl = 2.0 / 10, 31
    var = 0.1 * dw * (1.0 - 0.1 / (bl * dw))
    n = zeta.numel()
    assert abs(float(zeta.mean())) <= 4 * math.sqrt(var / n)
    assert abs(float(zeta.var()) - var) <= 4 * var * math.sqrt(2.0 / n)


# -- the Table 3 presets -----------------------------------------------------------------------

TABLE3 = {"Capacitor": 400, "ECRAM": 1000, "ECRAM (MO)": 7100, "PCM": 200, "ReRAM (OM)": 21,
          "ReRAM (HfO2, Gong 2022)": 4, "AlOx/HfO2": 40, "PCMO": 50, "HfO2 (Jiang 2016)": 26}


def test_li2025_presets_give_the_table_counts():
    """Each device of Table 3 of Li et al. (2025) is soft bounds ±1, w⋄ = 0, with the table's
    number of states and Δw_min = 2/n_states, without variation."""
    assert {row.label: row.n_states for row in LI2025_TABLE3} == TABLE3
    assert LI2025_DEVICES == tuple(row.name for row in LI2025_TABLE3)
    for row in LI2025_TABLE3:
        device, variation = li2025_device(row.name)
        assert type(device) is SoftBounds
        assert (device.tau_min, device.tau_max, device.w_sym) == (-1.0, 1.0, 0.0)
        assert device.n_states == row.n_states
        assert device.dw_min == pytest.approx(2.0 / row.n_states, rel=1e-15)
        assert variation == type(variation)()


def test_li2025_unknown_device_lists_the_names():
    with pytest.raises(ConfigError) as err:
        li2025_device("rram")
    assert "li2025_device.name" in str(err.value) and "pcmo" in str(err.value)
