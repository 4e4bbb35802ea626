"""The buffered, chopped, dynamic and mixed-precision rules against aihwkit 1.2.0
(tests/data/aihwkit/rules.json, recorded by tools/aihwkit/record_rules.py).

Two kinds of test:

* the fixture against float64 closed forms of aihwkit's algorithms (§7 of the AIMC reference):
  these run without the rules and check that the fixture records what it says (one transfer of
  the named column, the buffer rule, the chopper signs, χ);
* analogsgd's rules against the fixture: each case rebuilt on R replicas of a 4×3 tile (the same
  warm-up, the same state set, one step), the mean and variance per element of ΔA, ΔC and of the
  buffers compared with tolerances from both sides' sampling errors. A test skips only while its
  rule's kind is not registered.

Names: aihwkit's hidden parameters map onto the rule's arrays() as in ARRAY_NAMES.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from analogsgd.crossbar.tile import AnalogTile, TileConfig, UpdateConfig
from analogsgd.devices import ALL_DEVICES
from analogsgd.devices.variation import DeviceVariation
from analogsgd.optim import registry
from analogsgd.rng import torch_generator

DATA = json.loads((Path(__file__).parent / "data" / "aihwkit" / "rules.json").read_text())
STEPS = {c["name"]: c for c in DATA["steps"]}
#: z-score bound for two sampled statistics (a few hundred comparisons: |z| > 4.5 has
#: probability < 1e-5 per comparison for a true match)
Z = 4.5
#: float32 rounding of the recorded state and arithmetic (values ≤ 1)
F32 = 2e-6
REPEATS = 3000
#: aihwkit hidden parameter → analogsgd rule array
ARRAY_NAMES = {"hidden_weights_0": "fast", "hidden_weights_1": "slow",
               "buffered_FP_weight_0": "buffer", "buffered_FP_weight": "buffer",
               "running_mean_weight": "running_mean", "past_mean_weight": "reference",
               "hidden_weights_chi": "chi"}


def t64(a) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64)


def f32(a) -> torch.Tensor:
    """A recorded number as aihwkit's float32 holds it, in float64."""
    return torch.tensor(a, dtype=torch.float32).double()


def cases(rule: str | None = None) -> list[dict]:
    return [c for c in DATA["steps"] if rule is None or c["rule"] == rule]


def ids(cs: list[dict]) -> list[str]:
    return [c["name"] for c in cs]


# -- the fixture against closed forms ------------------------------------------------------------

def slow_step(case: dict, n: torch.Tensor, w: torch.Tensor, j: int):
    """E and Var of the one-pulse write of n ∈ {−1, 0, 1} onto column j of C at w: aihwkit's
    realised steps (hidden_slow), soft bounds scaled by 1 − w/bound, the c2c noise σ·step."""
    h = {k: f32(v)[:, j] for k, v in case["hidden_slow"].items()}
    up, down = h["dwmin_up"], h["dwmin_down"]
    if case["slow_device"]["family"] == "soft_bounds":
        up = up * (1 - w / h["max_bound"])
        down = down * (1 - w / h["min_bound"])
    step = torch.where(n > 0, up, down) * n.abs()
    mean = torch.sign(n) * step
    return mean, (case["slow_device"]["dw_min_std"] * step) ** 2


def moments_ok(name: str, mean_a, var_a, n_a, mean_e, var_e, atol=F32) -> list[str]:
    """Recorded mean within Z standard errors (√(var/N)) of the expected, variance within 10 %
    (the relative error of a variance from N ≥ 600 Gaussian-like samples is √(2/N) ≤ 6 %; the
    one-pulse c2c noise is Gaussian), both plus float32 slack."""
    bad = []
    dm = (mean_a - mean_e).abs() > Z * (var_e / n_a).sqrt() + atol
    dv = (var_a - var_e).abs() > 0.1 * var_e + atol ** 2
    for i, j in (dm | dv).nonzero().tolist():
        bad.append(f"{name}[{i},{j}]: mean {mean_a[i, j]:.6g} (expected {mean_e[i, j]:.6g}), "
                   f"var {var_a[i, j]:.3g} (expected {var_e[i, j]:.3g})")
    return bad


def buffer_rule(omega: torch.Tensor, thr: float, fields: dict, L: int = 1):
    """n = clamp(trunc(ω/thr), ±L); H = momentum·ω (forget) or ω − (1 − momentum) n thr where
    n ≠ 0 (§7, BufferedTransferCompound / ChoppedTransferCompound)."""
    n = torch.trunc(omega / thr).clamp(-L, L)
    if fields["forget_buffer"]:
        reduced = fields["momentum"] * omega
    else:
        reduced = omega - (1 - fields["momentum"]) * n * thr
    return n, torch.where(n != 0, reduced, omega)


@pytest.mark.parametrize("case", [c for c in cases() if c["zero_d"]],
                         ids=ids([c for c in cases() if c["zero_d"]]))
def test_fixture_single_transfer_follows_the_closed_form(case):
    """d = 0: A is unchanged and the transfer of the case's column is deterministic up to C's
    c2c noise. TT-v2: ω = H + lr_tr z, thr = Δw_min(C); AGAD: ω = H + s (z − P_ref)·c with
    s = lr_tr/Δw_min(A), P_ref ← P first where the column's chopper flipped at its previous read,
    P ← (1 − β) P + β z (β = 1 here); n pulses of C; every other column unchanged."""
    f, st = case["fields"], case["set"]
    a = f32(st["hidden_weights_0"])
    c = f32(st["hidden_weights_1"])
    j = case["column"]
    z = a[:, j]
    lr_tr = f["transfer_lr"] * case["lr"]
    delta = {k: (t64(v["mean"]), t64(v["var"])) for k, v in case["delta"].items()}
    if case["rule"] == "tiki_taka_v2":
        h = f32(st["buffered_FP_weight_0"])
        thr = f["thres_scale"] * case["slow_device"]["dw_min"]
        n, h_after = buffer_rule(h[:, j] + lr_tr * z, thr, f)
        buf = "buffered_FP_weight_0"
        expect = {buf: h_after - h[:, j]}
    else:
        h, p, pref = (f32(st[k]) for k in ("buffered_FP_weight", "running_mean_weight",
                                          "past_mean_weight"))
        s = lr_tr / (f["buffer_granularity"] * 0.01)          # Δw_min(A) = 0.01
        chop = case["in_chopper"][j] * 1.0                    # c_out = +1
        reset = case["name"].endswith("pass_4")
        ref = p[:, j] if reset else pref[:, j]
        n, h_after = buffer_rule(h[:, j] + s * chop * (z - ref), 1.0, f)
        beta = min(f["tail_weightening"] / max(math.ceil(1 / f["in_chop_prob"]), 2), 1.0)
        buf = "buffered_FP_weight"
        expect = {buf: h_after - h[:, j], "running_mean_weight": beta * (z - p[:, j]),
                  "past_mean_weight": ref - pref[:, j]}
    # C += pulses(x = e_j, d = −n): ΔC = +n steps
    m_c, v_c = slow_step(case, n, c[:, j], j)
    problems = []
    full_m, full_v = torch.zeros_like(c), torch.zeros_like(c)
    full_m[:, j], full_v[:, j] = m_c, v_c
    problems += moments_ok("ΔC", *delta["hidden_weights_1"], case["repeats"], full_m, full_v)
    for key, e in expect.items():
        full = torch.zeros_like(c)
        full[:, j] = e
        problems += moments_ok(key, *delta[key], case["repeats"], full, torch.zeros_like(c), 2e-6)
    assert (delta["hidden_weights_0"][0] == 0).all() and (delta["hidden_weights_0"][1] == 0).all()
    assert not problems, "\n".join(problems)


def test_fixture_chopped_write_and_read_carry_the_chopper_sign():
    """c-TTv2 after one pass with in_chop_prob 1: every c_in = −1, so the gradient write onto A
    has the sign of +fast_lr·d xᵀ (the chopped x), and column 0 accumulates
    ΔH = s·(−1)·(A + ΔA)[:, 0] (s = lr_tr/Δw_min(A) = 2) where no pulse was written. Tolerances:
    Z standard errors of the recorded means."""
    case = STEPS["chopped_tiki_taka/chopped"]
    n_a = case["repeats"]
    d_a = case["delta"]["hidden_weights_0"]
    m_a, v_a = t64(d_a["mean"]), t64(d_a["var"])
    x, d = f32(case["x"]), f32(case["d"])
    c_in = t64(case["in_chopper"])
    want = torch.sign(case["fields"]["fast_lr"] * (-torch.outer(d, x * c_in)))
    clear = m_a.abs() > Z * (v_a / n_a).sqrt()
    assert clear.sum() >= 8
    assert torch.equal(torch.sign(m_a)[clear], want[clear])
    s = case["fields"]["transfer_lr"] * case["lr"] / 0.01
    h = case["delta"]["buffered_FP_weight_0"]
    dc = case["delta"]["hidden_weights_1"]
    quiet = (t64(dc["mean"])[:, 0] == 0) & (t64(dc["var"])[:, 0] == 0)
    assert quiet.sum() >= 2
    a0 = f32(case["set"]["hidden_weights_0"])[:, 0]
    expect = -s * (a0 + m_a[:, 0])
    se = Z * s * (v_a[:, 0] / n_a).sqrt() + 1e-5
    got = t64(h["mean"])[:, 0]
    assert ((got - expect).abs() <= se)[quiet].all(), (got, expect)


@pytest.mark.parametrize("case", cases("mixed_precision"), ids=ids(cases("mixed_precision")))
def test_fixture_mixed_precision_chi_and_pulses(case):
    """χ = χ₀ + lr d xᵀ (χ₀ = lr d_w x_wᵀ from the warm-up), n = trunc(χ/ε), χ ← χ − n ε exactly
    (float32); on the constant-step device (no c2c noise) ΔW/ε are whole pulse counts with mean
    −n: BL = max|n| and p = |n_j|/max|n|, q = 1 under update management, so the count is
    Binomial(max|n|, |n_j|/max|n|), variance |n_j|(1 − |n_j|/max|n|) per row. Tolerance Z
    standard errors; variance within 10 % + 0.01 pulse²."""
    eps, lr = case["device"]["dw_min"], case["lr"]
    chi0 = lr * torch.outer(f32(case["warmup_d"]), f32(case["warmup_x"]))
    assert torch.allclose(t64(case["chi_before"]), chi0, atol=F32)
    chi = t64(case["chi_before"]) + lr * torch.outer(f32(case["d"]), f32(case["x"]))
    n = torch.trunc(chi / eps)
    assert torch.allclose(t64(case["chi_after"]["mean"]), chi - n * eps, atol=F32)
    assert max(case["chi_after"]["var"][i][j] for i in range(4) for j in range(3)) == 0
    if case["pulses"] is None:
        return
    m, v = t64(case["pulses"]["mean"]), t64(case["pulses"]["var"])
    top = n.abs().amax(1, keepdim=True).clamp(min=1)
    var_e = n.abs() * (1 - n.abs() / top)
    assert ((m + n).abs() <= Z * (var_e / case["repeats"]).sqrt() + 1e-9).all(), (m, -n)
    assert ((v - var_e).abs() <= 0.1 * var_e + 0.01).all(), (v, var_e)


# -- analogsgd's rules against the fixture ---------------------------------------------------------

def needs(kind: str):
    if kind not in registry.RULES:
        pytest.skip(f"rule {kind!r} is not registered yet")


def analog_device(spec: dict):
    return ALL_DEVICES[spec["family"]](dw_min=spec["dw_min"], tau_min=spec["w_min"],
                                       tau_max=spec["w_max"])


def tile_config(spec: dict, update: dict) -> TileConfig:
    """aihwkit's device (no d2d spread) and UpdateConfig fields; exact Bernoulli trains."""
    return TileConfig(device=analog_device(spec),
                      variation=DeviceVariation(dw_min_c2c=spec.get("dw_min_std", 0.0)),
                      update=UpdateConfig(desired_bl=update["desired_bl"],
                                          bl_management=update["update_bl_management"],
                                          update_management=update["update_management"],
                                          counting="bit_trains"))


def rule_config(rule: str, fields: dict, lr: float, gradient_bl: int):
    """aihwkit's compound fields as the analogsgd rule config (transfer_lr·lr absolute: aihwkit
    scales it by the tile's lr, which is constant here)."""
    f = fields
    if rule == "mixed_precision":
        return registry.config(rule, transfer_every=f["transfer_every"],
                               n_rows_per_transfer=f["n_rows_per_transfer"],
                               granularity=f["granularity"], transfer_lr=f["transfer_lr"])
    # TT-v2's transfer_every counts mini-batches here: the fixture's TT-v2 curves use
    # units_in_mbatch=True, its single steps a batch of one (the same either way)
    common = {"transfer_lr": f["transfer_lr"] * lr, "gamma": f["gamma"], "transfer_bl": 1,
              "gradient_bl": gradient_bl, "momentum": f.get("momentum", 0.0),
              "forget_buffer": f.get("forget_buffer", True), "transfer_every": f["transfer_every"]}
    if rule == "tiki_taka_v2":
        return registry.config(rule, thres_scale=f["thres_scale"], **common)
    extra = {"in_chop_prob": f["in_chop_prob"], "auto_scale": f["auto_scale"],
             "buffer_granularity": f.get("buffer_granularity", 1.0),
             "auto_granularity": f.get("auto_granularity", 0.0)}
    if rule == "chopped_tiki_taka":
        extra.update(in_chop_random=f["in_chop_random"], out_chop_prob=f.get("out_chop_prob", 0.0))
    else:
        extra.update(tail_weightening=f["tail_weightening"], buffer_cap=f.get("buffer_cap", 0.0))
    return registry.config(rule, **common, **extra)


def gradient_rate(case_or_rule: dict, fast: dict | None = None, slow: dict | None = None) -> float:
    """The rate of our step: aihwkit's fast_lr (absolute, scale_fast_lr False), or its lr when
    fast_lr is 0 (and for mixed precision, whose lr is χ's rate). aihwkit's transfer compounds
    draw the gradient write onto A with the compound's granularity, the mean of the devices'
    Δw_min (VectorRPUDevice::populate), so A moves Δw_A/mean(Δw_A, Δw_C) times the rate asked
    for (4/3 with Δw_A = 0.01, Δw_C = 0.005; docs/crossbar.md): the same rate here."""
    f = case_or_rule["fields"]
    rate = f.get("fast_lr") or case_or_rule["lr"]
    if fast is not None and slow is not None:
        rate *= fast["dw_min"] / (0.5 * (fast["dw_min"] + slow["dw_min"]))
    return rate


def build(case: dict, replicas: int, seed: int):
    rule = case["rule"]
    grad = {"desired_bl": 31, "update_bl_management": True, "update_management": True}
    cfg = rule_config(rule, case["fields"], case["lr"], gradient_bl=31)
    roles = cfg.roles()
    specs = {"fast": STEPS_FAST, "slow": case.get("slow_device"), "tile": case.get("device")}
    shape = (replicas, 4, 3)
    tiles = tuple(AnalogTile(shape, cfg.tile_config(role, tile_config(specs[role], grad)),
                             torch_generator(seed + k)) for k, role in enumerate(roles))
    return cfg.build(tiles, generator=torch_generator(seed + 10))


#: aihwkit's χ accumulates lr·d xᵀ and W moves by −nε; analogsgd's χ holds the update itself,
#: −lr dᵀx, and W moves by +nε: the same rule, χ of opposite sign
CHI_SIGN = -1.0

#: the fast tile of the single-transfer cases (record_rules.FAST)
STEPS_FAST = {"family": "soft_bounds", "w_max": 0.6, "w_min": -0.6, "dw_min": 0.01,
              "dw_min_std": 0.3}


def our_step(case: dict, replicas: int = REPEATS, seed: int = 40):
    """The case on ``replicas`` replicas: warm-up (x = 1, d = 0), the state set, one step; the
    change of every recorded array (aihwkit name → (R, 4, 3) float64)."""
    rule = build(case, replicas, seed)
    ones, zeros = torch.ones(replicas, 1, 3), torch.zeros(replicas, 1, 4)
    lr = gradient_rate(case, STEPS_FAST if "slow_device" in case else None, case.get("slow_device"))
    if case["rule"] != "mixed_precision":
        for _ in range(case["warmup"]):
            rule.step(ones, zeros, lr)
    if "in_chopper" in case:
        got = rule.arrays()["c_in"]
        assert torch.equal(got, torch.tensor(case["in_chopper"]).to(got).expand_as(got)), got
    if case["rule"] == "mixed_precision":
        rule.set_array("tile", torch.tensor(case["W"]).expand(replicas, 4, 3))
        rule.set_array("chi", CHI_SIGN * torch.tensor(case["chi_before"]).expand(replicas, 4, 3))
    for key, value in case["set"].items():
        rule.set_array(ARRAY_NAMES[key], torch.tensor(value).expand(replicas, 4, 3))
    keys = list(case["delta"]) + (["hidden_weights_chi"] if case["rule"] == "mixed_precision" else [])
    before = {k: rule.arrays()[ARRAY_NAMES[k]].double() for k in keys}
    w0 = rule.weight.double()
    x = torch.tensor(case["x"]).expand(replicas, 1, 3)
    d = torch.zeros(replicas, 1, 4) if case["zero_d"] else torch.tensor(case["d"]).expand(replicas, 1, 4)
    rule.step(x, d, lr)
    after = rule.arrays()
    out = {k: after[ARRAY_NAMES[k]].double() - before[k] for k in keys}
    out["dW"] = rule.weight.double() - w0
    if case["rule"] == "mixed_precision":
        out["chi_after"] = CHI_SIGN * after["chi"].double()
    return out


def compare(name: str, ours: torch.Tensor, ref: dict, n_a: int) -> list[str]:
    """Per element: means within Z standard errors (√(v_a/N_a + v/N)) + float32 slack, variances
    within 5 % or Z standard errors (√((m4 − v²)/N) per side)."""
    n_b = ours.shape[0]
    mean, var = ours.mean(0), ours.var(0)
    m4_b = (ours - mean).pow(4).mean(0)
    m_a, v_a, m4_a = t64(ref["mean"]), t64(ref["var"]), t64(ref["m4"])
    se_m = (v_a / n_a + var / n_b).sqrt()
    se_v = ((m4_a - v_a ** 2).clamp(min=0) / n_a + (m4_b - var ** 2).clamp(min=0) / n_b).sqrt()
    bad_m = (mean - m_a).abs() > Z * se_m + 2e-6
    bad_v = (var - v_a).abs() > torch.maximum(0.05 * v_a, Z * se_v) + 1e-10
    return [f"{name}[{i},{j}]: mean {mean[i, j]:.6g} vs aihwkit {m_a[i, j]:.6g}, var "
            f"{var[i, j]:.3g} vs {v_a[i, j]:.3g}" for i, j in (bad_m | bad_v).nonzero().tolist()]


@pytest.mark.parametrize("case", cases(), ids=ids(cases()))
def test_single_transfer_statistics_match_aihwkit(case):
    """One step with one transfer from the same state as aihwkit: ΔA, ΔC, ΔW, the buffers (and
    χ) per element, mean and variance (compare); 3000 replicas here, 600–2000 repeats there."""
    needs(case["rule"])
    ours = our_step(case)
    problems = []
    for key, ref in case["delta"].items():
        problems += compare(ARRAY_NAMES[key], ours[key], ref, case["repeats"])
    problems += compare("W", ours["dW"], case["dW"], case["repeats"])
    if case["rule"] == "mixed_precision":
        problems += compare("chi", ours["chi_after"], case["chi_after"], case["repeats"])
    assert not problems, "\n".join(problems)


# -- short training curves -------------------------------------------------------------------------

CURVES = DATA["curves"]
#: two-sided 0.1 % quantiles of Student's t by degrees of freedom
T_999 = {6: 5.959, 7: 5.408, 8: 5.041, 9: 4.781, 10: 4.587, 11: 4.437, 12: 4.318}
OUR_SEEDS = 4


def curve_data(seed: int, spec: dict | None = None):
    """record_rules.curve_data: W* and the test inputs from torch.Generator(seed) (``spec``: the
    fixture's curve spec, default rules.json's)."""
    spec = spec or CURVES["spec"]
    g = torch.Generator().manual_seed(seed)
    w_star = torch.round(spec["target_scale"] * (2 * torch.rand(spec["out_size"], spec["in_size"],
                                                              generator=g) - 1), decimals=6)
    x_test = torch.round(torch.randn(spec["n_test"], spec["in_size"], generator=g), decimals=6)
    return w_star, x_test


def our_curve(rule: str, seed: int) -> list[float]:
    """record_rules.train_curve on an analogsgd AnalogLinear (no bias, weight 0) with the rule
    config of the fixture, the same data, the loss ½ Σ (y − y*)² and AnalogOptimizer at the
    gradient rate (aihwkit's fast_lr; mixed precision: its lr)."""
    from analogsgd.nn import AnalogLayerConfig, AnalogLinear, AnalogOptimizer

    spec, entry = CURVES["spec"], CURVES["rules"][rule]
    lr = CURVES["lr"]
    bl = 31
    cfg = rule_config(rule, entry["fields"], lr, gradient_bl=bl)
    tile = tile_config(CURVES["fast_device"], CURVES["gradient_update"])
    model = AnalogLinear(spec["in_size"], spec["out_size"], bias=False,
                         config=AnalogLayerConfig(rule=cfg, tile=tile), generator=seed)
    model.set_weights(torch.zeros(spec["out_size"], spec["in_size"]))
    two = rule != "mixed_precision"
    opt = AnalogOptimizer(model.parameters(), lr=gradient_rate(
        {"fields": entry["fields"], "lr": lr}, CURVES["fast_device"] if two else None,
        CURVES["slow_device"] if two else None))
    return regression_curve(model, opt, spec, seed)


def regression_curve(model, opt, spec: dict, seed: int) -> list[float]:
    """record_rules.train_with on an analogsgd model and optimizer: the data of ``seed``, the
    loss ½ Σ (y − y*)², the test MSE every eval_every steps (and at step 0)."""
    w_star, x_test = curve_data(seed, spec)
    y_test = x_test @ w_star.T
    g = torch.Generator().manual_seed(seed + 1000)

    def mse():
        with torch.no_grad():
            return float(((model(x_test) - y_test) ** 2).mean())

    hist = [mse()]
    for step in range(1, spec["steps"] + 1):
        x = torch.round(torch.randn(spec["batch"], spec["in_size"], generator=g), decimals=6)
        opt.zero_grad()
        (0.5 * ((model(x) - x @ w_star.T) ** 2).sum()).backward()
        opt.step()
        if step % spec["eval_every"] == 0:
            hist.append(mse())
    return hist


def test_fixture_curves_learn():
    """Every rule in aihwkit reduces the test MSE by more than 10× in 400 steps (the fixture
    holds a learning run, not a diverged or frozen one)."""
    for rule, entry in CURVES["rules"].items():
        runs = t64(entry["runs"])
        assert (runs[:, -1] < 0.1 * runs[:, 0]).all(), rule


@pytest.mark.parametrize("rule", sorted(CURVES["rules"]))
def test_training_curve_matches_aihwkit(rule):
    """log10 test MSE at every evaluation, mean over seeds: the two tools differ by less than the
    0.1 % t quantile times the standard error of the difference (pooled seed-to-seed variance,
    df = n_a + n_b − 2). The log: the MSE's spread over seeds is roughly proportional to it."""
    needs(rule)
    problems = curves_disagree(rule, CURVES["rules"][rule]["runs"],
                               [our_curve(rule, seed) for seed in range(OUR_SEEDS)],
                               CURVES["spec"]["eval_every"])
    assert not problems, "\n".join(problems)


def curves_disagree(name: str, runs_a: list, runs_b: list, every: int,
                    exact_start: bool = True) -> list[str]:
    """The evaluations after step 0 at which the mean log10 MSE of aihwkit's runs (``runs_a``)
    and ours differ by more than T_999 standard errors of the difference (see
    test_training_curve_matches_aihwkit); step 0 must agree seed by seed (``exact_start``: the
    reads are exact) or is compared like the others."""
    a, b = t64(runs_a).log10(), t64(runs_b).log10()
    n_a, n_b = a.shape[0], b.shape[0]
    pooled = ((n_a - 1) * a.var(0) + (n_b - 1) * b.var(0)) / (n_a + n_b - 2)
    se = (pooled * (1 / n_a + 1 / n_b)).sqrt()
    gap = (a.mean(0) - b.mean(0)).abs()
    t = T_999[n_a + n_b - 2]
    first = 1
    if exact_start:
        # step 0 is the same deterministic zero weight in both, seed by seed
        assert torch.allclose(a[:n_b, 0], b[:, 0], atol=1e-5)
    else:
        first = 0
    bad = (gap[first:] > t * se[first:]).nonzero().flatten().tolist()
    return [f"{name} step {(k + first) * every}: aihwkit {a.mean(0)[k + first]:.3f} ± "
            f"{a.std(0)[k + first]:.3f}, analogsgd {b.mean(0)[k + first]:.3f} ± "
            f"{b.std(0)[k + first]:.3f} (log10 MSE)" for k in bad]
