"""The fast pulsed update: fused numba kernel and torch path against each other and exact moments.

Statistical checks use T independent trials (replicas) and a tolerance of K = 5 standard errors
of the estimate, so a correct implementation fails with probability < 1e-5 per comparison.
"""

import math
from dataclasses import dataclass

import pytest
import torch

from analogsgd.config import Interval, param
from analogsgd.crossbar import (
    AnalogTile,
    TileConfig,
    UpdateConfig,
    fast_probabilities,
    fused,
    trains,
)
from analogsgd.crossbar import sparse as fused_sparse
from analogsgd.crossbar.pulse_trains import (
    PIECES,
    _randoms,
    batch_moments,
    count_moments,
    draw_counts,
    pulse_probabilities,
)
from analogsgd.crossbar.tile import KERNELS, NUMBA_PATHS
from analogsgd.devices import (
    ALL_DEVICES,
    AbstractDevice,
    CLinDevice,
    ConstantStep,
    DeviceVariation,
    ExpStep,
    IdealDevice,
    PowerStep,
    SoftBounds,
)
from analogsgd.devices.variation import DeviceArray

F64 = torch.float64
K = 5.0
needs_numba = pytest.mark.skipif(not fused.NUMBA_AVAILABLE, reason="numba not installed")
VARIATION = DeviceVariation(dw_min_d2d=0.3, dw_min_c2c=0.3, tau_min_d2d=0.3, tau_max_d2d=0.3,
                            up_down_d2d=0.01)


def _path(kernel, auto):
    """The update path a tile reports for ``kernel`` ('auto' resolving to ``auto``)."""
    if kernel == "torch" or not fused.NUMBA_AVAILABLE:
        return "torch"
    return NUMBA_PATHS[auto if kernel == "auto" else kernel]


def _inputs(batch, out_size, in_size, seed, sign=None, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(batch, in_size, generator=g, dtype=dtype)
    d = 0.2 * torch.randn(batch, out_size, generator=g, dtype=dtype)
    if sign is None:
        x = x * torch.sign(torch.randn(batch, in_size, generator=g, dtype=dtype))
    else:
        d = sign * d.abs()
    return x, d


def _exact_moments(x, d, lr, dw_min):
    """Exact mean and variance of the up and down counts: sums of Binomial(BL_b, p q)."""
    p, q, bl = pulse_probabilities(x, d, lr, dw_min, 31, True, True, 1.0)
    pq = q.transpose(-1, -2).unsqueeze(-1) * p.unsqueeze(0)        # (out, B, in)
    blb = bl.reshape(1, -1, 1)
    up = (torch.sign(d).transpose(-1, -2).unsqueeze(-1) * torch.sign(x).unsqueeze(0)) < 0
    mean = blb * pq
    var = blb * pq * (1 - pq)
    zero = torch.zeros((), dtype=x.dtype)
    return ((torch.where(up, mean, zero).sum(1), torch.where(up, var, zero).sum(1)),
            (torch.where(up, zero, mean).sum(1), torch.where(up, zero, var).sum(1)))


def _check_moments(samples, mean, var, what):
    """Sample mean within K·SE of the exact mean. Sample variance against the exact variance:
    for m < PIECES the sum of {0, 1, 2} pieces matches it exactly; above, up to the rounding
    term of the rounded Gaussian (≤ 1/4). Both plus K·SE (SE of a variance ≈ σ² √(2/T) + 1/√T)."""
    t = samples.shape[0]
    m_hat, v_hat = samples.mean(0), samples.var(0)
    se_mean = (var.clamp(min=1e-12) / t).sqrt() + 1.0 / t
    assert ((m_hat - mean).abs() <= K * se_mean).all(), f"{what}: mean off"
    target = var
    slack = torch.where(mean >= PIECES, 0.25, 0.0)
    se_var = target * math.sqrt(2.0 / t) + 1.0 / math.sqrt(t)
    assert ((v_hat - target).abs() <= slack + K * se_var).all(), f"{what}: variance off"


@pytest.mark.parametrize("batch", [1, 6])
def test_torch_counts_match_exact_moments(batch):
    trials, lr, dw_min = 3000, 0.05, 1e-3
    x, d = _inputs(batch, 3, 4, seed=batch)
    (m_up, v_up), (m_down, v_down) = _exact_moments(x, d, lr, dw_min)
    xs, ds = x.expand(trials, -1, -1), d.expand(trials, -1, -1)
    p, q, bl = pulse_probabilities(xs, ds, lr, dw_min, 31, True, True, 1.0)
    counts = count_moments(xs, ds, p, q, bl, torch.Generator().manual_seed(0))
    _check_moments(counts.n_up, m_up, v_up, "torch up")
    _check_moments(counts.n_down, m_down, v_down, "torch down")


@needs_numba
@pytest.mark.parametrize("kernel", ["dense", "sparse"])
@pytest.mark.parametrize("batch,sign", [(1, 1.0), (1, -1.0), (6, 1.0), (6, -1.0)])
def test_fused_counts_match_exact_moments(batch, sign, kernel):
    """An ideal device of Δw_min = 1 without spread turns w' − w into −n₋ (d·x > 0) or n₊."""
    trials, lr = 3000, 0.05
    x, d = _inputs(batch, 3, 4, seed=10 + batch, sign=sign)
    (m_up, v_up), (m_down, v_down) = _exact_moments(x, d, lr, 1.0)
    cfg = TileConfig(device=IdealDevice(dw_min=1.0), update=UpdateConfig(kernel=kernel))
    tile = AnalogTile((trials, 3, 4), cfg, torch.Generator().manual_seed(1), dtype=F64)
    tile.update(x.expand(trials, -1, -1), d.expand(trials, -1, -1), lr)
    assert tile.last_update_path == NUMBA_PATHS[kernel]
    if sign > 0:
        _check_moments(-tile.weight, m_down, v_down, "fused down")
    else:
        _check_moments(tile.weight, m_up, v_up, "fused up")


@needs_numba
@pytest.mark.parametrize("device", [SoftBounds(dw_min=0.01, tau_min=-0.5, tau_max=0.7),
                                    IdealDevice(dw_min=0.01)])
@pytest.mark.parametrize("dtype,atol", [(torch.float64, 1e-12), (torch.float32, 2e-6)])
def test_fused_equals_torch_path_on_the_same_random_numbers(device, dtype, atol):
    """Same moments, same random numbers (counter_randoms): the fused kernel and the torch path
    (draw_counts + DeviceArray.apply_pulses) agree to float rounding. In float32 a count may
    differ by one pulse where rounding moves a value across an integer: at most 0.1 % of elements."""
    shape, gen = (9, 11), torch.Generator().manual_seed(2)
    devices = DeviceArray.realise(device, shape, VARIATION, gen, dtype=dtype)
    w = (0.4 * torch.rand(shape, generator=gen, dtype=F64) - 0.2).to(dtype)
    x, d = _inputs(5, 9, 11, seed=3, dtype=dtype)
    p, q, bl = pulse_probabilities(x, d, 0.5, device.dw_min, 31, True, True, 1.0)
    moments = torch.stack(batch_moments(x, d, p, q, bl))
    key = 12345
    got = fused.apply_moments(w, moments, devices, key)
    ref = fused.apply_moments_torch(w, moments.clone(), devices, fused.counter_randoms(key, w.numel()))
    close = (got - ref).abs() <= atol + 1e-5 * ref.abs()
    assert close.float().mean() >= (1.0 if dtype == F64 else 0.999)
    assert not torch.equal(got, w)


@needs_numba
@pytest.mark.parametrize("one_hot", [True, False])
def test_fused_batch_one_outer_kernel_equals_moments_kernel(one_hot):
    shape, gen = (7, 13), torch.Generator().manual_seed(4)
    devices = DeviceArray.realise(SoftBounds(dw_min=0.01), shape, VARIATION, gen, dtype=F64)
    w = 0.3 * torch.rand(shape, generator=gen, dtype=F64) - 0.1
    x, d = _inputs(1, 7, 13, seed=5)
    if one_hot:
        x = torch.zeros_like(x)
        x[0, 3] = 1.0
    p, q, bl = pulse_probabilities(x, d, 0.5, 0.01, 31, True, True, 1.0)
    outer = fused.apply_outer(w, x, d, p, q, bl, devices, 99)
    full = fused.apply_moments(w, torch.stack(batch_moments(x, d, p, q, bl)), devices, 99)
    torch.testing.assert_close(outer, full, rtol=0, atol=1e-15)
    if one_hot:
        assert torch.equal(outer[:, torch.arange(13) != 3], w[:, torch.arange(13) != 3])


def test_counter_randoms_have_the_stated_moments():
    """Irwin–Hall Gaussians: mean 0, variance 1, excess kurtosis −0.3; uniforms: mean ½, var 1/12;
    streams uncorrelated. n = 200k draws, K standard errors."""
    n = 200_000
    r = fused.counter_randoms(7, n)
    se = 1.0 / math.sqrt(n)
    for name in ("z_up", "z_down", "z_c2c"):
        z = r[name]
        assert abs(z.mean()) < K * se
        assert abs(z.var() - 1.0) < K * math.sqrt(2.0) * se
        assert abs((z ** 4).mean() - 2.7) < K * 5.0 * se   # E z⁴ = 3 − 0.3; sd(z⁴) < 5
        assert z.abs().max() <= math.sqrt(12.0)
    for name in ("u_up", "u_down"):
        u = r[name]
        assert abs(u.mean() - 0.5) < K * se / math.sqrt(12.0)
        assert abs(u.var() - 1.0 / 12.0) < K * se * 0.075
    # the extra count pieces: four 16-bit uniforms per direction; they come from the hash of
    # that direction's Gaussian (z_up/z_down) by design, since a count uses either the pieces
    # (m < PIECES) or the Gaussian, never both; every pair used together is uncorrelated
    streams = {name: r[name] for name in ("z_up", "z_down", "z_c2c", "u_up", "u_down")}
    for name in ("e_up", "e_down"):
        assert r[name].shape == (4, n)
        for i, u in enumerate(r[name]):
            assert abs(u.mean() - 0.5) < K * se / math.sqrt(12.0)
            assert abs(u.var() - 1.0 / 12.0) < K * se * 0.075
            streams[f"{name}{i}"] = u
    exempt = {frozenset((f"z_{d}", f"e_{d}{i}")) for d in ("up", "down") for i in range(4)}
    names = list(streams)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if frozenset((a, b)) not in exempt:
                corr = torch.corrcoef(torch.stack([streams[a], streams[b]]))[0, 1]
                assert abs(corr) < K * se, (a, b)


@pytest.mark.parametrize("kernel", KERNELS)
def test_same_seed_same_result(kernel):
    def run():
        cfg = TileConfig(device=SoftBounds(), variation=VARIATION, update=UpdateConfig(kernel=kernel))
        tile = AnalogTile((16, 24), cfg, torch.Generator().manual_seed(11))
        for b in (1, 8, 1):
            x, d = _inputs(b, 16, 24, seed=b, dtype=torch.float32)
            tile.update(x, d, 0.1)
        return tile.conductance, tile.last_update_path

    (a, path_a), (b, _) = run(), run()
    assert torch.equal(a, b)
    assert path_a == _path(kernel, "sparse")  # batch ≤ ROWS_UP_TO: the sparse kernel under 'auto'


@needs_numba
def test_fused_and_torch_paths_agree_in_mean_and_spread():
    """Fused and torch tiles from one seed draw different numbers, but their weight changes agree
    in mean and variance over T replicas (c2c spread on): K·SE on the mean, and K·SE on the
    ratio of the two sample variances (each has a relative SE of √(2/T) for near-Gaussian
    changes, so their ratio √(4/T) ≈ 2.2 % at T = 8000, i.e. 11 % at K = 5)."""
    trials = 8000
    x, d = _inputs(4, 3, 5, seed=21)
    outs = []
    for kernel in ("auto", "torch"):
        cfg = TileConfig(device=SoftBounds(dw_min=0.01), variation=DeviceVariation(dw_min_c2c=0.5),
                         update=UpdateConfig(kernel=kernel))
        tile = AnalogTile((trials, 3, 5), cfg, torch.Generator().manual_seed(5), dtype=F64)
        tile.set_weight(torch.full((trials, 3, 5), 0.2, dtype=F64))
        tile.update(x.expand(trials, -1, -1), d.expand(trials, -1, -1), 0.3)
        outs.append(tile.weight - 0.2)
    a, b = outs
    se = ((a.var(0) + b.var(0)) / trials).sqrt()
    assert ((a.mean(0) - b.mean(0)).abs() <= K * se + 1e-12).all()
    assert ((a.var(0) / b.var(0) - 1).abs() < K * math.sqrt(4.0 / trials)).all()


def test_restored_tile_continues_identically():
    """A tile restored from another's state_dict (d2d tensors, conductance, generator) makes the
    same next update on either path: cached per-device constants follow the new tensors."""
    def tile(seed, kernel):
        cfg = TileConfig(device=SoftBounds(), variation=VARIATION, update=UpdateConfig(kernel=kernel))
        return AnalogTile((12, 20), cfg, torch.Generator().manual_seed(seed))

    for kernel in ("auto", "torch"):
        x, d = _inputs(4, 12, 20, seed=8, dtype=torch.float32)
        a, b = tile(1, kernel), tile(2, kernel)
        a.update(x, d, 0.1)
        b.update(x, d, 0.1)                       # b's constants cached for its own devices
        b.load_state_dict(a.state_dict())
        a.update(x, d, 0.1)
        b.update(x, d, 0.1)
        assert torch.equal(a.conductance, b.conductance)


@needs_numba
@pytest.mark.parametrize("counting", ["moments", "bit_trains"])
def test_each_compiled_update_takes_the_keys_its_generator_gives(counting):
    """The tile draws each update's two keys into one kept array, which its cached argument list
    holds: three updates in a row are update_sparse / update_trains called with the two int64
    numbers a copy of the tile's generator gives at each update (not the first update's again)."""
    cfg = TileConfig(device=SoftBounds(), variation=VARIATION,
                     update=UpdateConfig(kernel="sparse", counting=counting))
    tile = AnalogTile((12, 20), cfg, torch.Generator().manual_seed(4), dtype=torch.float32)
    twin = torch.Generator()
    twin.set_state(tile.generator.get_state())
    w = tile.conductance.clone()
    update = fused_sparse.update_sparse if counting == "moments" else trains.update_trains
    seen = []
    for step in range(3):
        x, d = _inputs(1, 12, 20, seed=20 + step, dtype=torch.float32)
        tile.update(x, d, 0.1)
        assert tile.last_update_path == NUMBA_PATHS["sparse" if counting == "moments" else "trains"]
        keys = torch.empty(2, dtype=torch.int64).random_(generator=twin).tolist()
        seen.append(tuple(keys))
        ucfg = tile.config.update
        assert update(w, x, d, 0.1, tile.devices.device.granularity, ucfg.desired_bl,
                      ucfg.um_grad_scale, tile.devices, keys)
        assert torch.equal(tile.conductance, w), step
    assert len(set(seen)) == 3


# -- the count draw on Poisson–binomial counts of mixed trial probabilities ---------------------
#: trial probabilities of one count each: few trials near 1 (low variance for their mean, where
#: ⌈m⌉ equal pieces overshoot the variance), many small ones (v ≈ m), one Gaussian-branch count
MIXED = {"0.9 + 5×0.05": [0.9] + [0.05] * 5, "2×0.95, 0.3, 0.1": [0.95, 0.95, 0.3, 0.1],
         "2×0.5 + 20×0.02": [0.5] * 2 + [0.02] * 20, "2×0.99 + 0.5": [0.99, 0.99, 0.5],
         "3×0.97": [0.97] * 3, "25×0.1": [0.1] * 25, "0.3": [0.3],
         "3×0.9 + 5×0.2 (m ≥ 3)": [0.9] * 3 + [0.2] * 5}
N_DRAWS = 200_000


def _mixed_moments():
    """Exact mean Σp and variance Σp(1 − p) of each MIXED count, as (counts,) float64 tensors."""
    probs = [torch.tensor(v, dtype=F64) for v in MIXED.values()]
    return (torch.stack([p.sum() for p in probs]), torch.stack([(p * (1 - p)).sum() for p in probs]))


def _check_draw(samples, mean, var):
    """Per count (column): the sample mean within 4 SE (SE = √(v/N)) of the exact mean (m < 3)
    or of m plus the stated clip bias s φ(m/s) − m Φ(−m/s) (m ≥ 3); the sample variance within
    4 SE of the variance (SE² = (μ̂₄ − v̂²)/N from the sample itself) of the exact variance, plus
    the stated 1/4 rounding term for m ≥ 3."""
    n = samples.shape[0]
    normal = torch.distributions.Normal(torch.zeros((), dtype=F64), torch.ones((), dtype=F64))
    frac = mean - mean.floor()
    s = (var - frac * (1 - frac)).clamp(min=1e-12).sqrt()
    bias = s * normal.log_prob(mean / s).exp() - mean * normal.cdf(-mean / s)
    big = mean >= PIECES
    target = mean + torch.where(big, bias, 0.0)
    m_hat, v_hat = samples.mean(0), samples.var(0)
    mu4 = ((samples - m_hat) ** 4).mean(0)
    se_v = ((mu4 - v_hat ** 2) / n).sqrt()
    names = list(MIXED)
    for i, name in enumerate(names):
        assert abs(m_hat[i] - target[i]) <= 4 * (var[i] / n).sqrt(), (name, "mean", m_hat[i], target[i])
        slack = 0.25 if big[i] else 0.0
        assert abs(v_hat[i] - var[i]) <= slack + 4 * se_v[i], (name, "variance", v_hat[i], var[i])


def test_draw_counts_match_poisson_binomial_moments_of_mixed_probabilities():
    """torch path. With ⌈m⌉ equal pieces the first count (m = 1.15, v = 0.3275) would have
    variance 0.489 (+49 %); a variance SE here is about 0.2 %."""
    mean, var = _mixed_moments()
    shape = (N_DRAWS, len(MIXED))
    m, v = mean.expand(shape).clone(), var.expand(shape).clone()
    samples = draw_counts(m, v, *_randoms(shape, m, torch.Generator().manual_seed(8)))
    _check_draw(samples, mean, var)


@needs_numba
def test_fused_draw_matches_torch_draw_and_poisson_binomial_moments():
    """The fused kernel draws the same counts as the torch path from the same random numbers
    (float64, number for number) on counts of mixed probabilities, with the same moments. An
    ideal device of Δw_min = 1 turns w' − w into n₊; moments give m₊ = m_tot = m and
    v₊ = m_tot − s_tot = v (m_net = −m_tot, s_net = −s_tot)."""
    mean, var = _mixed_moments()
    shape = (N_DRAWS // 4, len(MIXED))
    m_tot = mean.expand(shape).contiguous()
    s_tot = (mean - var).expand(shape).contiguous()
    moments = torch.stack([m_tot, -m_tot, s_tot, -s_tot])
    devices = DeviceArray.realise(IdealDevice(dw_min=1.0), shape, None,
                                  torch.Generator().manual_seed(0), dtype=F64)
    w = torch.zeros(shape, dtype=F64)
    key = 2024
    got = fused.apply_moments(w, moments, devices, key)
    ref = fused.apply_moments_torch(w, moments.clone(), devices,
                                    fused.counter_randoms(key, w.numel()))
    assert torch.equal(got, ref)
    _check_draw(got, mean, var)


def test_piece_plan_subset_and_whole_tensor_paths_agree():
    """piece_plan gathers the few counts that (0, 3) pieces cannot match; where they are many it
    evaluates all candidates on the whole tensor. Both give the same plan, exactly."""
    from analogsgd.crossbar.pulse_trains import piece_plan

    mean, var = _mixed_moments()
    whole = piece_plan(mean.clone(), var.clone())                    # 4 of 8 need other pieces
    pad = torch.full((200,), 0.5, dtype=F64)                         # v = m: (0, 3) exact
    gathered = piece_plan(torch.cat([mean, pad]), torch.cat([var, pad]))
    assert whole[0] is not None and not bool((whole[1] == 3).all())
    for a, b in zip(whole, gathered, strict=True):
        assert torch.equal(a, b[:len(MIXED)])


# -- every family: the device states its composition, the kernel follows it ---------------------
#: one example per family (``ALL_DEVICES``), with the kernel form it must get (None: torch path)
FAMILY_FORMS = {
    "ideal": (IdealDevice(dw_min=0.01), fused.CONSTANT_STEP),
    "constant_step": (ConstantStep(dw_min=0.01, tau_min=-0.5, tau_max=0.7), fused.CONSTANT_STEP),
    # w⋄ = 0.02 stays inside every element's bounds under VARIATION (|τ| ≥ 0.05·|τ| ≥ 0.025)
    "soft_bounds": (SoftBounds(dw_min=0.01, tau_min=-0.5, tau_max=0.7, w_sym=0.02), fused.LINEAR_STEP),
    "c_lin": (CLinDevice(dw_min=0.01, tau_min=-0.5, tau_max=0.7, c_lin=0.3), fused.LINEAR_STEP),
    "power_step": (PowerStep(dw_min=0.01, gamma_up=1.5, gamma_down=2.0), fused.POWER_STEP),
    "exp_step": (ExpStep(dw_min=0.01), fused.EXP_STEP),
}
FUSED_NAMES = sorted(n for n, (_, form) in FAMILY_FORMS.items() if form is not None)
#: the families whose kernel arithmetic is the torch path's own closed form (the pulse-by-pulse
#: families are checked against their one-pulse reference in test_fused_step_families.py)
CLOSED_FORM_NAMES = sorted(n for n, (_, form) in FAMILY_FORMS.items()
                           if form in (fused.LINEAR_STEP, fused.CONSTANT_STEP))


def test_every_family_states_its_kernel_form():
    """Every registered family is listed and gets its kernel form (closed-form families theirs,
    power and exp step the pulse-by-pulse forms); a family without one would run the torch path."""
    assert set(FAMILY_FORMS) == set(ALL_DEVICES), "add each new family with its expected form"
    for name, (device, form) in FAMILY_FORMS.items():
        assert type(device) is ALL_DEVICES[name]
        assert fused.kernel_form(device) == form, name


@pytest.mark.parametrize("kernel", ["sparse", "dense"])
@pytest.mark.parametrize("name", sorted(FAMILY_FORMS))
def test_tile_takes_the_fused_path_exactly_for_families_with_a_kernel_form(name, kernel):
    device, form = FAMILY_FORMS[name]
    cfg = TileConfig(device=device, update=UpdateConfig(kernel=kernel))
    tile = AnalogTile((4, 5), cfg, torch.Generator().manual_seed(0), dtype=F64)
    x, d = _inputs(3, 4, 5, seed=1)
    tile.update(x, d, 0.1)
    closed = form in (fused.LINEAR_STEP, fused.CONSTANT_STEP)  # the pulse-by-pulse ones: dense
    want = _path(kernel if closed else "dense", "sparse") if form is not None else "torch"
    assert tile.last_update_path == want


@needs_numba
@pytest.mark.parametrize("name", CLOSED_FORM_NAMES)
@pytest.mark.parametrize("dtype,atol", [(torch.float64, 1e-12), (torch.float32, 2e-6)])
def test_fused_equals_torch_path_for_every_closed_form_family(name, dtype, atol):
    """As test_fused_equals_torch_path_on_the_same_random_numbers, for every family the kernel
    takes, with d2d and c2c spread on: the kernel's arithmetic (from the device's constants)
    equals the device's own torch composition + c2c + clip on the same random numbers. Large
    updates (lr = 2: up to 31 pulses of up to 0.02) reach the bounds of the constant-step device,
    so its clipping is compared too. Tolerance as there (float rounding; float32: a count may
    differ by one pulse at ≤ 0.1 % of elements)."""
    device = FAMILY_FORMS[name][0]
    shape, gen = (9, 11), torch.Generator().manual_seed(2)
    devices = DeviceArray.realise(device, shape, VARIATION, gen, dtype=dtype)
    w = (0.8 * torch.rand(shape, generator=gen, dtype=F64) - 0.4).to(dtype)
    w = devices.clip(w)
    x, d = _inputs(5, 9, 11, seed=3, dtype=dtype)
    p, q, bl = pulse_probabilities(x, d, 2.0, device.dw_min, 31, True, True, 1.0)
    moments = torch.stack(batch_moments(x, d, p, q, bl))
    key = 777
    got = fused.apply_moments(w, moments, devices, key)
    ref = fused.apply_moments_torch(w, moments.clone(), devices, fused.counter_randoms(key, w.numel()))
    close = (got - ref).abs() <= atol + 1e-5 * ref.abs()
    assert close.float().mean() >= (1.0 if dtype == F64 else 0.999)
    assert not torch.equal(got, w)
    if name == "constant_step":  # the comparison covers clipped elements
        assert bool(((ref == devices.tau_max) | (ref == devices.tau_min)).any())


@needs_numba
@pytest.mark.parametrize("name", FUSED_NAMES)
def test_fused_outer_kernel_equals_moments_kernel_for_every_fused_family(name):
    """The sparse batch-1 kernel gives the moments kernel's numbers for every form (float64)."""
    device = FAMILY_FORMS[name][0]
    shape, gen = (7, 13), torch.Generator().manual_seed(4)
    devices = DeviceArray.realise(device, shape, VARIATION, gen, dtype=F64)
    w = devices.clip(0.3 * torch.rand(shape, generator=gen, dtype=F64) - 0.1)
    x, d = _inputs(1, 7, 13, seed=5)
    p, q, bl = pulse_probabilities(x, d, 0.5, 0.01, 31, True, True, 1.0)
    outer = fused.apply_outer(w, x, d, p, q, bl, devices, 99)
    full = fused.apply_moments(w, torch.stack(batch_moments(x, d, p, q, bl)), devices, 99)
    torch.testing.assert_close(outer, full, rtol=0, atol=1e-15)


@dataclass(frozen=True)
class _BentSoftBounds(SoftBounds):
    """A subclass that changes the up response without stating new constants."""

    def response_up(self, w, tau_min, tau_max):
        return super().response_up(w, tau_min, tau_max) ** 2


@dataclass(frozen=True)
class _RenamedSoftBounds(SoftBounds):
    """A subclass that changes nothing of the physics (only a default)."""

    tau_max: float = param(0.9, "τ_max", Interval())


def test_subclass_changing_the_response_loses_the_constants():
    """A subclass overriding a response gets no constants: the kernel is not used and the
    composition is the generic flow of its own response (not the parent's closed form); one
    that only changes a default keeps them."""
    bent = _BentSoftBounds(dw_min=0.01)
    assert bent.linear_step_constants(0.01, 0.01, bent.tau_min, bent.tau_max) is None
    assert fused.kernel_form(bent) is None
    args = (torch.tensor([0.1], dtype=F64), torch.tensor([30.0], dtype=F64), torch.tensor([0.0], dtype=F64),
            torch.tensor(0.01, dtype=F64), torch.tensor(0.01, dtype=F64), bent.tau_min, bent.tau_max)
    assert torch.equal(bent.compose_pulses(*args), AbstractDevice.compose_pulses(bent, *args))
    assert not torch.equal(bent.compose_pulses(*args), SoftBounds(dw_min=0.01).compose_pulses(*args))
    tile = AnalogTile((3, 4), TileConfig(device=bent), torch.Generator().manual_seed(0))
    x, d = _inputs(2, 3, 4, seed=6, dtype=torch.float32)
    tile.update(x, d, 0.1)
    assert tile.last_update_path == "torch"
    assert fused.kernel_form(_RenamedSoftBounds()) == fused.LINEAR_STEP


def _poisson_binomial_pmf(probs_and_trials, n_max):
    """pmf of Σ Binomial(n_t, π_t) on 0 … n_max, by convolution (float64)."""
    pmf = torch.zeros(n_max + 1, dtype=F64)
    pmf[0] = 1.0
    for prob, trials in probs_and_trials:
        for _ in range(trials):
            pmf = torch.cat([pmf[:1] * (1 - prob), pmf[1:] * (1 - prob) + pmf[:-1] * prob])
    return pmf


#: (VECTOR_ABOVE, COMPOSE_ALL_ABOVE) that force the sparse kernel's two pass methods and
#: two compositions: skipping with element-by-element composition, vectorised with whole rows
SPARSE_METHODS = {"skipping": (math.inf, math.inf), "vectorised": (-1.0, -1.0)}


@needs_numba
@pytest.mark.parametrize("method", SPARSE_METHODS)
def test_sparse_counts_follow_the_poisson_binomial_and_are_independent(monkeypatch, method):
    """The sparse kernel's count of element (i, j) is Σ_b Binomial(BL_b, p_bj q_bi) exactly: the
    histogram of T trials matches that pmf within K SE per value; the counts of two elements of
    one row or one column are uncorrelated (|r| < K/√T). For both pass methods (geometric
    skipping with thinning, one vectorised trial per pair: three columns, so its odd last
    column too); ρ = q p_max spans 0.003 to 0.9, a column with p = 0 never fires, and BL_b > 1
    tests that one slot fires a column at most once."""
    monkeypatch.setattr(fused_sparse, "VECTOR_ABOVE", SPARSE_METHODS[method][0])
    monkeypatch.setattr(fused_sparse, "COMPOSE_ALL_ABOVE", SPARSE_METHODS[method][1])
    trials = 20_000
    p = torch.tensor([[0.9, 0.2, 0.0], [0.5, 0.05, 0.7], [1.0, 1.0, 0.3]], dtype=F64)
    q = torch.tensor([[0.1, 0.6], [0.3, 0.02], [0.15, 0.9]], dtype=F64)
    bl = torch.tensor([[2.0], [3.0], [1.0]], dtype=F64)
    devices = DeviceArray.realise(IdealDevice(dw_min=1.0), (trials, 2, 3), DeviceVariation(),
                                  torch.Generator().manual_seed(0), dtype=F64)
    w0 = torch.zeros(trials, 2, 3, dtype=F64)
    xs, ds = p.expand(trials, -1, -1), q.expand(trials, -1, -1)   # all positive: down pulses
    n = -fused_sparse.apply_sparse(w0, xs, ds, xs, ds, bl.expand(trials, -1, -1), devices,
                                   (12345, 678))
    assert torch.equal(n, n.round()) and bool((n >= 0).all())
    assert bool((n[:, :, 2] <= 3 * 1 + 1).all())                  # p₀₂ = 0: only samples 1, 2
    for i in range(2):
        for j in range(3):
            terms = [(float(p[b, j] * q[b, i]), int(bl[b])) for b in range(3)]
            exact = _poisson_binomial_pmf(terms, 6)
            freq = torch.stack([(n[:, i, j] == k).double().mean() for k in range(7)])
            se = (exact * (1 - exact) / trials).sqrt() + 1.0 / trials
            assert ((freq - exact).abs() <= K * se).all(), (i, j, freq, exact)
    flat = n.reshape(trials, -1)
    for a, b in ((0, 1), (0, 2), (1, 2), (0, 3), (1, 4), (2, 5), (0, 4)):
        r = torch.corrcoef(torch.stack([flat[:, a], flat[:, b]]))[0, 1]
        assert abs(float(r)) < K / math.sqrt(trials), (a, b, float(r))


@needs_numba
@pytest.mark.parametrize("method", SPARSE_METHODS)
@pytest.mark.parametrize("batch", [1, 6])
def test_sparse_and_dense_kernels_agree_in_distribution(monkeypatch, batch, method):
    """The same update of a soft-bounds tile with device and cycle-to-cycle spread through the
    sparse kernel (each pass method) and the dense kernel: per element, mean and variance of w'
    over T trials agree within K SE (the counts have the same mean and variance; their c2c
    noise is drawn alike)."""
    monkeypatch.setattr(fused_sparse, "VECTOR_ABOVE", SPARSE_METHODS[method][0])
    monkeypatch.setattr(fused_sparse, "COMPOSE_ALL_ABOVE", SPARSE_METHODS[method][1])
    trials, shape = 4000, (3, 4)
    x, d = _inputs(batch, *shape, seed=30 + batch)
    device = SoftBounds(dw_min=0.05, tau_min=-0.5, tau_max=0.7)
    out = {}
    for kernel in ("sparse", "dense"):
        cfg = TileConfig(device=device, variation=VARIATION, update=UpdateConfig(kernel=kernel))
        gen = torch.Generator().manual_seed(4)           # the same d2d draw for both
        devices = DeviceArray.realise(device, shape, VARIATION, gen, dtype=F64)
        devices = DeviceArray(device, *(t.expand((trials,) + shape).clone() for t in (
            devices.gain_up, devices.gain_down, devices.tau_min, devices.tau_max)),
            devices.dw_min_c2c, devices.reference.expand((trials,) + shape).clone())
        tile = AnalogTile((trials,) + shape, cfg, torch.Generator().manual_seed(5 + len(kernel)),
                          dtype=F64, devices=devices)
        tile.set_weight(torch.full((trials,) + shape, 0.1, dtype=F64))
        tile.update(x.expand(trials, -1, -1), d.expand(trials, -1, -1), 0.3)
        assert tile.last_update_path == NUMBA_PATHS[kernel]
        out[kernel] = tile.weight
    a, b = out["sparse"], out["dense"]
    se_mean = ((a.var(0) + b.var(0)) / trials).sqrt() + 1e-12
    assert ((a.mean(0) - b.mean(0)).abs() <= K * se_mean).all()

    def var_se2(t):  # squared SE of a sample variance: (μ₄ − σ⁴)/T (no normality assumed)
        c = t - t.mean(0)
        return ((c ** 4).mean(0) - c.var(0) ** 2) / trials

    se_var = (var_se2(a) + var_se2(b)).sqrt() + 1e-12
    assert ((a.var(0) - b.var(0)).abs() <= K * se_var).all()


@needs_numba
def test_numba_probabilities_match_pulse_probabilities():
    """fast_probabilities.probabilities against pulse_trains.pulse_probabilities (default
    management) over random scales, dtypes, batches, replicas and all-zero samples: BL equal,
    p and q within 4 ulp of the dtype (torch's float32 sqrt is not correctly rounded, see the
    module docstring), the finiteness flag and sparse.expected_work (relative 1e-5: summed in
    another order and precision)."""
    g = torch.Generator().manual_seed(0)
    for trial in range(120):
        dt = torch.float32 if trial % 3 else F64
        lead = (2,) if trial % 5 == 0 else ()
        shape_x, shape_d = lead + ((1, 3, 64)[trial % 3], 17), lead + ((1, 3, 64)[trial % 3], 9)
        x = torch.rand(shape_x, generator=g, dtype=dt) * 10.0 ** (4 * torch.rand(1, generator=g).item() - 2)
        d = torch.randn(shape_d, generator=g, dtype=dt) * 10.0 ** (6 * torch.rand(1, generator=g).item() - 5)
        if trial % 7 == 0:
            x[..., 0, :] = 0.0
        if trial % 11 == 0:
            d[..., -1, :] = 0.0
        lr = 10.0 ** (3 * torch.rand(1, generator=g).item() - 3)
        dw, bl_max, scale = (1e-3, 0.01, 0.5)[trial % 3], (31, 5, 1)[trial % 3], (1.0, 0.5)[trial % 2]
        want = pulse_probabilities(x, d, lr, dw, bl_max, True, True, scale)
        p, q, bl, finite, work = fast_probabilities.probabilities(x, d, lr, dw, bl_max, scale)
        assert finite
        assert torch.equal(bl, want[2])
        ulp = torch.finfo(dt).eps
        for got, ref in ((p, want[0]), (q, want[1])):
            assert ((got - ref).abs() <= 4 * ulp * ref.abs()).all(), trial
        assert work == pytest.approx(fused_sparse.expected_work(*want), rel=1e-5, abs=1e-9)
    for bad in (float("nan"), float("inf")):
        x = torch.rand(2, 5)
        x[1, 3] = bad
        assert not fast_probabilities.probabilities(x, torch.rand(2, 4), 0.1, 1e-3, 31, 1.0)[3]


def _sparse_case(dtype, batch=5, shape=(2, 6, 9), seed=3, lr=0.5, dw_min=0.01):
    """A replicated soft-bounds tile with spread, its weights and a batch (x, d, p, q, BL) that
    fires a few pulses per element at lr 0.5 on Δw_min 0.01."""
    gen = torch.Generator().manual_seed(seed)
    devices = DeviceArray.realise(SoftBounds(dw_min=dw_min, tau_min=-0.5, tau_max=0.7), shape,
                                  VARIATION, gen, dtype=dtype)
    w = devices.clip((0.4 * torch.rand(shape, generator=gen, dtype=F64) - 0.2).to(dtype))
    x = torch.randn(shape[:1] + (batch, shape[2]), generator=gen, dtype=dtype)
    d = 0.3 * torch.randn(shape[:1] + (batch, shape[1]), generator=gen, dtype=dtype)
    x[:, 0] = 0.0                                   # an all-zero sample: no pass
    p, q, bl = pulse_probabilities(x, d, lr, dw_min, 31, True, True, 1.0)
    return devices, w, x, d, p, q, bl


@needs_numba
@pytest.mark.parametrize("width", [1, 7, 8, 9, 63, 64, 65, 784])
def test_touched_list_is_every_column_with_pulses_in_order(width):
    """The sparse kernel's list of a row's columns with pulses (a byte mask read a word at a
    time) is np.nonzero of the counts, at densities from none to all and at row widths on and
    off the 8-byte word boundary (the mask's padding never lists a column)."""
    import numpy as np

    rng = np.random.default_rng(width)
    touched = np.empty(width + 1, dtype=np.int64)
    mask = fused_sparse.list_buffers(width, np.zeros(1, np.float32), np.zeros((1, 6), np.float32))[4]
    for density in (0.0, 0.01, 0.1, 0.5, 1.0):
        counts = np.where(rng.random(width) < density,
                          rng.integers(1, 2**40, width), 0).astype(np.int64)
        n = fused_sparse.list_touched(counts, touched, mask)
        assert touched[:n].tolist() == np.nonzero(counts)[0].tolist(), density


@needs_numba
@pytest.mark.parametrize("small", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_sparse_compositions_give_the_same_numbers(monkeypatch, dtype, small):
    """Whole-row (vectorised) and element-by-element composition of the same draw give the same
    weights bit for bit, for either pass method: an element without pulses is left exactly as
    it is, and both compose with the same arithmetic and noise counters. ``small``: Δw_min 1e-3
    at lr 3e-4 (BL 1, at most 5 pulses an element), where every row takes the whole-row loop
    without exp_neg's range reduction (counts × L± < SMALL_DECAY); else lr 0.5 on Δw_min 0.01,
    whose mean counts alone put rows far above it."""
    lr, dw_min = (3e-4, 1e-3) if small else (0.5, 0.01)
    devices, w, x, d, p, q, bl = _sparse_case(dtype, lr=lr, dw_min=dw_min)
    l_max = float(fused.device_constants(devices, dtype)[2:4].max())
    if small:
        assert float(bl.sum(-2).max()) * l_max < fused.SMALL_DECAY
    else:
        mean_counts = (bl.unsqueeze(-1) * q.unsqueeze(-1) * p.unsqueeze(-2)).sum(-3)
        assert float(mean_counts.max()) * l_max > 10 * fused.SMALL_DECAY
    for vector_above in (math.inf, -1.0):
        monkeypatch.setattr(fused_sparse, "VECTOR_ABOVE", vector_above)
        out = []
        for compose_all in (math.inf, -1.0):
            monkeypatch.setattr(fused_sparse, "COMPOSE_ALL_ABOVE", compose_all)
            out.append(fused_sparse.apply_sparse(w.clone(), x, d, p, q, bl, devices, (77, 5)))
        assert not torch.equal(out[0], w)
        assert torch.equal(out[0], out[1]), vector_above


@needs_numba
@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_fused_sparse_update_is_the_probabilities_then_the_kernel(dtype):
    """update_sparse (probabilities and draw in one compiled call) gives the numbers of
    fast_probabilities.probabilities followed by apply_sparse on the same keys; on a NaN or inf
    in x or d it returns False and leaves w untouched."""
    devices, w, x, d, _, _, _ = _sparse_case(dtype)
    p, q, bl, finite, _ = fast_probabilities.probabilities(x, d, 0.5, 0.01, 31, 1.0)
    assert finite and fused_sparse.fuses(w, x, d)
    want = fused_sparse.apply_sparse(w.clone(), x, d, p, q, bl, devices, (41, 9))
    got = w.clone()
    assert fused_sparse.update_sparse(got, x, d, 0.5, 0.01, 31, 1.0, devices, (41, 9))
    assert not torch.equal(want, w)
    assert torch.equal(got, want)
    for bad in (float("nan"), float("inf")):
        for t in (x, d):
            before = t[1, 2, 3].item()
            t[1, 2, 3] = bad
            kept = w.clone()
            assert not fused_sparse.update_sparse(kept, x, d, 0.5, 0.01, 31, 1.0, devices, (41, 9))
            assert torch.equal(kept, w)
            t[1, 2, 3] = before


@needs_numba
def test_auto_kernel_sets_what_auto_tiles_take():
    """auto_kernel('dense') makes a tile configured kernel='auto' take the dense kernel (where
    'auto' takes the sparse one at batch 1), returns the value before, and refuses an unknown
    kernel in one ConfigError; restoring it restores the choice."""
    from analogsgd.crossbar.tile import auto_kernel
    from analogsgd.errors import ConfigError

    x, d = _inputs(1, 4, 5, seed=2)

    def path():
        tile = AnalogTile((4, 5), TileConfig(device=SoftBounds()), torch.Generator().manual_seed(0),
                          dtype=F64)
        tile.update(x, d, 0.1)
        return tile.last_update_path

    assert path() == NUMBA_PATHS["sparse"]
    before = auto_kernel("dense")
    try:
        assert path() == NUMBA_PATHS["dense"]
        with pytest.raises(ConfigError, match="update kernel"):
            auto_kernel("fastest")
    finally:
        assert auto_kernel(before) == "dense"
    assert path() == NUMBA_PATHS["sparse"]


def test_kernel_cache_is_dropped_when_any_kernel_source_changes(tmp_path):
    """numba keys a cached kernel on its own file only; _kernel_cache.refresh drops the cached
    kernels of every module in SOURCES once any of them changed (a helper inlined from
    fused.py into sparse.py), keeps them while none did, and leaves other files alone."""
    from analogsgd.crossbar import _kernel_cache

    for name in _kernel_cache.SOURCES:
        (tmp_path / name).write_text(f"# {name}\n")
    cache = tmp_path / "__pycache__"
    cache.mkdir()

    def fill():
        for name in ("sparse.sparse_kernel-10.py311.nbi", "sparse.sparse_kernel-10.py311.1.nbc",
                     "fused.moments_kernel-300.py311.nbi", "other.f-1.py311.nbi", "fused.cpython-311.pyc"):
            (cache / name).write_text("x")

    fill()
    assert _kernel_cache.refresh(tmp_path)                      # no stamp yet: dropped
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        ["other.f-1.py311.nbi", "fused.cpython-311.pyc", _kernel_cache.STAMP])
    fill()
    assert not _kernel_cache.refresh(tmp_path)                  # unchanged: kept
    assert len(list(cache.glob("*.nb?"))) == 4
    (tmp_path / "fused.py").write_text("# fused.py, a helper changed\n")
    assert _kernel_cache.refresh(tmp_path)                      # another file changed: dropped
    assert [p.name for p in cache.glob("*.nb?")] == ["other.f-1.py311.nbi"]
