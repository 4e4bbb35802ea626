"""TT-v2, c-TTv2 and AGAD: buffer, threshold, chopper and transfer logic on hand-worked sequences.

Devices are ideal (F ≡ 1, G ≡ 0) with Δw_min = 0.1, so the expected update is exact and a pulsed
BL-1 write moves an element by exactly one Δw_min: every number below is worked out by hand
from the pseudo-code of §7 of the AIMC reference. Float comparisons use atol 1e-12 (sums of a
few float64 terms of order 1; the thresholds in the sequences are never within 1e-12 of a value).
"""

import io

import pytest
import torch

from analogsgd.crossbar import AnalogTile, TileConfig, UpdateConfig
from analogsgd.devices import IdealDevice
from analogsgd.errors import ConfigError
from analogsgd.optim import DigitalSGD, registry
from analogsgd.optim.buffer import DigitalBuffer
from analogsgd.optim.chopper import Chopper
from analogsgd.problems import LeastSquares, run_least_squares

F64 = torch.float64
ATOL = 1e-12
KINDS = ("tiki_taka_v2", "chopped_tiki_taka", "agad")


def close(actual, expected):
    torch.testing.assert_close(actual, torch.as_tensor(expected, dtype=F64), rtol=0, atol=ATOL)


def build(kind, shape=(2, 3), mode="expected", dw=0.1, seed=0, **fields):
    cfg = registry.config(kind, **fields)
    base = TileConfig(device=IdealDevice(dw_min=dw), update=UpdateConfig(mode=mode))
    tiles = tuple(AnalogTile(shape, cfg.tile_config(role, base),
                             torch.Generator().manual_seed(seed + k), dtype=F64)
                  for k, role in enumerate(cfg.roles()))
    return cfg.build(tiles, generator=torch.Generator().manual_seed(seed + 10))


# -- the buffer -------------------------------------------------------------------------------
@pytest.mark.parametrize("forget, want", [(True, [0.6, 0.12, 0.72]), (False, [0.6, 0.3, 0.9])])
def test_buffer_after_three_transfers_with_momentum(forget, want):
    """thr 1, momentum 0.1, +0.6 three times: 0.6 (n 0); 1.2 → n 1 and H = 0.1·1.2 = 0.12
    (forget) or 1.2 − 0.9·1 = 0.3; then 0.72 or 0.9 (n 0)."""
    buf = DigitalBuffer((1, 1), 1.0, 0.1, forget, max_steps=1, dtype=F64)
    ns = []
    for k in range(3):
        ns.append(float(buf.accumulate(torch.tensor([0]), torch.full((1, 1), 0.6, dtype=F64))))
        close(buf.H[0, 0], want[k])
    assert ns == [0.0, 1.0, 0.0]


def test_buffer_clamps_n_to_L_truncates_towards_zero_and_caps():
    """ω = (3.7, −1.5, 0.95) with thr 1, L 2, subtract, momentum 0, cap 0.5 (bound 1): n = (2, −1,
    0); H = (3.7 − 2 → capped 1.0, −1.5 + 1 = −0.5, 0.95 uncapped: no transfer there)."""
    buf = DigitalBuffer((3, 1), 1.0, 0.0, False, max_steps=2, cap=0.5, dtype=F64)
    n = buf.accumulate(torch.tensor([0]), torch.tensor([[3.7, -1.5, 0.95]], dtype=F64))
    close(n, [[2.0, -1.0, 0.0]])
    close(buf.H[:, 0], [1.0, -0.5, 0.95])


# -- the chopper ------------------------------------------------------------------------------
def test_regular_chopper_flips_every_column_in_every_Nth_pass():
    """p = 0.5 → N = 2: pass t flips when t mod 2 = 1, so c_in reads +,+ | −,− | −,− | +,+ after
    passes 0..3 (in_size 2); out_chop_prob 1 flips c_out after every pass."""
    c = Chopper((1, 2), 0.5, 1.0, random=False, regular=True, generator=torch.Generator())
    seen = []
    for _ in range(4):
        for i in range(2):
            c.after_read(torch.tensor([i]))
        seen.append((c.c_in.tolist(), float(c.c_out)))
    assert c.period == 2 and c.passes == 4
    assert seen == [([1.0, 1.0], -1.0), ([-1.0, -1.0], 1.0), ([-1.0, -1.0], -1.0), ([1.0, 1.0], 1.0)]


def test_random_chopper_with_p_one_flips_at_every_read_per_replica():
    c = Chopper((3, 2, 2), 1.0, 0.0, random=True, regular=False, generator=torch.Generator())
    c.after_read(torch.tensor([0]))
    assert c.c_in.tolist() == [[-1.0, 1.0]] * 3 and c.flipped[:, 0].all()
    c.after_read(torch.tensor([1]))
    assert c.c_in.tolist() == [[-1.0, -1.0]] * 3
    assert Chopper((2, 2), 0.0, 0.0, True, True, torch.Generator()).period == 0


# -- TT-v2 ------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["expected", "pulsed"])
def test_tiki_taka_v2_buffer_threshold_and_write(mode):
    """thr = Δw_min(C) = 0.1, lr_tr 1, momentum 0.1, forget. Column 0 of A = (0.25, 0.1):
    ω = (0.25, 0.1) → n = (trunc 2.5 → clamp 1, 1); H = (0.025, 0.01); C[:, 0] = (0.1, 0.1).
    Column 1 = (0.05, 0): below thr, H = (0.05, 0). Column 2 = (−0.31, −0.15): n = (−1, −1),
    H = (−0.031, −0.015). Back at column 0: ω = (0.275, 0.11) → n = (1, 1); C[:, 0] = (0.2, 0.2)."""
    rule = build("tiki_taka_v2", mode=mode, transfer_lr=1.0)
    assert rule.slow.config.update.desired_bl == 1 and not rule.slow.config.update.bl_management
    assert rule.fast.config.update.desired_bl == 5
    rule.fast.set_weight(torch.tensor([[0.25, 0.05, -0.31], [0.1, 0.0, -0.15]], dtype=F64))
    for _ in range(3):
        rule.transfer()
    close(rule.buffer.H, [[0.025, 0.05, -0.031], [0.01, 0.0, -0.015]])
    close(rule.slow.weight, [[0.1, 0.0, -0.1], [0.1, 0.0, -0.1]])
    rule.transfer()
    close(rule.buffer.H[:, 0], [0.0275, 0.011])
    close(rule.slow.weight[:, 0], [0.2, 0.2])


def test_tiki_taka_v2_step_writes_the_gradient_and_transfers_each_step():
    """step_dense(g, β) with A ideal: A = −β g; one column per step at lr_tr = 0.5 (×γ = 0.5 →
    0.25): ω = 0.25·A[:, 0]."""
    rule = build("tiki_taka_v2", transfer_lr=0.5, gamma=0.5, momentum=0.0)
    g = torch.tensor([[-2.0, 0.0, 0.0], [0.2, 0.0, 0.0]], dtype=F64)
    rule.step_dense(g, 0.5)                    # A[:, 0] = (1.0, −0.1); ω = (0.25, −0.025)
    close(rule.fast.weight[:, 0], [1.0, -0.1])
    close(rule.buffer.H[:, 0], [0.0, -0.025])
    close(rule.slow.weight[:, 0], [0.1, 0.0])
    close(rule.weight, rule.slow.weight + 0.5 * rule.fast.weight)
    assert rule.cursor.next_column == 1


# -- c-TTv2 -----------------------------------------------------------------------------------
def test_chopped_write_sign_read_sign_and_the_write_after_a_flip():
    """c_in = (+, −, +), p = 1 (a flip at every read), auto_scale off, s = γ·lr_tr/bg = 0.5·0.8/0.1 = 4.
    A = −(c_out⊗c_in)⊙G; the visible weight with γ = 0.5 is C − 0.5 G (the chopping undone).
    Transfer column 0: ω = 4·(0.25, −0.05) → n = (1, 0), C[:, 0] = (0.1, 0); c_in[0] flips.
    Column 1: ω = 4·(−1)·(0.15, −0.35) = (−0.6, 1.4) → n = (0, 1), the unchopped sign.
    The next write has c_in = (−, −, +): A[:, 0] += G[:, 0] → 0 (the old content cancels)."""
    rule = build("chopped_tiki_taka", transfer_lr=0.8, gamma=0.5, auto_scale=False,
                 in_chop_prob=1.0, transfer_every=1000)
    rule.set_array("c_in", torch.tensor([1.0, -1.0, 1.0], dtype=F64))
    G = torch.tensor([[-0.25, 0.15, 0.0], [0.05, -0.35, 0.0]], dtype=F64)
    rule.step_dense(G, 1.0)
    close(rule.fast.weight, [[0.25, 0.15, 0.0], [-0.05, -0.35, 0.0]])
    close(rule.weight, -0.5 * G)
    x = torch.eye(3, dtype=F64)
    close(rule.forward(x), (-0.5 * G).T)
    rule.transfer()
    close(rule.slow.weight[:, 0], [0.1, 0.0])
    close(rule.buffer.H[:, 0], [0.0, -0.2])
    assert rule.chopper.c_in.tolist() == [-1.0, -1.0, 1.0]
    rule.transfer()
    close(rule.slow.weight[:, 1], [0.0, 0.1])
    close(rule.buffer.H[:, 1], [-0.6, 0.0])
    rule.set_array("c_in", torch.tensor([-1.0, -1.0, 1.0], dtype=F64))
    rule.step_dense(G, 1.0)
    close(rule.fast.weight, [[0.0, 0.3, 0.0], [0.0, -0.7, 0.0]])


def test_chopped_step_chops_both_sides_and_auto_scales():
    """Batch of one, x = (1, 0, −2), d = (0.5, −1), c_in = (+, −, +), c_out = (−, +).
    m_x = 2, m_d = 1 (first values initialise), count_lr = lr·BL·Δw_min/(m_x m_d) = 1·5·0.1/2 = 0.25:
    A = −0.25·(c_out⊙d)ᵀ(c_in⊙x)."""
    rule = build("chopped_tiki_taka", transfer_every=1000)
    rule.set_array("c_in", torch.tensor([1.0, -1.0, 1.0], dtype=F64))
    rule.set_array("c_out", torch.tensor([-1.0, 1.0], dtype=F64))
    x, d = torch.tensor([[1.0, 0.0, -2.0]], dtype=F64), torch.tensor([[0.5, -1.0]], dtype=F64)
    rule.step(x, d, 1.0)
    xc, dc = x * torch.tensor([1.0, -1.0, 1.0]), d * torch.tensor([-1.0, 1.0])
    close(rule.fast.weight, -0.25 * dc.T @ xc)
    close(rule.m_x, 2.0)
    close(rule.m_d, 1.0)
    rule.step(2 * x, d, 1.0)                   # m_x ← 0.99·2 + 0.01·4 = 2.02
    close(rule.m_x, 2.02)
    with pytest.raises(ConfigError, match="c_in"):
        rule.set_array("c_in", torch.tensor([1.0, 0.5, 1.0], dtype=F64))


def test_chopped_transfer_every_in_matvecs_and_from_n_states():
    """transfer_every 2 mat-vecs: a batch of 5 is followed by 2 transfers; transfer_every −2 on a
    device of 40 states and in_size 4: round(40/4·2) = 20."""
    rule = build("chopped_tiki_taka", transfer_every=2)
    rule.step(torch.ones(5, 3, dtype=F64), torch.ones(5, 2, dtype=F64), 0.1)
    assert rule.cursor.next_column == 2
    cfg = registry.config("chopped_tiki_taka", transfer_every=-2)
    base = TileConfig(device=IdealDevice(dw_min=0.05, tau_min=-1.0, tau_max=1.0))
    fast = AnalogTile((2, 4), base, 0, dtype=F64)
    assert cfg.transfer_period(fast) == 20
    with pytest.raises(ConfigError, match="transfer_every"):
        cfg.transfer_period(AnalogTile((2, 4), TileConfig(device=IdealDevice()), 0))
    with pytest.raises(ConfigError, match="transfer_every"):
        registry.config("chopped_tiki_taka", transfer_every=0)


# -- AGAD -------------------------------------------------------------------------------------
def test_agad_reference_running_mean_and_write_gating():
    """p = 0.5 → N = 2, β = min(5/2, 1) = 1 (P is the last read), s = 0.1/0.1 = 1, every column
    of A = z = (0.6, 0.3). Pass 0: ω = (0.6, 0.3). Pass 1: ω = (1.2, 0.6) → n = (1, 0), H = (0,
    0.6), no write (passes 1 ≤ N); c_in flips. Pass 2: P_ref ← P = z, ω = H + 0 (the offset is
    cancelled). Pass 3: the same; c_in flips back. Then A = z + (1.2, −0.5): pass 4 takes P_ref = z
    again (flip at pass 3), ω = (1.2, 0.1) → n = (1, 0), written now (passes 4 > N)."""
    rule = build("agad", transfer_lr=0.1, auto_scale=False, in_chop_prob=0.5)
    z = torch.tensor([0.6, 0.3], dtype=F64)
    rule.fast.set_weight(z[:, None].expand(2, 3))
    H = []
    for _ in range(4):
        for _ in range(3):
            rule.transfer()
        H.append(rule.buffer.H[:, 0].clone())
    for k, want in enumerate([[0.6, 0.3], [0.0, 0.6], [0.0, 0.6], [0.0, 0.6]]):
        close(H[k], want)
    close(rule.slow.weight, torch.zeros(2, 3))
    close(rule.reference, z[:, None].expand(2, 3))
    assert rule.chopper.c_in.tolist() == [1.0, 1.0, 1.0]
    rule.fast.set_weight((z + torch.tensor([1.2, -0.5], dtype=F64))[:, None].expand(2, 3))
    for _ in range(3):
        rule.transfer()
    close(rule.buffer.H[:, 0], [0.0, 0.1])
    close(rule.slow.weight, [[0.1] * 3, [0.0] * 3])
    close(rule.running_mean[:, 0], z + torch.tensor([1.2, -0.5], dtype=F64))
    assert set(rule.arrays()) == {"weight", "fast", "slow", "buffer", "c_in", "c_out", "reference",
                                  "running_mean"}


# -- state -------------------------------------------------------------------------------------
def _drive(rule, gen, steps):
    for _ in range(steps):
        rule.step(torch.randn(4, 3, generator=gen, dtype=F64),
                  torch.randn(4, 2, generator=gen, dtype=F64), 0.3)


@pytest.mark.parametrize("kind", KINDS)
def test_state_dict_round_trip_mid_run_continues_bit_identically(kind):
    """Pulsed tiles, random choppers where the rule has them: save after 6 steps, load into a
    rule built from other seeds, 6 more steps on both: every array equal bit for bit."""
    extra = {} if kind == "tiki_taka_v2" else {"in_chop_prob": 0.3, "transfer_every": 2}
    if kind == "agad":
        extra["in_chop_random"] = True
    a = build(kind, mode="pulsed", dw=0.05, transfer_lr=0.5, **extra)
    b = build(kind, mode="pulsed", dw=0.05, seed=7, transfer_lr=0.5, **extra)
    _drive(a, torch.Generator().manual_seed(1), 6)
    blob = io.BytesIO()
    torch.save(a.state_dict(), blob)
    blob.seek(0)
    b.load_state_dict(torch.load(blob, weights_only=True))
    for rule in (a, b):
        _drive(rule, torch.Generator().manual_seed(2), 6)
    arrays_a, arrays_b = a.arrays(), b.arrays()
    assert set(arrays_a) == set(arrays_b)
    for name in arrays_a:
        assert torch.equal(arrays_a[name], arrays_b[name]), name
    assert a.slow.weight.abs().sum() > 0


# -- least squares ----------------------------------------------------------------------------
def _plateau(rule, problem):
    traj = run_least_squares(rule, problem, 1500, 0.05, 3, record_every=10, lr=0.1)
    return float(traj.tail_mean(traj.loss, 0.2)), float(traj.loss[0])


@pytest.mark.parametrize("kind, fields, factor", [
    ("tiki_taka_v2", {"transfer_lr": 0.1, "gamma": 0.5}, 3.0),
    ("chopped_tiki_taka", {"transfer_lr": 0.5, "gamma": 1.0, "in_chop_prob": 0.01}, 3.0),
    ("agad", {"transfer_lr": 0.5, "gamma": 0.5, "in_chop_prob": 0.05}, 20.0),
])
def test_least_squares_on_ideal_devices_approaches_digital_sgd(kind, fields, factor):
    """8×6 least squares, gradient noise σ = 0.05, β = 0.1, 1500 steps, Δw_min = 1e-3: the
    plateau (mean of the last 20 %) must be within ``factor`` of digital SGD's at α = 0.1
    (measured: TT-v2 0.64×, c-TTv2 1.9×, AGAD 12×: the chopper's sign flips leave AGAD's fast
    tile, an integrator on an ideal device, with the most residual error) and below 10 % of the
    initial loss."""
    problem = LeastSquares.random(8, 6, 64, 0.3, 1)
    digital, _ = _plateau(DigitalSGD(torch.zeros(6, 8, dtype=F64)), problem)
    rule = build(kind, shape=(6, 8), dw=1e-3, auto_scale=False, **fields) if kind != "tiki_taka_v2" \
        else build(kind, shape=(6, 8), dw=1e-3, **fields)
    plateau, initial = _plateau(rule, problem)
    assert plateau < factor * digital
    assert plateau < 0.1 * initial


@pytest.mark.parametrize("kind", ["chopped_tiki_taka", "agad"])
def test_a_steps_transfers_in_runs_equal_one_column_transfers_in_sequence(kind):
    """Batch 7 on a 2×3 tile at one transfer per mat-vec: 7 transfers, done as runs of
    consecutive columns (cursor 0: columns 0–2 | 0–2 | 0). The same step with the gradient write
    alone and then seven one-column transfers gives the same A, C, buffer, chopper signs and
    (AGAD) reference and running mean: expected mode, exact reads and regular flips (p = 0.5, a
    flip every second pass), so both are deterministic; 1e-12 is float64 rounding."""
    fields = {"transfer_lr": 0.7, "gamma": 0.5, "auto_scale": False, "in_chop_prob": 0.5}
    if kind == "chopped_tiki_taka":
        fields["in_chop_random"] = False
    runs, seq = build(kind, dw=0.05, **fields), build(kind, dw=0.05, **fields)

    def one_at_a_time(batch, lr, initial_lr):          # seq: the due transfers one by one
        for _ in range(seq.cursor.due(batch)):
            seq.transfer(0.7)
    seq._after_step = one_at_a_time
    gen = torch.Generator().manual_seed(3)
    for _ in range(3):
        x = torch.randn(7, 3, generator=gen, dtype=F64)
        d = torch.randn(7, 2, generator=gen, dtype=F64)
        runs.step(x, d, 0.1)
        seq.step(x, d, 0.1)
    a, b = runs.arrays(), seq.arrays()
    assert set(a) == set(b)
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=1e-12, msg=name)
    assert runs.chopper.passes == seq.chopper.passes == 7
    assert bool((runs.chopper.c_in < 0).any())                  # the flips did happen


# -- the column read -----------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(12, 9), (3, 12, 9)])
def test_column_read_of_the_named_columns_is_the_full_read(shape):
    """read_columns given the columns (only those columns of W read) gives the numbers of the
    read through the whole matrix, bit for bit and with the same draws, on a zero-shifted tile
    (non-zero reference) and replicas, for a perfect read, aihwkit's default and the transfer
    periphery, a bound that saturates (re-reads), weight noise; with input noise (which the
    full read draws for every input) it reads the whole matrix."""
    from analogsgd.crossbar import IOConfig
    from analogsgd.devices import DeviceVariation, SoftBounds
    from analogsgd.optim.transfer import one_hot, read_columns

    variation = DeviceVariation(zero_shift=True, tau_max_d2d=0.3, up_down_d2d=0.1)
    peripheries = (IOConfig(is_perfect=True), IOConfig(),
                   IOConfig(noise_management="none", bound_management="none"),
                   IOConfig(out_bound=0.3), IOConfig(w_noise=0.02), IOConfig(inp_noise=0.1))
    g = torch.Generator().manual_seed(3)
    for periphery in peripheries:
        for columns in (torch.tensor([3]), torch.tensor([7, 8, 0]), torch.arange(9)):
            tile = AnalogTile(shape, TileConfig(device=SoftBounds(), variation=variation), 5)
            tile.set_weight(torch.rand(shape, generator=g) - 0.5)
            assert not tile._reference_is_zero()
            eye = one_hot(tile, columns)
            state = tile.generator.get_state()
            full = read_columns(tile, eye, periphery)
            after = tile.generator.get_state()
            tile.generator.set_state(state)
            assert torch.equal(read_columns(tile, eye, periphery, columns), full), (periphery, columns)
            assert torch.equal(tile.generator.get_state(), after)  # the same draws
