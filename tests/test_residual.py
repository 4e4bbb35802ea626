"""Multi-tile residual learning (optim/residual.py): the composite weight, the tiles' transfer
periods, the chained and warm-start transfers in closed form, the plateau test and the
schedule's state.

The closed forms use an ideal device in expected mode, on which a write is exact: ΔW = −lr Σ dᵀx,
so a transfer of column j of tile s onto tile t at rate β is W_t[:, j] += β W_s[:, j] exactly
(float64, dyadic values: every product and sum below is exact, hence torch.equal).
"""

from __future__ import annotations

import pytest
import torch

from analogsgd.crossbar import AnalogTile, TileConfig, UpdateConfig
from analogsgd.crossbar import periphery as P
from analogsgd.devices import IdealDevice
from analogsgd.errors import ConfigError
from analogsgd.nn import AnalogLinear, AnalogOptimizer
from analogsgd.nn.config import AnalogLayerConfig
from analogsgd.optim import ResidualConfig, registry
from analogsgd.optim.residual import PlateauTest, authors_transfer_every, authors_transfer_lr

F64 = torch.float64
SHAPE = (2, 3)


def rule(**fields):
    cfg = ResidualConfig(**fields)
    base = TileConfig(device=IdealDevice(dw_min=0.125), update=UpdateConfig(mode="expected"))
    tiles = tuple(AnalogTile(SHAPE, base, torch.Generator().manual_seed(k), dtype=F64)
                  for k in range(cfg.n_tiles))
    return cfg.build(tiles)


def dyadic(gen: torch.Generator, shape=SHAPE) -> torch.Tensor:
    """Entries k/16, |k| ≤ 8: sums and products with powers of two stay exact."""
    return torch.randint(-8, 9, shape, generator=gen).to(F64) / 16


def test_composite_weight_is_the_gamma_weighted_sum_of_the_tiles():
    r = rule(n_tiles=5, gamma=0.5)
    gen = torch.Generator().manual_seed(0)
    tiles = [dyadic(gen) for _ in range(5)]
    for n, w in enumerate(tiles):
        r.set_array(f"tile{n}", w)
    want = sum(0.5**n * w for n, w in enumerate(tiles))
    assert torch.equal(r.weight, want)
    x, d = dyadic(gen, (4, SHAPE[1])), dyadic(gen, (4, SHAPE[0]))
    assert torch.equal(r.forward(x), x @ want.T)        # ideal periphery: exact products
    assert torch.equal(r.backward(d), d @ want)
    assert set(r.arrays()) == {"weight", *(f"tile{n}" for n in range(5))}


def test_combined_read_is_one_read_of_the_composite_weight():
    """combined_read=True: an ideal periphery gives x W̄ᵀ and d W̄ exactly (dyadic values); under
    output noise σ = 0.25 alone the read error has std σ (one draw per output, from tile 0's
    generator only), where the per-tile read's is σ·(Σ γ²ⁿ)^½ = σ·√1.3125 (N = 3, γ = 0.5).
    20000 draws per case: the relative error of a std is 1/√(2·20000) = 0.5 %; tolerance 3 %."""
    gen = torch.Generator().manual_seed(4)
    tiles = [dyadic(gen) for _ in range(3)]
    want = sum(0.5**n * w for n, w in enumerate(tiles))
    x, d = dyadic(gen, (4, SHAPE[1])), dyadic(gen, (4, SHAPE[0]))
    r = rule(n_tiles=3, gamma=0.5, combined_read=True)
    for n, w in enumerate(tiles):
        r.set_array(f"tile{n}", w)
    assert torch.equal(r.forward(x), x @ want.T) and torch.equal(r.backward(d), d @ want)
    noisy = P.IOConfig(inp_bits=0, out_bits=0, out_bound=float("inf"), out_noise=0.25,
                       noise_management="none", bound_management="none")
    periphery = P.PeripheryConfig(forward=noisy, backward=noisy)
    base = TileConfig(device=IdealDevice(dw_min=0.125), update=UpdateConfig(mode="expected"),
                      periphery=periphery)
    xs = x.expand(5000, *x.shape)
    for combined, factor in ((True, 1.0), (False, 1.3125 ** 0.5)):
        stack = tuple(AnalogTile(SHAPE, base, torch.Generator().manual_seed(10 + k), dtype=F64)
                      for k in range(3))
        r = ResidualConfig(n_tiles=3, gamma=0.5, combined_read=combined).build(stack)
        for n, w in enumerate(tiles):
            r.set_array(f"tile{n}", w)
        states = [t.generator.get_state() for t in stack[1:]]
        std = (r.forward(xs) - x @ want.T).std().item()
        assert abs(std / (0.25 * factor) - 1) < 0.03, (combined, std)
        untouched = all(torch.equal(t.generator.get_state(), s) for t, s in zip(stack[1:], states))
        assert untouched == combined


def test_program_writes_the_most_significant_tile_and_zeros_the_others():
    r = rule(n_tiles=3)
    w = dyadic(torch.Generator().manual_seed(1))
    r.program(w)
    arrays = r.arrays()
    assert torch.equal(arrays["tile0"], w) and torch.equal(arrays["weight"], w)
    assert not arrays["tile1"].any() and not arrays["tile2"].any()


def test_each_tile_steps_at_its_period_and_transfers_are_chained_column_by_column():
    """N = 4, T = (2, 3, 5), β = (0.5, 0.25, 0.125), no warm start: after step k the gradient
    tile has taken the gradient, then (in this order) transfer i runs when T_i divides k, moving
    the next column of tile 3−i onto tile 2−i at rate β_i. An independent replay of the same
    closed form on plain tensors must agree exactly at every step."""
    periods, rates = (2, 3, 5), (0.5, 0.25, 0.125)
    r = rule(n_tiles=4, gamma=0.5, transfer_every=list(periods), transfer_lr=list(rates),
             warm_start=False)
    gen = torch.Generator().manual_seed(2)
    w = [dyadic(gen) for _ in range(4)]
    for n in range(4):
        r.set_array(f"tile{n}", w[n])
    column = [0, 0, 0]
    changed_at = {n: [] for n in range(4)}
    for k in range(1, 31):
        x, d = dyadic(gen, (1, SHAPE[1])), dyadic(gen, (1, SHAPE[0]))
        before = r.arrays()
        r.step(x, d, 0.25)
        w[3] = w[3] - 0.25 * d.T @ x
        for i, (t, beta) in enumerate(zip(periods, rates, strict=True)):
            if k % t == 0:
                j = column[i]
                w[2 - i][:, j] += beta * w[3 - i][:, j]
                column[i] = (j + 1) % SHAPE[1]
        after = r.arrays()
        for n in range(4):
            assert torch.equal(after[f"tile{n}"], w[n]), (k, n)
            if not torch.equal(after[f"tile{n}"], before[f"tile{n}"]):
                changed_at[n].append(k)
    assert changed_at[2] == list(range(2, 31, 2))    # tiles move exactly at their periods
    assert changed_at[1] == list(range(3, 31, 3))
    assert changed_at[0] == list(range(5, 31, 5))


def test_defaults_are_the_authors_lenet_settings():
    cfg = ResidualConfig(n_tiles=4)
    assert cfg.periods == authors_transfer_every(4) == (2, 10, 50)
    assert cfg.rates == pytest.approx((0.1 * 1.2**3, 0.1 * 1.2**2, 0.1 * 1.2), rel=1e-15)
    assert authors_transfer_lr(4)[0] == max(authors_transfer_lr(4))
    assert cfg.gammas == (1.0, 0.5, 0.25, 0.125)
    assert cfg.warm_period == 10


@pytest.mark.parametrize("field", ["transfer_every", "transfer_lr"])
def test_a_list_that_is_not_one_per_transfer_is_a_config_error(field):
    with pytest.raises(ConfigError, match=f"ResidualConfig.{field}.*N − 1 = 3"):
        ResidualConfig(n_tiles=4, **{field: [1, 2]})


# -- the plateau test ---------------------------------------------------------------------------
@pytest.mark.parametrize("losses, plateau", [
    ([1.0], False),                                  # no change yet
    ([1.0, 0.9, 0.8], False),                        # falling
    ([1.0, 0.9, 0.90009], False),                    # a rise of 9e-5 ≤ 1e-4
    ([1.0, 0.9, 0.90011], True),                     # a rise of 1.1e-4 > 1e-4
])
def test_early_plateau_is_a_rise_of_the_epoch_loss(losses, plateau):
    assert PlateauTest().plateaued(losses, switches=3) is plateau


@pytest.mark.parametrize("changes, plateau", [
    ([-0.1, -0.1, -0.1, -0.005], False),             # 4 changes: the window needs 5
    ([-0.1, -0.1, -0.1, -0.005, -0.1], False),       # one change ≥ −0.01
    ([-0.1, -0.005, -0.1, -0.0099, -0.1], True),     # two
    ([-0.005, -0.005, -0.1, -0.1, -0.1, -0.1], False),  # only the last 5 changes count
])
def test_late_plateau_is_two_of_the_last_five_changes_without_progress(changes, plateau):
    losses = [1.0]
    for c in changes:
        losses.append(losses[-1] + c)
    assert PlateauTest().plateaued(losses, switches=4) is plateau


def test_a_change_equal_to_the_late_threshold_counts_as_no_progress():
    test = PlateauTest(late_threshold=-0.25, window=2, late_count=2)   # dyadic: exact changes
    assert test.plateaued([2.0, 1.75, 1.5], switches=4)
    assert not test.plateaued([2.0, 1.75, 1.25], switches=4)


def test_warm_start_moves_the_target_down_on_each_plateau_and_not_before():
    """N = 4: a falling loss keeps the target; each rise moves it one tile down and clears
    the history; after the third switch (target 3 = N − 1) the chained transfers run."""
    r = rule(n_tiles=4, warm_transfer_every=1)
    assert r.target == 0
    for loss in (1.0, 0.8, 0.7, 0.65):
        r.end_epoch(loss)
    assert r.target == 0
    r.end_epoch(0.66)                                # a rise
    assert r.target == 1 and r.warm.losses == []
    r.end_epoch(0.9)                                 # history cleared: one loss is no change
    assert r.target == 1
    r.end_epoch(0.91)
    assert r.target == 2
    r.end_epoch(0.5)
    r.end_epoch(0.6)
    assert r.target == 3 and not r.warm.warming
    r.end_epoch(0.7)                                 # over: nothing moves
    assert r.target == 3 and r.warm.switches == 3


def test_while_warming_only_the_gradient_tile_and_the_target_move():
    """Warm transfers every 2 steps from the gradient tile onto the target (rate β_0), column
    by column; the other tiles stay as they are."""
    r = rule(n_tiles=3, warm_transfer_every=2, transfer_lr=[0.5, 0.25])
    gen = torch.Generator().manual_seed(3)
    w = [dyadic(gen) for _ in range(3)]
    for n in range(3):
        r.set_array(f"tile{n}", w[n])
    r.end_epoch(1.0)
    r.end_epoch(1.5)                                 # target 0 → 1
    assert r.target == 1
    column = 0
    for k in range(1, 9):
        x, d = dyadic(gen, (1, SHAPE[1])), dyadic(gen, (1, SHAPE[0]))
        r.step(x, d, 0.25)
        w[2] = w[2] - 0.25 * d.T @ x
        if k % 2 == 0:
            w[1][:, column] += 0.5 * w[2][:, column]
            column = (column + 1) % SHAPE[1]
        arrays = r.arrays()
        for n in range(3):
            assert torch.equal(arrays[f"tile{n}"], w[n]), (k, n)


def test_schedule_state_is_in_the_state_dict():
    a = rule(n_tiles=4, warm_transfer_every=1)
    for loss in (1.0, 1.1, 0.9):
        a.end_epoch(loss)
    gen = torch.Generator().manual_seed(4)
    for _ in range(3):
        a.step(dyadic(gen, (1, SHAPE[1])), dyadic(gen, (1, SHAPE[0])), 0.25)
    b = rule(n_tiles=4, warm_transfer_every=1)
    b.load_state_dict(a.state_dict())
    assert (b.target, b.warm.switches, b.warm.losses) == (1, 1, [0.9])
    assert b.warm_cursor.state_dict() == a.warm_cursor.state_dict()
    with pytest.raises(ConfigError, match="4 tiles"):
        rule(n_tiles=3).load_state_dict(a.state_dict())


def test_the_optimizer_passes_epoch_losses_to_every_layers_rule():
    cfg = AnalogLayerConfig(rule=registry.config("residual", n_tiles=3),
                            tile=TileConfig(device=IdealDevice(), update=UpdateConfig(mode="expected")))
    layers = [AnalogLinear(3, 2, config=cfg, generator=s) for s in (1, 2)]
    opt = AnalogOptimizer([p for layer in layers for p in layer.parameters()], lr=0.1)
    opt.end_epoch(1.0)
    opt.end_epoch(1.2)
    assert [layer.rule.target for layer in layers] == [1, 1]


def test_without_epochs_runs_the_chained_transfers_from_the_start():
    cfg = ResidualConfig(n_tiles=3).without_epochs()
    assert cfg.warm_start is False
    assert rule(n_tiles=3, warm_start=False).target == 2
