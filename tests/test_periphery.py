"""The tile periphery (DAC, ADC, noise, noise and bound management) against closed forms.

Exact stages (perfect read, DAC, ADC, clipping, bound management without noise) are checked
against closed-form bounds; noisy stages against the Gaussian sampling statistics of their
stated standard deviations, with the confidence bounds written next to each assertion.
"""

import math

import pytest
import torch

from analogsgd.crossbar import (
    AnalogTile,
    IOConfig,
    PeripheryConfig,
    TileConfig,
    analog_mvm,
    fast_periphery,
)
from analogsgd.crossbar import periphery as periphery_module
from analogsgd.crossbar.periphery import quantisation_step
from analogsgd.devices import IdealDevice
from analogsgd.errors import ConfigError

F64 = torch.float64
INF = float("inf")
#: every stage off; tests switch on one at a time
OFF = IOConfig(inp_bits=0, out_bits=0, out_bound=INF, out_noise=0.0, noise_management="none",
               bound_management="none")


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def rand(*shape, seed=0, scale=1.0, dtype=F64):
    return scale * torch.randn(*shape, generator=gen(seed), dtype=dtype)


def make_tile(shape, periphery=None, seed=0):
    cfg = TileConfig(device=IdealDevice(dw_min=1e-3))
    if periphery is not None:
        cfg = cfg.replace(periphery=periphery)
    tile = AnalogTile(shape, cfg, gen(seed), dtype=F64)
    tile.set_weight(rand(*shape, seed=seed + 1, scale=0.5))
    return tile


# -- perfect reads ------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(5, 4), (3, 5, 4)])
def test_default_tile_reads_exactly_and_draws_nothing(shape):
    tile = make_tile(shape)
    assert tile.config.periphery == PeripheryConfig.ideal() == TileConfig().periphery
    w = tile.weight
    x, d = rand(7, 4, seed=2), rand(7, 5, seed=3)
    state = tile.generator.get_state()
    assert torch.equal(tile.forward(x), x @ w.transpose(-1, -2))
    assert torch.equal(tile.backward(d), d @ w)
    assert torch.equal(tile.generator.get_state(), state)


# -- DAC ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("nm", ["none", "abs_max"])
@pytest.mark.parametrize("bits", [4, 8])
def test_dac_error_is_at_most_half_a_step(nm, bits):
    """|y − x Wᵀ|_i ≤ s (Δ_in/2) Σ_j |W_ij| with s = max|x_b|/b_in (abs-max) or 1 (none, inputs
    within ±b_in); the bound is tight up to the sum of signs, so it is also approached."""
    io = OFF.replace(inp_bits=bits, noise_management=nm)
    x = rand(64, 10, seed=1).clamp(-1, 1) * (3.0 if nm == "abs_max" else 1.0)
    w = rand(6, 10, seed=2)
    y = analog_mvm(x, w, io, gen())
    s = x.abs().amax(-1, keepdim=True) if nm == "abs_max" else torch.ones(64, 1, dtype=F64)
    bound = s * io.inp_step / 2 * w.abs().sum(-1)
    err = (y - x @ w.T).abs()
    assert (err <= bound * (1 + 1e-12)).all()
    assert (err / bound).max() > 0.2  # the DAC really rounds

    # the DAC levels themselves: with W = I the read returns s Δ_in k, k integer, |k| ≤ 2^(n−1)−1
    levels = analog_mvm(x, torch.eye(10, dtype=F64), io, gen()) / (s * io.inp_step)
    torch.testing.assert_close(levels, levels.round(), rtol=0, atol=1e-9)
    assert levels.abs().max() <= 2 ** (bits - 1) - 1 + 1e-9


def test_noise_management_none_clips_and_abs_max_rescales():
    """Without noise management inputs beyond ±b_in are clipped by the DAC; abs-max maps the
    largest input onto b_in (a DAC level), so the same row reads exactly."""
    x = torch.tensor([[3.0, -0.5, 1.5]], dtype=F64)
    eye = torch.eye(3, dtype=F64)
    clipped = analog_mvm(x, eye, OFF, gen())
    assert torch.equal(clipped, torch.tensor([[1.0, -0.5, 1.0]], dtype=F64))
    managed = analog_mvm(x, eye, OFF.replace(inp_bits=8, noise_management="abs_max"), gen())
    torch.testing.assert_close(managed, x, rtol=0, atol=3.0 * quantisation_step(8, 1.0) / 2)
    assert managed[0, 0] == 3.0
    zero = analog_mvm(torch.zeros(2, 3, dtype=F64), eye, OFF.replace(noise_management="abs_max",
                                                                   inp_bits=8, out_bits=8,
                                                                   out_bound=2.0), gen())
    assert torch.equal(zero, torch.zeros(2, 3, dtype=F64))  # an all-zero row reads 0 (s = 1)


def test_all_zero_row_reads_exactly_zero_under_noise_management():
    """An all-zero row has s_b = max|x_b| = 0, so its de-normalised read s_b·ŷ is exactly 0, not
    the output noise at full scale (aihwkit short-cuts it the same way); the other rows keep the
    very numbers they had, the draws being the same. Forward with input noise keeps the noisy
    read at s_b = 1, as aihwkit does."""
    w = rand(6, 5, seed=2, scale=0.3)
    x = rand(4, 5, seed=3)
    x[1] = 0.0
    io = PeripheryConfig.paper().forward                 # σ_out = 0.1, 8-bit ADC over ±20
    for direction in ("forward", "backward"):
        y = analog_mvm(x, w, io, gen(5), direction)
        assert torch.equal(y[1], torch.zeros(6, dtype=F64))
        unmanaged = analog_mvm(x, w, io.replace(noise_management="none"), gen(5), direction)
        assert unmanaged[1].abs().max() > 0.0             # without management: noise, as before
        x_nonzero = x.clone()
        x_nonzero[1] = 1.0
        other = analog_mvm(x_nonzero, w, io, gen(5), direction)
        keep = [0, 2, 3]
        assert torch.equal(y[keep], other[keep])
    noisy_in = io.replace(inp_noise=0.05)
    assert analog_mvm(x, w, noisy_in, gen(5), "forward")[1].abs().max() > 0.0
    assert torch.equal(analog_mvm(x, w, noisy_in, gen(5), "backward")[1],
                       torch.zeros(6, dtype=F64))
    tile = make_tile((6, 5), PeripheryConfig.paper())
    assert torch.equal(tile.backward(torch.zeros(2, 6, dtype=F64)), torch.zeros(2, 5, dtype=F64))
    with pytest.raises(ValueError, match="direction"):
        analog_mvm(x, w, io, gen(), "sideways")


def test_quantisation_step_matches_aihwkit_resolution():
    assert quantisation_step(7, 1.0) == 2.0 / 126  # aihwkit inp_res = 1/(2**7 - 2) of the range
    assert quantisation_step(8, 20.0) == 40.0 / 254
    assert quantisation_step(0, 1.0) == 0.0


# -- noise statistics ---------------------------------------------------------------------------
ROW_MAX = torch.tensor([0.25, 0.5, 1.0], dtype=F64)


def _rows(n_rep, in_size=12):
    """n_rep copies of three input rows whose abs-max is 0.25, 0.5 and 1."""
    base = rand(3, in_size, seed=5)
    base = base / base.abs().amax(-1, keepdim=True) * ROW_MAX[:, None]
    return base.repeat(n_rep, 1)


@pytest.mark.parametrize("nm", ["none", "abs_max"])
@pytest.mark.parametrize("source", ["out_noise", "inp_noise", "w_noise"])
def test_noise_has_its_stated_std(source, nm):
    """The read error of each noise source alone is N(0, σ²) with, in input units,
    out_noise: σ = σ_out s; inp_noise: σ = σ_in ‖W_i‖₂ s; w_noise: σ = σ_w ‖x_b/s‖₂ s,
    s = max|x_b|/b_in (abs-max) or 1 (none). Over M = 3000 × 8 draws per row the normalised
    error e/σ has |mean| ≤ 4/√M and |var − 1| ≤ 4√(2/(M−1)) (4 standard errors: a false alarm
    has probability < 1e-4 per check)."""
    sigma = 0.1
    io = OFF.replace(noise_management=nm, **{source: sigma})
    n_rep, out = 3000, 8
    x = _rows(n_rep)
    w = rand(out, 12, seed=6, scale=0.4)
    y = analog_mvm(x, w, io, gen(7))
    s = (ROW_MAX if nm == "abs_max" else torch.ones(3, dtype=F64))[:, None]
    xr = x[:3]
    if source == "out_noise":
        std = sigma * s.expand(3, out)
    elif source == "inp_noise":
        std = sigma * torch.linalg.vector_norm(w, dim=-1)[None, :] * s
    else:
        std = sigma * torch.linalg.vector_norm(xr / s, dim=-1, keepdim=True) * s.expand(3, out)
    z = ((y - x @ w.T).reshape(n_rep, 3, out) / std).transpose(0, 1).reshape(3, -1)
    m = z.shape[1]
    assert (z.mean(1).abs() <= 4 / math.sqrt(m)).all(), z.mean(1)
    assert ((z.var(1) - 1).abs() <= 4 * math.sqrt(2 / (m - 1))).all(), z.var(1)


# -- ADC and bound management -------------------------------------------------------------------
def _big_outputs():
    """Rows with abs-max s = 1 and 3 whose outputs reach ±5 s, and a row with outputs ≤ s/2."""
    w = torch.tensor([[5.0, 0.0], [-5.0, 0.0], [0.0, 0.5]], dtype=F64)
    x = torch.tensor([[1.0, 0.2], [3.0, 0.6], [0.1, 1.0]], dtype=F64)
    return x, w


def test_adc_without_bound_management_saturates_at_the_bound():
    x, w = _big_outputs()
    io = OFF.replace(noise_management="abs_max", out_bits=8, out_bound=2.0)
    y = analog_mvm(x, w, io, gen())
    s = x.abs().amax(-1)
    assert torch.equal(y[:2, :2], torch.stack([2 * s[:2], -2 * s[:2]], -1))
    true = x @ w.T
    assert (y[2] - true[2]).abs().max() <= s[2] * io.out_step / 2 + 1e-15


def _count_read_rows(monkeypatch) -> list[int]:
    """The rows (samples) of every read from now on, one entry per call of periphery._read or
    of the compiled first read (fast_periphery.first_read)."""
    sizes: list[int] = []
    real_read, real_first = periphery_module._read, fast_periphery.first_read

    def counting_read(x, *args):
        sizes.append(x.shape[-2])
        return real_read(x, *args)

    def counting_first(x, *args):
        sizes.append(x.shape[-2])
        return real_first(x, *args)

    monkeypatch.setattr(periphery_module, "_read", counting_read)
    monkeypatch.setattr(fast_periphery, "first_read", counting_first)
    return sizes


@pytest.mark.parametrize("out_bits", [0, 8])
def test_iterative_bound_management_recovers_large_outputs(out_bits, monkeypatch):
    """Saturated rows are re-read at r = 2, 4, …; the read is then within r s Δ_out/2 of x Wᵀ,
    with r ≤ 2^⌈log2(max|y|/(s b_out))⌉; only the saturated rows are re-read, and the re-reads
    stop as soon as none saturates."""
    sizes = _count_read_rows(monkeypatch)
    x, w = _big_outputs()
    io = OFF.replace(noise_management="abs_max", out_bits=out_bits, out_bound=2.0,
                     bound_management="iterative")
    y = analog_mvm(x, w, io, gen())
    true = x @ w.T
    s = x.abs().amax(-1, keepdim=True)
    r = 2.0 ** torch.ceil(torch.log2((true.abs().amax(-1, keepdim=True) / (s * 2.0)).clamp(min=1)))
    assert (y - true).abs().max() <= (r * s * io.out_step / 2).max() + 1e-12
    if out_bits == 0:
        torch.testing.assert_close(y, true, rtol=0, atol=1e-12)
    assert sizes == [3, 2, 2]  # 5 > 2 at r = 1 and 2.5 > 2 at r = 2; rows 0, 1 re-read; 1.25 fits

    sizes.clear()
    analog_mvm(x[2:], w, io, gen())
    assert sizes == [1]  # nothing saturates: one read


def test_bound_managed_read_carries_the_noise_of_its_factor():
    """A sample read at r carries output noise of std σ_out s r on every output. Here the
    outputs 5 s saturate at r = 2 (2.5 − 2 = 10 σ_out) and never at r = 4 (2 − 1.25 = 15 σ_out),
    so all final reads have r = 4; over M = 2 × 2000 × 3 draws the same 4-standard-error bounds
    as in :func:`test_noise_has_its_stated_std` apply."""
    sigma, n_rep = 0.05, 2000
    x, w = _big_outputs()
    x = x[:2].repeat(n_rep, 1)
    io = OFF.replace(noise_management="abs_max", out_bound=2.0, out_noise=sigma,
                     bound_management="iterative")
    y = analog_mvm(x, w, io, gen(11))
    z = (y - x @ w.T) / (sigma * x.abs().amax(-1, keepdim=True) * 4.0)
    m = z.numel()
    assert abs(float(z.mean())) <= 4 / math.sqrt(m)
    assert abs(float(z.var()) - 1) <= 4 * math.sqrt(2 / (m - 1))


@pytest.mark.parametrize("io, r_last", [
    (OFF.replace(out_bound=2.0, bound_management="iterative", max_bm_factor=8,
                 max_bm_res=INF), 16.0),
    (PeripheryConfig.paper().forward, 32.0),   # 8-bit DAC: stop once r·(2/254) > 0.25
    (IOConfig(out_noise=0.0), 16.0),           # aihwkit default, 7-bit: r·(2/126) > 0.25
])
def test_bound_management_stops_at_its_limit(io, r_last):
    """aihwkit's stop test: re-read while r ≤ max_bm_factor and r Δ_in/b_in ≤ max_bm_res; an
    output that saturates at every factor then reads ±b_out s r_last."""
    x = torch.tensor([[1.0, 0.0]], dtype=F64)
    w = torch.tensor([[1e6, 0.0], [-1e6, 0.0]], dtype=F64)
    y = analog_mvm(x, w, io, gen())
    b = io.out_bound
    assert torch.equal(y, torch.tensor([[b * r_last, -b * r_last]], dtype=F64))


# -- replicas, seeds, dtypes, the tile ----------------------------------------------------------
@pytest.mark.parametrize("shared_x", [False, True])
def test_replicas_equal_a_loop_over_replicas(shared_x):
    """Leading dims are independent replicas: noise-free DAC+ADC+BM reads of a (4, out, in)
    stack equal four separate reads, also when only some replicas saturate (they share a
    re-read position but keep their own first read)."""
    io = PeripheryConfig.paper().forward.replace(out_noise=0.0, out_bound=3.0)
    w = rand(4, 5, 6, seed=8) * torch.tensor([0.1, 2.0, 0.3, 5.0], dtype=F64)[:, None, None]
    x = rand(7, 6, seed=9) if shared_x else rand(4, 7, 6, seed=9)
    y = analog_mvm(x, w, io, gen())
    for k in range(4):
        xk = x if shared_x else x[k]
        torch.testing.assert_close(y[k], analog_mvm(xk, w[k], io, gen()), rtol=0, atol=1e-12)
    assert y.shape == (4, 7, 5)


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_same_seed_same_read_in_the_input_dtype(dtype):
    io = PeripheryConfig.paper().forward
    x, w = rand(16, 6, seed=1, scale=4.0, dtype=dtype), rand(3, 5, 6, seed=2, dtype=dtype)
    a, b = analog_mvm(x, w, io, gen(3)), analog_mvm(x, w, io, gen(3))
    assert a.dtype == dtype and torch.equal(a, b)
    assert not torch.equal(a, analog_mvm(x, w, io, gen(4)))
    one = analog_mvm(x[0], w, io, gen(3))  # a single sample without a batch dimension
    assert one.shape == (3, 5)


def test_tile_reads_forward_and_backward_through_their_own_periphery():
    """forward uses periphery.forward on W, backward uses periphery.backward on Wᵀ."""
    dac = OFF.replace(inp_bits=5, noise_management="abs_max")
    tile = make_tile((5, 4), PeripheryConfig(forward=IOConfig(is_perfect=True), backward=dac))
    w = tile.weight
    x, d = rand(6, 4, seed=2), rand(6, 5, seed=3)
    assert torch.equal(tile.forward(x), x @ w.T)
    z = tile.backward(d)
    assert torch.equal(z, analog_mvm(d, w.T, dac, gen()))
    assert not torch.equal(z, d @ w)

    paper = make_tile((5, 4), PeripheryConfig.paper(), seed=4)
    y = paper.forward(x)
    s = x.abs().amax(-1, keepdim=True)
    # 8-bit DAC error plus ADC rounding plus 6 σ of output noise, all in units of s
    tol = s * (quantisation_step(8, 1.0) / 2 * paper.weight.abs().sum(-1)
               + quantisation_step(8, 20.0) / 2 + 6 * 0.1)
    assert ((y - x @ paper.weight.T).abs() <= tol).all()


def test_invalid_periphery_settings_raise_config_error():
    with pytest.raises(ConfigError, match="IOConfig.inp_bits"):
        IOConfig(inp_bits=1)
    with pytest.raises(ConfigError, match="IOConfig.out_bound"):
        IOConfig(out_bits=8, out_bound=INF)
    with pytest.raises(ConfigError, match="TileConfig.periphery"):
        TileConfig(periphery="paper")
    with pytest.raises(ConfigError, match="PeripheryConfig.forward"):
        PeripheryConfig(forward=0.1)
    cfg = TileConfig().replace(**{"periphery.forward.out_noise": 0.2})
    assert cfg.periphery.forward.out_noise == 0.2 and cfg.periphery.backward.is_perfect


def test_paper_preset_is_wu_et_al_2024_mnist():
    """Their runs used aihwkit, which ignores bound management on the backward read."""
    p = PeripheryConfig.paper()
    for io in (p.forward, p.backward):
        assert (io.inp_bits, io.out_bits, io.out_noise, io.out_bound) == (8, 8, 0.1, 20.0)
        assert io.noise_management == "abs_max" and not io.is_perfect
    assert (p.forward.bound_management, p.backward.bound_management) == ("iterative", "none")
    assert PeripheryConfig.aihwkit_preset().backward.bound_management == "none"


@pytest.mark.parametrize("saturation", ["above", "full_scale"])
def test_a_read_at_full_scale_is_re_read_only_under_full_scale_saturation(saturation):
    """y = 2.005 rounds to the top level 2 of an 8-bit ADC on ±2 (Δ = 4/254): 'above' keeps
    the read 2; 'full_scale' counts it as saturated and re-reads at r = 2, giving
    2 Δ round(1.0025/Δ)."""
    io = OFF.replace(noise_management="abs_max", out_bits=8, out_bound=2.0,
                     bound_management="iterative", saturation=saturation)
    x = torch.tensor([[1.0, 0.0]], dtype=F64)
    w = torch.tensor([[2.005, 0.0]], dtype=F64)
    y = float(analog_mvm(x, w, io, gen()))
    step = io.out_step
    assert y == (2.0 if saturation == "above" else 2 * step * round(1.0025 / step))


@pytest.mark.parametrize("saturation, reads", [("above", [1]), ("full_scale", [1, 1])])
def test_saturation_compares_in_the_read_dtype(saturation, reads, monkeypatch):
    """b_out = 0.7 rounds down in float32 (0.69999999); a float32 read of exactly that value is
    the bound: 'full_scale' re-reads it (at r = 2 it reads 0.35, no longer saturated), 'above'
    does not. A test of the bound in float64 (0.7) would see no saturation at all."""
    sizes = _count_read_rows(monkeypatch)
    io = OFF.replace(out_bound=0.7, bound_management="iterative", saturation=saturation)
    f32 = torch.float32
    bound32 = torch.tensor(0.7, dtype=f32)
    assert float(bound32) < 0.7
    y = analog_mvm(torch.ones(1, 1, dtype=f32), bound32.reshape(1, 1), io, gen())
    assert sizes == reads
    assert torch.equal(y, bound32.reshape(1, 1))


@pytest.mark.skipif(not fast_periphery.fused.NUMBA_AVAILABLE, reason="numba not installed")
@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_compiled_first_read_is_the_torch_read_bit_for_bit(dtype, monkeypatch):
    """The compiled first read (fast_periphery) against the torch stages, same seed, over every
    IOConfig switch (noise and bound management, saturation test, DAC and ADC bits, input,
    weight and output noise, non-unit DAC range, a bound that saturates often), both
    directions, batches of 1 and 5 with an all-zero row: equal bit for bit, re-reads of the
    saturated samples included (asserted to happen); a NaN input takes the torch path. Half the
    fast reads keep their scratch arrays in one dict over the whole grid (as a tile does): no
    read's output is touched by a later read's."""
    torch_read = fast_periphery.supports
    g = gen(5)
    reads = bound_managed = 0
    kept, outputs = {}, []
    grid = [(nm, bm, sat, bits, noises, bounds)
            for nm in ("abs_max", "none") for bm in ("iterative", "none")
            for sat in ("above", "full_scale") for bits in ((7, 9), (0, 0), (8, 6))
            for noises in ((0.0, 0.0, 0.06), (0.05, 0.02, 0.1)) for bounds in ((1.0, 12.0), (0.7, 2.0))]
    for nm, bm, sat, (inp_bits, out_bits), (inp_noise, w_noise, out_noise), (b_in, b_out) in grid:
        io = IOConfig(noise_management=nm, bound_management=bm, saturation=sat, inp_bits=inp_bits,
                      out_bits=out_bits, inp_noise=inp_noise, w_noise=w_noise, out_noise=out_noise,
                      inp_bound=b_in, out_bound=b_out if out_bits else INF)
        for batch in (1, 5):
            x = torch.randn(batch, 30, generator=g, dtype=dtype)
            if batch > 1:
                x[1] = 0.0
            w = torch.randn(20, 30, generator=g, dtype=dtype) * 0.4
            for direction in ("forward", "backward"):
                seed = int(torch.randint(0, 2**31, (1,), generator=g))
                sizes = _count_read_rows(monkeypatch)
                fast = analog_mvm(x, w, io, gen(seed), direction,
                                  kept if (reads + batch) % 2 else None)
                bound_managed += len(sizes) > 1
                monkeypatch.setattr(fast_periphery, "supports", lambda *a: False)
                slow = analog_mvm(x, w, io, gen(seed), direction)
                monkeypatch.setattr(fast_periphery, "supports", torch_read)
                assert fast.dtype == dtype and torch.equal(fast, slow), (io, batch, direction)
                outputs.append((fast, slow))
                reads += 1
    assert reads == len(grid) * 4 and bound_managed >= 20
    assert [key[1:] for key in kept] == [(30, 20)]   # one set, remade as the batch changes
    assert all(torch.equal(fast, slow) for fast, slow in outputs)
    x = torch.randn(3, 30, generator=g, dtype=dtype)
    x[2, 4] = float("nan")
    io = IOConfig()
    assert fast_periphery.first_read(x, w.T, io, periphery_module._plan(io), gen(), True) is None
    assert torch.isnan(analog_mvm(x, w, io, gen(1))[2]).all()


def test_a_read_records_no_gradient_but_a_perfect_read_does():
    """Through the periphery the read is quantised: under autograd it is the read of the
    detached inputs and records nothing; a perfect read stays x Wᵀ with its gradient."""
    io = PeripheryConfig.paper().forward.replace(inp_noise=0.05, w_noise=0.02)
    x = rand(5, 6, seed=1).requires_grad_()
    w = rand(3, 6, seed=2).requires_grad_()
    y = analog_mvm(x, w, io, gen(4))
    assert not y.requires_grad
    assert torch.equal(y, analog_mvm(x.detach(), w.detach(), io, gen(4)))
    exact = analog_mvm(x, w, PeripheryConfig.ideal().forward, gen())
    exact.sum().backward()
    assert torch.equal(x.grad, w.detach().sum(0).expand(5, 6))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_read_stays_on_the_device():
    cuda_gen = torch.Generator(device="cuda").manual_seed(0)
    x = rand(8, 6, scale=3.0).cuda()
    w = rand(2, 4, 6, seed=1).cuda()
    y = analog_mvm(x, w, PeripheryConfig.paper().forward, cuda_gen)
    assert y.device.type == "cuda" and y.dtype == F64 and y.shape == (2, 8, 4)
