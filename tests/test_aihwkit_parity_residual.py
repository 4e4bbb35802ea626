"""Residual learning's chained transfers against aihwkit 1.2.0's multi-device TransferCompound
(tests/data/aihwkit/residual.json, recorded by tools/aihwkit/record_residual.py).

The mapping (docs/rules.md, "Residual learning against aihwkit"): our tile n is aihwkit's
device N−1−n (hidden_weights_{N−1−n}), our transfer i its transfer j = i (device i → i + 1),
γⁿ its gamma_vec[N−1−n], T_i and β_i its transfer_every_vec[i] (mini-batches) and
transfer_lr_vec[i] (absolute), the step's rate its fast_lr (absolute); warm_start=False (aihwkit
1.2.0 has no warm start). Every read is perfect, so our per-tile reads and aihwkit's one read of
Σ γ_k W_k give the same numbers.

Four kinds of test:

* the fixture against the closed-form expectation of one update on constant-step devices
  (where the pulsed write is linear in expectation), including the order of the writes;
* our rule against the fixture: the same warm-up, state and update on R replicas, the mean and
  variance per element of the change of every tile and of the visible weight;
* reads, where the two differ deliberately: aihwkit reads Σ γ_k W_k once (checked against one
  analog_mvm of that weight), our TileStack reads each tile (its output noise measured against
  σ·(Σ γ²ⁿ)^½);
* short training curves against aihwkit's, seed-to-seed t test on log10 MSE.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from test_aihwkit_parity import io_config, read_mismatches, summary
from test_aihwkit_parity_rules import (
    F32,
    Z,
    compare,
    curves_disagree,
    f32,
    regression_curve,
    t64,
    tile_config,
)

from analogsgd.crossbar.periphery import IOConfig, PeripheryConfig, analog_mvm
from analogsgd.crossbar.tile import AnalogTile
from analogsgd.optim import registry
from analogsgd.rng import torch_generator

DATA = json.loads((Path(__file__).parent / "data" / "aihwkit" / "residual.json").read_text())
STEPS = DATA["steps"]
CURVES = DATA["curves"]
REPEATS = 3000
OUR_SEEDS = 6
OUT_SIZE, IN_SIZE = 4, 3


def ids(cases: list[dict]) -> list[str]:
    return [c["name"] for c in cases]


def hidden(k: int) -> str:
    return f"hidden_weights_{k}"


def rule_config(fields: dict, **extra):
    """The TransferCompound fields as our residual config: N = len(gamma_vec), γ from the ratio
    of consecutive gains, the first N − 1 periods and rates (the last device transfers nowhere)."""
    g = fields["gamma_vec"]
    n = len(g)
    gamma = g[0] / g[1]
    assert all(abs(g[k] - gamma ** (n - 1 - k)) < 1e-12 for k in range(n)), g
    assert fields["transfer_every_vec"][-1] == 0 and fields["units_in_mbatch"]
    assert not fields["scale_transfer_lr"] and not fields["scale_fast_lr"]
    assert fields["n_reads_per_transfer"] == 1
    return registry.config("residual", n_tiles=n, gamma=gamma,
                           transfer_every=[int(t) for t in fields["transfer_every_vec"][:-1]],
                           transfer_lr=list(fields["transfer_lr_vec"][:-1]), warm_start=False,
                           **extra)


# -- the fixture against the closed form ---------------------------------------------------------

def expected_step(case: dict, order=(0, 1)) -> dict:
    """E of the change of every device on constant-step devices (float64 of aihwkit's float32
    inputs): the gradient write on device 0, E ΔW_0 = −fast_lr d xᵀ, then transfer j adds
    β_j · (device j after the writes before it)[:, c_j] to column c_j of device j + 1. Every
    pulse train has p ≤ 1 (BL management), so the mean pulse count is exactly the rate asked for,
    and a constant step moves Δw_min per pulse: the mean is linear. ``order``: the order the
    transfers run in (aihwkit's is 0, 1)."""
    f = case["fields"]
    w = {k: f32(case["set"][hidden(k)]) for k in range(3)}
    delta = {k: torch.zeros(OUT_SIZE, IN_SIZE, dtype=torch.float64) for k in range(3)}
    delta[0] = -f["fast_lr"] * torch.outer(f32(case["d"]), f32(case["x"]))
    for j in order:
        c = case["columns"][j]
        delta[j + 1][:, c] += f["transfer_lr_vec"][j] * (w[j] + delta[j])[:, c]
    delta["dW"] = sum(g * delta[k] for k, g in enumerate(f["gamma_vec"]))
    return delta


def recorded(case: dict) -> dict:
    out = {k: case["delta"][hidden(k)] for k in range(3)}
    out["dW"] = case["dW"]
    return out


def mean_deviations(case: dict, expect: dict) -> dict:
    """|recorded mean − expected| in standard errors of the recorded mean (+ float32 slack)."""
    n = case["repeats"]
    out = {}
    for k, ref in recorded(case).items():
        se = (t64(ref["var"]) / n).sqrt() + F32
        out[k] = ((t64(ref["mean"]) - expect[k]).abs() / se)
    return out


CONSTANT = [c for c in STEPS if c["device"]["family"] == "constant_step"]


@pytest.mark.parametrize("case", CONSTANT, ids=ids(CONSTANT))
def test_fixture_step_follows_the_closed_form(case):
    """aihwkit's mean change of every device and of the visible weight is the closed form of
    expected_step within Z = 4.5 standard errors of the recorded mean (2000 repeats) plus
    float32 slack; the columns the transfers wrote are the recorded ones, every other column of
    devices 1 and 2 is exactly unchanged. Where both transfers use one column, the reversed
    order (transfer 1 reading device 1 before transfer 0 wrote it) is rejected by > 10 SE."""
    z = mean_deviations(case, expected_step(case))
    bad = {k: v.max().item() for k, v in z.items() if (v > Z).any()}
    assert not bad, bad
    for k in (1, 2):
        c = case["columns"][k - 1]
        rest = [i for i in range(IN_SIZE) if i != c]
        ref = case["delta"][hidden(k)]
        assert (t64(ref["mean"])[:, rest] == 0).all() and (t64(ref["var"])[:, rest] == 0).all()
        assert (t64(ref["mean"])[:, c] != 0).all()
    if case["columns"][0] == case["columns"][1]:
        z_rev = mean_deviations(case, expected_step(case, order=(1, 0)))
        assert z_rev[2].max() > 10, z_rev[2].max()


def test_fixture_visible_weight_is_the_weighted_sum():
    """The recorder checked W = Σ γ_k W_k per repeat; the means say it again: the mean ΔW is
    Σ γ_k mean ΔW_k to float32 rounding (linear, so exact up to the 9-decimal rounding)."""
    for case in STEPS:
        g = case["fields"]["gamma_vec"]
        total = sum(gk * t64(case["delta"][hidden(k)]["mean"]) for k, gk in enumerate(g))
        assert torch.allclose(t64(case["dW"]["mean"]), total, atol=1e-6), case["name"]


# -- our rule against the fixture ------------------------------------------------------------------

def build(case: dict, replicas: int, seed: int, periphery: PeripheryConfig | None = None,
          **extra):
    """Our rule on ``replicas`` replicas of the case's 4×3 tiles, every tile of the case's device
    with the fixture's update (aihwkit's gradient and transfer writes: BL 31, both managements)
    and ``periphery`` (default perfect reads); ``extra``: more residual config fields."""
    cfg = rule_config(case["fields"], **extra)
    grad = {"desired_bl": 31, "update_bl_management": True, "update_management": True}
    base = tile_config(case["device"], grad)
    if periphery is not None:
        base = base.replace(periphery=periphery)
    shape = (replicas, OUT_SIZE, IN_SIZE)
    tiles = tuple(AnalogTile(shape, cfg.tile_config(role, base), torch_generator(seed + k))
                  for k, role in enumerate(cfg.roles()))
    return cfg.build(tiles, generator=torch_generator(seed + 10))


def our_step(case: dict, replicas: int = REPEATS, seed: int = 70) -> dict:
    """The case on ``replicas`` replicas: warm-up (x = 1, d = 0), the state set (device k onto
    our tile N−1−k), one step at fast_lr; the change of every device (by aihwkit's index) and of
    the visible weight, float64 (R, 4, 3)."""
    rule = build(case, replicas, seed)
    n = rule.config.n_tiles
    ones, zeros = torch.ones(replicas, 1, IN_SIZE), torch.zeros(replicas, 1, OUT_SIZE)
    lr = case["fields"]["fast_lr"]
    for _ in range(case["warmup"]):
        rule.step(ones, zeros, lr)
    for k in range(n):
        rule.set_array(f"tile{n - 1 - k}", torch.tensor(case["set"][hidden(k)]).expand(
            replicas, OUT_SIZE, IN_SIZE))
    before = rule.arrays()
    x = torch.tensor(case["x"]).expand(replicas, 1, IN_SIZE)
    d = torch.tensor(case["d"]).expand(replicas, 1, OUT_SIZE)
    rule.step(x, d, lr)
    after = rule.arrays()
    out = {k: after[f"tile{n - 1 - k}"].double() - before[f"tile{n - 1 - k}"].double()
           for k in range(n)}
    out["dW"] = after["weight"].double() - before["weight"].double()
    return out


@pytest.mark.parametrize("case", STEPS, ids=ids(STEPS))
def test_single_step_with_both_transfers_matches_aihwkit(case):
    """One step in which both transfers fire, from the same state as aihwkit: per element, the
    mean and variance of the change of every tile and of W̄ (test_aihwkit_parity_rules.compare:
    means within Z = 4.5 standard errors of the difference √(v_a/N_a + v/N) + float32 slack,
    variances within 5 % or Z standard errors from both sides' fourth moments); 3000 replicas
    here, 2000 repeats there. On constant-step devices our means also follow the closed form
    (Z standard errors of our mean)."""
    ours = our_step(case)
    problems = []
    for k in range(3):
        problems += compare(f"tile{2 - k}", ours[k], case["delta"][hidden(k)], case["repeats"])
    problems += compare("W", ours["dW"], case["dW"], case["repeats"])
    assert not problems, "\n".join(problems)
    if case["device"]["family"] == "constant_step":
        expect = expected_step(case)
        for k, got in ours.items():
            se = (got.var(0) / got.shape[0]).sqrt() + F32
            z = ((got.mean(0) - expect[k]).abs() / se).max().item()
            assert z <= Z, (k, z)


# -- reads: aihwkit reads Σ γ_k W_k once, analogsgd each tile -------------------------------------

READS = DATA["reads"]
READ_REPEATS = 2000


def visible(state: dict, gammas: list) -> torch.Tensor:
    return sum(g * f32(state[hidden(k)]) for k, g in enumerate(gammas)).float()


def read_case(setting: str, direction: str):
    io = io_config(READS["settings"][setting]["io"], direction)
    inp = torch.tensor(READS["X" if direction == "forward" else "D"], dtype=torch.float32)
    return io, inp


@pytest.mark.parametrize("direction", ["forward", "backward"])
@pytest.mark.parametrize("setting", sorted(READS["settings"]))
def test_fixture_compound_reads_the_visible_weight_once(setting, direction):
    """aihwkit's reads of the compound have the statistics of one read of W = Σ γ_k W_k through
    the setting's periphery (analog_mvm on W; the tolerances of test_aihwkit_parity's
    read_mismatches, from both sides' sampling errors)."""
    io, inp = read_case(setting, direction)
    w = visible(READS["state"], READS["fields"]["gamma_vec"])
    wr = w if direction == "forward" else w.T
    reads = analog_mvm(inp.expand(READ_REPEATS, *inp.shape), wr, io, torch_generator(23),
                       direction=direction)
    problems = read_mismatches(f"{setting} {direction}", READS["settings"][setting][direction],
                               READS["repeats"], reads, inp.double() @ wr.double().T, wr, io)
    assert not problems, "\n".join(problems)


def stack_reads(setting: str, direction: str, replicas: int = READ_REPEATS,
                combined: bool = False) -> torch.Tensor:
    """Our residual rule's reads (TileStack: each tile through its own periphery; ``combined``:
    combined_read=True) of the reads fixture's state on ``replicas`` replicas, (R, B, n)."""
    _, inp = read_case(setting, direction)
    case = {"fields": READS["fields"], "device": READS["device"]}
    periphery = PeripheryConfig(forward=io_config(READS["settings"][setting]["io"], "forward"),
                                backward=io_config(READS["settings"][setting]["io"], "backward"))
    rule = build(case, replicas, seed=90, periphery=periphery, combined_read=combined)
    n = rule.config.n_tiles
    for k in range(n):
        rule.set_array(f"tile{n - 1 - k}", torch.tensor(READS["state"][hidden(k)]).expand(
            replicas, OUT_SIZE, IN_SIZE))
    batch = inp.expand(replicas, *inp.shape)
    with torch.no_grad():
        return rule.forward(batch) if direction == "forward" else rule.backward(batch)


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_stack_read_noise_is_the_gain_weighted_sum_of_the_tiles(direction):
    """The stated difference, measured: under output noise σ alone our residual read of W̄ x
    has noise std σ·(Σ_n γ²ⁿ)^½ (each tile adds its own σ, scaled by its gain), aihwkit's σ.
    Pooled over the outputs and samples (B·n·R draws) the std has relative error ≤
    1/√(2·B·n·R) < 0.4 % per side; tolerance Z of those, and the two differ by > 10 of them."""
    ref = READS["settings"]["out_noise"]
    sigma = ref["io"]["out_noise"]
    g2 = sum(g * g for g in READS["fields"]["gamma_vec"])
    _, inp = read_case("out_noise", direction)
    w = visible(READS["state"], READS["fields"]["gamma_vec"])
    wr = w if direction == "forward" else w.T
    reads = stack_reads("out_noise", direction)
    ours = summary(reads, inp.double() @ wr.double().T)["noise_std"].square().mean().sqrt()
    theirs = t64(ref[direction]["noise_std"]).square().mean().sqrt()
    draws = reads.shape[1] * reads.shape[2]
    rel = (1 / (2 * draws * reads.shape[0])) ** 0.5
    rel_a = (1 / (2 * draws * READS["repeats"])) ** 0.5
    assert abs(ours / (sigma * g2 ** 0.5) - 1) < Z * rel, ours
    assert abs(theirs / sigma - 1) < Z * rel_a, theirs
    assert abs(ours / theirs - 1) > 10 * (rel + rel_a)


@pytest.mark.parametrize("direction", ["forward", "backward"])
@pytest.mark.parametrize("setting", sorted(READS["settings"]))
def test_combined_read_matches_aihwkit(setting, direction):
    """combined_read=True: our rule reads W̄ once through tile 0's periphery, and its read
    statistics match aihwkit's compound read (read_mismatches' tolerances) under output noise
    alone and under aihwkit's default IO."""
    io, inp = read_case(setting, direction)
    w = visible(READS["state"], READS["fields"]["gamma_vec"])
    wr = w if direction == "forward" else w.T
    reads = stack_reads(setting, direction, combined=True)
    problems = read_mismatches(f"{setting} {direction}", READS["settings"][setting][direction],
                               READS["repeats"], reads, inp.double() @ wr.double().T, wr, io)
    assert not problems, "\n".join(problems)


# -- short training curves -------------------------------------------------------------------------

def our_curve(name: str, seed: int, combined: bool = True) -> list[float]:
    """record_residual's curve on an analogsgd AnalogLinear (no bias, weight 0: every tile 0)
    with our residual config of the fixture's fields, the fixture's device and update on every
    tile, and AnalogOptimizer at fast_lr. A case with an IO setting reads through it
    (``combined``: combined_read, as aihwkit) with perfect transfer reads, as recorded."""
    from analogsgd.nn import AnalogLayerConfig, AnalogLinear, AnalogOptimizer

    spec, entry = CURVES["spec"], CURVES["cases"][name]
    fields, io = entry["fields"], entry.get("io")
    extra = {}
    tile = tile_config(CURVES["device"], CURVES["gradient_update"])
    if io is not None:
        extra = {"combined_read": combined, "transfer_forward": IOConfig(is_perfect=True)}
        tile = tile.replace(periphery=PeripheryConfig(forward=io_config(io, "forward"),
                                                      backward=io_config(io, "backward")))
    cfg = rule_config(fields, **extra)
    model = AnalogLinear(spec["in_size"], spec["out_size"], bias=False,
                         config=AnalogLayerConfig(rule=cfg, tile=tile), generator=seed)
    model.set_weights(torch.zeros(spec["out_size"], spec["in_size"]))
    opt = AnalogOptimizer(model.parameters(), lr=fields["fast_lr"])
    return regression_curve(model, opt, spec, seed)


def test_fixture_curves_learn():
    """aihwkit's residual runs reduce the test MSE by more than 10× in 400 steps (a learning
    run, not a frozen or diverged one)."""
    for name, entry in CURVES["cases"].items():
        runs = t64(entry["runs"])
        assert (runs[:, -1] < 0.1 * runs[:, 0]).all(), name


@pytest.mark.parametrize("name", sorted(CURVES["cases"]))
def test_training_curve_matches_aihwkit(name):
    """log10 test MSE at every evaluation (the last one the final MSE), mean over seeds (6
    here, 6 there): the two tools differ by less than the two-sided 0.1 % quantile of Student's
    t (df 10) times the standard error of the difference from the pooled seed-to-seed variance
    (test_aihwkit_parity_rules.curves_disagree). Under noisy reads step 0 is compared the same
    way (the zero weight reads noise), with perfect reads it must agree seed by seed."""
    exact = CURVES["cases"][name].get("io") is None
    problems = curves_disagree(name, CURVES["cases"][name]["runs"],
                               [our_curve(name, seed) for seed in range(OUR_SEEDS)],
                               CURVES["spec"]["eval_every"], exact_start=exact)
    assert not problems, "\n".join(problems)
