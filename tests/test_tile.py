"""The tile's two update modes against closed forms and against each other."""

import math

import pytest
import torch

from analogsgd.crossbar import AnalogTile, TileConfig, UpdateConfig, fused
from analogsgd.crossbar.pulse_trains import PIECES, count_bit_trains, pulse_probabilities
from analogsgd.devices import IdealDevice, SoftBounds, asymmetric_linear_device
from analogsgd.errors import ConfigError

F64 = torch.float64


def make_tile(shape, device, mode="pulsed", seed=0, **update):
    cfg = TileConfig(device=device, update=UpdateConfig(mode=mode, **update))
    return AnalogTile(shape, cfg, torch.Generator().manual_seed(seed), dtype=F64)


def test_expected_update_is_ald_closed_form():
    """Expected mode on the ALD: W + ΔW − |ΔW| ⊙ W/τ exactly (Eq. (3) of Wu et al. 2024)."""
    tau = 0.7
    tile = make_tile((5, 4), asymmetric_linear_device(tau), mode="expected")
    gen = torch.Generator().manual_seed(1)
    w0 = 0.5 * tau * (2 * torch.rand(5, 4, generator=gen, dtype=F64) - 1)
    tile.set_weight(w0)
    x, d, lr = torch.randn(3, 4, generator=gen, dtype=F64), torch.randn(3, 5, generator=gen, dtype=F64), 0.05
    tile.update(x, d, lr)
    delta = -lr * d.T @ x
    torch.testing.assert_close(tile.weight, w0 + delta - delta.abs() * w0 / tau, rtol=0, atol=1e-15)


def test_weight_reads_through_forward_and_backward():
    tile = make_tile((3, 2), IdealDevice(dw_min=1e-3))
    w = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype=F64)
    tile.set_weight(w)
    x = torch.tensor([[1.0, -1.0]], dtype=F64)
    d = torch.tensor([[1.0, 0.0, 2.0]], dtype=F64)
    torch.testing.assert_close(tile.forward(x), x @ w.T)
    torch.testing.assert_close(tile.backward(d), d @ w)


def test_batch_one_bit_trains_equal_pulse_by_pulse_reference():
    """At batch 1 every pulse of an element has one sign, so the aggregated composition of the
    counted coincidences must equal applying the very same pulses one at a time (soft bounds,
    no cycle noise: a closed form exists; tolerance is float64 rounding over ≤ 31 pulses)."""
    dev = SoftBounds(dw_min=0.01, tau_min=-0.5, tau_max=0.8)
    shape = (6, 5)
    gen_x = torch.Generator().manual_seed(3)
    x, d = torch.randn(1, 5, generator=gen_x, dtype=F64), torch.randn(1, 6, generator=gen_x, dtype=F64)
    lr = 0.2
    w0 = 0.3 * torch.rand(shape, generator=gen_x, dtype=F64) - 0.1

    tile = make_tile(shape, dev, counting="bit_trains", kernel="torch", seed=7)  # torch draws
    tile.set_weight(w0)
    p, q, bl = pulse_probabilities(x, d, lr, dev.dw_min, 31, True, True, 1.0)
    tile.update(x, d, lr)

    # reference: redraw the same trains (same generator state) and apply pulse by pulse
    ref_gen = torch.Generator().manual_seed(7)
    from analogsgd.devices.variation import DeviceArray

    DeviceArray.realise(dev, shape, None, ref_gen, dtype=F64)  # consume the same d2d draws
    counts = count_bit_trains(x, d, p, q, bl, ref_gen)
    w = w0.clone()
    for i in range(shape[0]):
        for j in range(shape[1]):
            for _ in range(int(counts.n_up[i, j])):
                w[i, j] += dev.dw_min * dev.q_up(w[i, j])
            for _ in range(int(counts.n_down[i, j])):
                w[i, j] -= dev.dw_min * dev.q_down(w[i, j])
    assert (counts.n_up * counts.n_down == 0).all()
    assert counts.n_up.sum() + counts.n_down.sum() > 20  # the test exercises real pulses
    torch.testing.assert_close(tile.weight, w, rtol=0, atol=1e-13)


@pytest.mark.parametrize("counting", ["moments", "bit_trains"])
def test_pulsed_mean_update_matches_expected_mode(counting):
    """Over R independent replicas, the mean pulsed change matches the expected-mode change.

    Batch 1, so the expected mode's ΔW ⊙ F − |ΔW| ⊙ G is the per-pulse mean to first order;
    the second-order term of the soft-bounds composition is bounded by n²a·Δw_min/2 with
    a = Δw_min/(τ_max − w) and is added to a 5-standard-error statistical tolerance.
    """
    replicas, shape = 4000, (3, 4)
    dev = SoftBounds(dw_min=1e-3, tau_min=-0.6, tau_max=0.6)
    gen = torch.Generator().manual_seed(11)
    x = torch.rand(1, 4, generator=gen, dtype=F64) + 0.2
    d = torch.randn(1, 3, generator=gen, dtype=F64)
    w0 = 0.4 * (2 * torch.rand(shape, generator=gen, dtype=F64) - 1)
    lr = 0.01

    pulsed = make_tile((replicas,) + shape, dev, counting=counting, seed=5)
    pulsed.set_weight(w0.expand(replicas, *shape))
    pulsed.update(x.expand(replicas, 1, 4), d.expand(replicas, 1, 3), lr)
    change = pulsed.weight - w0

    expected = make_tile(shape, dev, mode="expected")
    expected.set_weight(w0)
    expected.update(x, d, lr)
    want = expected.weight - w0

    mean, se = change.mean(0), change.std(0) / math.sqrt(replicas)
    n = (lr * (d.T @ x).abs() / dev.dw_min)
    second_order = n.square() * dev.dw_min ** 2 / (0.6 - w0.abs()) / 2
    assert ((mean - want).abs() <= 5 * se + second_order + 1e-12).all()
    assert want.abs().min() > 10 * se.max()  # the comparison is not trivially satisfied


def test_pulse_counts_have_the_gokmen_vlasov_mean():
    """E[n_up − n_down] = −lr·dᵀx/Δw_min when no probability saturates (exact trains)."""
    gen = torch.Generator().manual_seed(2)
    x = torch.rand(2, 3, generator=gen, dtype=F64) * 0.5
    d = torch.randn(2, 4, generator=gen, dtype=F64) * 0.5
    lr, dw = 0.005, 1e-3
    p, q, bl = pulse_probabilities(x, d, lr, dw, 31, False, False, 1.0)
    assert p.max() < 1 and q.max() < 1
    reps = 3000
    counts = count_bit_trains(x.expand(reps, 2, 3), d.expand(reps, 2, 4), p.expand(reps, 2, 3),
                              q.expand(reps, 2, 4), bl.expand(reps, 2, 1), gen)
    net = (counts.n_up - counts.n_down)
    want = -lr * d.T @ x / dw
    se = net.std(0) / math.sqrt(reps)
    assert ((net.mean(0) - want).abs() <= 5 * se).all()


def test_bad_tile_shape_and_device_are_config_errors():
    with pytest.raises(ConfigError, match="AnalogTile.shape"):
        make_tile((0, 3), SoftBounds())
    with pytest.raises(ConfigError, match="TileConfig.device"):
        TileConfig(device="soft_bounds")
    with pytest.raises(ConfigError, match="UpdateConfig.mode"):
        UpdateConfig(mode="magic")


def test_tile_is_reproducible_from_its_seed():
    dev = SoftBounds(dw_min=1e-3)
    gen = torch.Generator().manual_seed(0)
    x, d = torch.rand(4, 6, generator=gen), torch.randn(4, 5, generator=gen)
    results = []
    for _ in range(2):
        tile = AnalogTile((5, 6), TileConfig(device=dev), torch.Generator().manual_seed(42))
        for _ in range(3):
            tile.update(x, d, 0.05)
        results.append(tile.weight)
    assert torch.equal(results[0], results[1])
    other = AnalogTile((5, 6), TileConfig(device=dev), torch.Generator().manual_seed(43))
    other.update(x, d, 0.05)
    assert not torch.equal(other.weight, results[0])


@pytest.mark.parametrize("mode", ["expected", "pulsed"])
def test_element_wise_update_noise_is_lemma_1(mode):
    """Element-wise ΔW on an ideal device: mean ΔW, variance |ΔW| Δw_min (1 − |ΔW|/(BL Δw_min))
    (ζ of Lemma 1 of Li et al. 2025) in both modes. Over R = 20000 replicas the sample mean is
    within 5 standard errors and the sample variance within 5 % (its relative standard error is
    √(2/R) ≈ 1 % for a near-Gaussian count, 1.3 % for m < 1), plus, for pulse counts of mean
    m ≥ PIECES, the rounded-Gaussian draw's documented variance error of at most 1/4 pulse²."""
    replicas, bl, dw = 20000, 50, 1e-3
    delta = torch.tensor([[3.7e-3, -0.4e-3, 21.5e-3, -40e-3]], dtype=F64)
    t = make_tile((replicas, 1, 4), IdealDevice(dw_min=dw), mode=mode, quantisation_noise=True,
                  max_pulses=bl)
    t.apply(delta.expand(replicas, 1, 4))
    change = t.weight[:, 0, :]
    want_var = delta.abs() * dw * (1 - delta.abs() / (bl * dw))
    se = (want_var / replicas).sqrt()
    assert ((change.mean(0) - delta[0]).abs() <= 5 * se[0]).all()
    rounding = 0.25 * dw ** 2 * ((delta[0].abs() / dw >= PIECES) & (mode == "pulsed"))
    assert ((change.var(0) - want_var[0]).abs() <= 0.05 * want_var[0] + rounding).all()


# -- update management in the truncated regime (aihwkit's performUpdateManagement) -------------
def _um_samples():
    """Five samples of x (in = 6), d (out = 5) with lr = 0.05, Δw_min = 0.01, BL = 31, g = 2:
    k = lr·max|x|·g·max|d|/Δw_min = 5 g max|x| max|d| spans below, between (k > BL only
    with g) and far above the limit, plus one all-zero x."""
    gen = torch.Generator().manual_seed(11)
    x = torch.randn(5, 6, generator=gen, dtype=F64)
    d = torch.randn(5, 5, generator=gen, dtype=F64)
    x[0] *= 0.3 / x[0].abs().max()            # k = 5·2·0.3·1 = 3 < 31
    d[0] *= 1.0 / d[0].abs().max()
    x[1] *= 1.0 / x[1].abs().max()            # lr·max|x|·max|d|/Δw_min = 20 < 31 < k = 40
    d[1] *= 4.0 / d[1].abs().max()
    x[2] *= 3.0 / x[2].abs().max()            # k = 5·2·3·5 = 150 ≫ 31
    d[2] *= 5.0 / d[2].abs().max()
    x[3] *= 0.0                               # max|x| = 0: no pulses
    x[4] *= 2.0 / x[4].abs().max()            # k = 5·2·2·4 = 80 (40 without g)
    d[4] *= 4.0 / d[4].abs().max()
    return x, d, 0.05, 0.01, 31, 2.0


def _um_closed_form(x, d, lr, dw, bl_max, g, rule):
    """Σ_b BL_b p_bj q_bi from the closed forms, written out per sample in float64.

    Below the limit (k ≤ BL) both rules give BL = ⌈k⌉ and p q BL = lr |x d|/Δw_min where no
    probability clips. Above it (BL = BL_max): aihwkit's rule p = |x|/max|x| and
    q = min(1, lr max|x| |d|/(Δw_min BL)); the 'both' rule p = min(1, √(k/BL) |x|/max|x|),
    q = min(1, √(k/BL) |d|/(g max|d|)).
    """
    total = torch.zeros(d.shape[1], x.shape[1], dtype=F64)
    for xb, db in zip(x, d, strict=True):
        xm, dm = float(xb.abs().max()), float(db.abs().max())
        if xm == 0 or dm == 0:
            continue
        k = lr * xm * g * dm / dw
        bl = min(math.ceil(k), bl_max)
        if k <= bl_max or rule == "both":
            s = math.sqrt(k / bl)
            p = (s * xb.abs() / xm).clamp(max=1)
            q = (s * db.abs() / (g * dm)).clamp(max=1)
        else:
            p = xb.abs() / xm
            q = (lr * xm * db.abs() / (dw * bl)).clamp(max=1)
        total += bl * torch.outer(q, p)
    return total


@pytest.mark.parametrize("rule", ["aihwkit", "both"])
def test_update_management_mean_count_matches_each_rules_closed_form(rule):
    """The exact mean count per element (Σ_b BL p q, no sampling) equals each rule's closed form
    to float64 rounding; the two rules differ by far more than that above the limit."""
    x, d, lr, dw, bl_max, g = _um_samples()
    p, q, bl = pulse_probabilities(x, d, lr, dw, bl_max, True, True, g, um_clip=rule)
    mean = ((q * bl).T @ p)
    torch.testing.assert_close(mean, _um_closed_form(x, d, lr, dw, bl_max, g, rule),
                               rtol=1e-12, atol=1e-12)
    assert bl[3].item() == 0 and bl[1].item() == 31   # max|x| = 0: BL 0; g inside k: 40 > 31
    other = _um_closed_form(x, d, lr, dw, bl_max, g, "both" if rule == "aihwkit" else "aihwkit")
    assert (mean - other).abs().max() > 0.1


def test_aihwkit_rule_puts_x_at_one_and_clips_only_d():
    """Above the limit aihwkit's rule gives p = 1 exactly at max|x|, q = k/(g BL) at max|d|
    (clipped at 1), and the full product A·B =
    lr/(Δw_min BL): the mean count where nothing clips is still lr |x d|/Δw_min."""
    x, d, lr, dw, bl_max, g = _um_samples()
    p, q, bl = pulse_probabilities(x, d, lr, dw, bl_max, True, True, g)
    for b in (1, 2, 4):
        assert p[b].max().item() == pytest.approx(1.0, abs=1e-15)
        k_over_g = lr * x[b].abs().max() * d[b].abs().max() / dw    # q at max|d| = k/(g BL)
        assert q[b].max().item() == pytest.approx(min(1.0, float(k_over_g) / bl_max), rel=1e-14)
        free = q[b] < 1
        want = lr * torch.outer(d[b, free].abs(), x[b].abs()) / dw
        torch.testing.assert_close(bl[b] * torch.outer(q[b, free], p[b]), want, rtol=1e-12, atol=0)


def test_fixed_bl_off_lengthens_the_train_as_calculateBlAB():
    """fixed_bl=False without BL management: lr > Δw_min·BL gives A = B = 1, BL = ⌈lr/Δw_min⌉
    (aihwkit calculateBlAB); below, BL stays desired_bl with A = B = √(lr/(Δw_min BL))."""
    gen = torch.Generator().manual_seed(5)
    x, d = 0.5 * torch.rand(3, 4, generator=gen, dtype=F64), 0.5 * torch.rand(3, 2, generator=gen, dtype=F64)
    p, q, bl = pulse_probabilities(x, d, 0.505, 0.01, 31, False, False, 1.0, fixed_bl=False)
    assert (bl == 51).all()
    torch.testing.assert_close(p, x, rtol=0, atol=0)
    torch.testing.assert_close(q, d, rtol=0, atol=0)
    p, q, bl = pulse_probabilities(x, d, 0.2, 0.01, 31, False, False, 1.0, fixed_bl=False)
    assert (bl == 31).all()
    torch.testing.assert_close(p, x * math.sqrt(0.2 / 0.31), rtol=1e-15, atol=0)


def test_um_clip_rejects_unknown_rule():
    with pytest.raises(ConfigError, match="um_clip"):
        UpdateConfig(um_clip="x_only")


@pytest.mark.skipif(not fused.NUMBA_AVAILABLE, reason="numba not installed")
def test_update_path_follows_what_it_depends_on():
    """The tile keeps its last path choice only while the config object, the process's kernel
    choice, the float types and the batch are the same: each change takes the path it asks for."""
    from analogsgd.crossbar.tile import auto_kernel

    cfg = TileConfig(device=SoftBounds(dw_min=0.01), update=UpdateConfig())
    tile = AnalogTile((4, 6), cfg, 0)
    x, d = torch.rand(1, 6), 0.1 * torch.randn(1, 4)

    def path(tile, x, d, lr=0.1):
        tile.update(x, d, lr)
        return tile.last_update_path

    assert path(tile, x, d) == path(tile, x, d) == "sparse-numba"
    tile.config = cfg.replace(update=UpdateConfig(kernel="torch"))
    assert path(tile, x, d) == "torch"
    tile.config = cfg.replace(update=UpdateConfig(counting="bit_trains"))
    assert path(tile, x, d) == "trains-numba"
    tile.config = cfg
    assert path(tile, x, d) == "sparse-numba"
    before = auto_kernel("dense")
    try:
        assert path(tile, x, d) == "fused-numba"
    finally:
        auto_kernel(before)
    assert path(tile, x, d) == "sparse-numba"
    # float types, batch size, a tensor rate, gradient flags: the kept choice is the fresh one
    variants = [(x, d, 0.1), (x.double(), d.double(), 0.1), (x, d, torch.tensor(0.1)),
                (torch.rand(64, 6), 0.1 * torch.randn(64, 4), 0.1),
                (x, d.clone().requires_grad_(), 0.1), (x, d, 0.1)]
    fresh = [tile._path_for(*v) for v in variants]
    assert len(set(fresh)) >= 4          # the variants do ask for different paths
    for v, want in zip(variants, fresh, strict=True):
        assert tile._choose_path(*v) == want
