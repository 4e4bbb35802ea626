"""Mixed precision against numbers worked by hand: χ, the counts n = trunc(χ/ε) and the rows cursor.

The numbers stay at least 0.01 away from a multiple of ε = 0.1, so that trunc is not decided by
float rounding; weights and χ then agree with the hand values to 1e-12 (float64 sums of three
O(0.1) terms).
"""

import pytest
import torch

from analogsgd.crossbar import AnalogTile, TileConfig, UpdateConfig
from analogsgd.devices import IdealDevice
from analogsgd.errors import ConfigError
from analogsgd.optim import MixedPrecision, MixedPrecisionConfig

F64 = torch.float64
#: three gradients; lr = 1, so χ gains −G each step
GRADS = ([[-0.25, 0.12], [0.31, -0.07]],
         [[-0.08, 0.03], [-0.15, -0.06]],
         [[0.24, 0.20], [-0.02, 0.00]])


def t(rows):
    return torch.tensor(rows, dtype=F64)


def rule(mode="expected", dw_min=1e-3, **fields) -> MixedPrecision:
    cfg = MixedPrecisionConfig(**fields)
    base = TileConfig(device=IdealDevice(dw_min=dw_min), update=UpdateConfig(mode=mode))
    tile = AnalogTile((2, 2), cfg.tile_config("tile", base), torch.Generator().manual_seed(0),
                      dtype=F64)
    return cfg.build((tile,))


def close(a, b):
    torch.testing.assert_close(a, t(b), rtol=0, atol=1e-12)


def test_all_rows_every_step():
    """Step 1: χ = [[.25, −.12], [−.31, .07]] → n = [[2, −1], [−3, 0]], χ = [[.05, −.02], [−.01, .07]].
    Step 2: χ = [[.13, −.05], [.14, .13]] → n = [[1, 0], [1, 1]].
    Step 3: χ = [[−.21, −.25], [.06, .03]] → n = [[−2, −2], [0, 0]]."""
    mp = rule(granularity=0.1)
    want_w = ([[0.2, -0.1], [-0.3, 0.0]], [[0.3, -0.1], [-0.2, 0.1]], [[0.1, -0.3], [-0.2, 0.1]])
    want_chi = ([[0.05, -0.02], [-0.01, 0.07]], [[0.03, -0.05], [0.04, 0.03]],
                [[-0.01, -0.05], [0.06, 0.03]])
    for g, w, chi in zip(GRADS, want_w, want_chi, strict=True):
        mp.step_dense(t(g), 1.0)
        close(mp.weight, w)
        close(mp.arrays()["chi"], chi)


def test_one_row_per_transfer_visits_the_rows_in_turn():
    """n_rows_per_transfer = 1: row 0 after step 1 (n = [2, −1]), row 1 after step 2 (χ₁ = [−.16, .13],
    n = [−1, 1]), row 0 after step 3 (χ₀ = [−.11, −.25], n = [−1, −2])."""
    mp = rule(granularity=0.1, n_rows_per_transfer=1)
    want_w = ([[0.2, -0.1], [0.0, 0.0]], [[0.2, -0.1], [-0.1, 0.1]], [[0.1, -0.3], [-0.1, 0.1]])
    want_chi = ([[0.05, -0.02], [-0.31, 0.07]], [[0.13, -0.05], [-0.06, 0.03]],
                [[-0.01, -0.05], [-0.04, 0.03]])
    for g, w, chi in zip(GRADS, want_w, want_chi, strict=True):
        mp.step_dense(t(g), 1.0)
        close(mp.weight, w)
        close(mp.chi, chi)
    assert mp.cursor.next_column == 1


def test_transfer_every_two_steps():
    """transfer_every = 2: nothing moves after step 1; after step 2 χ = [[.33, −.15], [−.16, .13]]
    → n = [[3, −1], [−1, 1]]; step 3 only accumulates."""
    mp = rule(granularity=0.1, transfer_every=2)
    mp.step_dense(t(GRADS[0]), 1.0)
    close(mp.weight, [[0.0, 0.0], [0.0, 0.0]])
    mp.step_dense(t(GRADS[1]), 1.0)
    close(mp.weight, [[0.3, -0.1], [-0.1, 0.1]])
    close(mp.chi, [[0.03, -0.05], [-0.06, 0.03]])
    mp.step_dense(t(GRADS[2]), 1.0)
    close(mp.weight, [[0.3, -0.1], [-0.1, 0.1]])
    close(mp.chi, [[-0.21, -0.25], [-0.04, 0.03]])


def test_step_accumulates_minus_lr_d_transpose_x():
    """step(x, d, lr) adds −lr Σ_b d_bᵀ x_b to χ: x = [[1, 2]], d = [[0.01, −0.02]], lr = 0.5
    gives χ = −0.5 [[0.01, 0.02], [−0.02, −0.04]] (below ε = 0.1: nothing transferred)."""
    mp = rule(granularity=0.1)
    mp.step(t([[1.0, 2.0]]), t([[0.01, -0.02]]), 0.5)
    close(mp.chi, [[-0.005, -0.01], [0.01, 0.02]])
    close(mp.weight, [[0.0, 0.0], [0.0, 0.0]])


def test_pulsed_transfer_gives_n_pulses_of_the_right_sign():
    """Pulsed, ideal device, ε = Δw_min = 0.125 (dyadic, so that k = ε·max|n|/Δw_min is the exact
    integer max|n| and BL = max|n|): in a row whose nonzero |n| are equal the pulse probabilities
    are 1 (update management: x·A = 1, d·B = 1), so each element gets exactly |n| pulses.
    χ = [[.4, −.4], [−.05, .15]] → row 0 n = [3, −3], row 1 n = [0, 1]."""
    mp = rule(mode="pulsed", dw_min=0.125)
    mp.step_dense(t([[-0.4, 0.4], [0.05, -0.15]]), 1.0)
    close(mp.weight, [[0.375, -0.375], [0.0, 0.125]])
    close(mp.chi, [[0.025, -0.025], [-0.05, 0.025]])


def test_granularity_defaults_to_the_device_dw_min_and_managements_are_on():
    mp = rule(dw_min=0.02)
    assert mp.granularity == 0.02
    base = TileConfig(update=UpdateConfig(bl_management=False, update_management=False, desired_bl=7))
    up = MixedPrecisionConfig().tile_config("tile", base).update
    assert up.bl_management and up.update_management and up.desired_bl == 7


def test_chi_is_settable_and_programming_clears_it():
    mp = rule(granularity=0.1)
    mp.set_array("chi", t([[0.25, 0.0], [0.0, -0.05]]))
    mp.step_dense(torch.zeros(2, 2, dtype=F64), 1.0)
    close(mp.weight, [[0.2, 0.0], [0.0, 0.0]])
    close(mp.chi, [[0.05, 0.0], [0.0, -0.05]])
    mp.set_array("weight", torch.zeros(2, 2, dtype=F64))
    close(mp.chi, [[0.0, 0.0], [0.0, 0.0]])
    with pytest.raises(ConfigError, match="set_array"):
        mp.set_array("chi", torch.zeros(3, 3, dtype=F64))


def test_one_learning_rate_per_replica():
    """Replicas (2, 2, 2) with lr = [1, 0.5]: replica 1 accumulates half of replica 0's χ."""
    cfg = MixedPrecisionConfig(granularity=0.1)
    tile = AnalogTile((2, 2, 2), cfg.tile_config("tile", TileConfig(
        device=IdealDevice(), update=UpdateConfig(mode="expected"))),
        torch.Generator().manual_seed(0), dtype=F64)
    mp = cfg.build((tile,))
    mp.step_dense(t(GRADS[0]), torch.tensor([1.0, 0.5], dtype=F64))
    close(mp.weight[0], [[0.2, -0.1], [-0.3, 0.0]])
    close(mp.weight[1], [[0.1, 0.0], [-0.1, 0.0]])          # χ = [[.125, −.06], [−.155, .035]]


def test_zero_rows_per_transfer_is_refused():
    with pytest.raises(ConfigError, match="n_rows_per_transfer"):
        MixedPrecisionConfig(n_rows_per_transfer=0)
