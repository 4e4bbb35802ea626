"""analogsgd against IBM aihwkit 1.2.0: statistics recorded by tools/aihwkit/record.py.

CI runs these without aihwkit: each fixture under tests/data/aihwkit/ holds the inputs, the
settings (in aihwkit's names, mapped here onto analogsgd's configs) and aihwkit's summaries of
many repeats. aihwkit's C++ generators are not seeded, so the two sides are compared as
statistics, with tolerances from the sampling error of both sides (stated per test); analogsgd
draws from seeded generators, so every test gives the same verdict on every run.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from analogsgd.crossbar import periphery as P
from analogsgd.crossbar.tile import AnalogTile, TileConfig, UpdateConfig
from analogsgd.devices import ALL_DEVICES
from analogsgd.devices.variation import DeviceArray
from analogsgd.rng import torch_generator

DATA = Path(__file__).parent / "data" / "aihwkit"
#: z-score bound for a comparison of two sampled statistics: with a few thousand comparisons
#: per fixture, |z| > 4.5 has probability < 1e-5 · comparisons for a true match
Z = 4.5


def load(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text())


# -- the mapping from aihwkit's parameter names ----------------------------------------------------

def bits_of(res: float) -> int:
    """aihwkit's resolution 1/(2^n − 2) (≤ 0: unquantised) as analogsgd's n bits."""
    if res <= 0:
        return 0
    bits = math.log2(1.0 / res + 2.0)
    assert abs(bits - round(bits)) < 1e-9, f"resolution {res} is not 1/(2^n - 2)"
    return round(bits)


def io_config(f: dict, direction: str) -> P.IOConfig:
    """aihwkit ``IOParameters`` fields as an analogsgd IOConfig (``out_bound`` ≤ 0 means an
    unbounded ADC; a weight noise acts only with a ``w_noise_type``; aihwkit ignores bound
    management on the backward read)."""
    bound = f["out_bound"] if f["out_bound"] > 0 else math.inf
    bm = f["bound_management"] if direction == "forward" else "none"
    return P.IOConfig(inp_bits=bits_of(f["inp_res"]), inp_bound=f["inp_bound"],
                      inp_noise=f["inp_noise"], out_bits=bits_of(f["out_res"]) if math.isfinite(bound) else 0,
                      out_bound=bound, out_noise=f["out_noise"],
                      w_noise=f["w_noise"] if f["w_noise_type"] != "none" else 0.0,
                      noise_management=f["noise_management"], bound_management=bm,
                      max_bm_factor=f["max_bm_factor"], max_bm_res=f["max_bm_res"],
                      saturation=saturation_test(f))


def saturation_test(f: dict) -> str:
    """aihwkit tests ``value > out_bound`` after rounding in float32, with the step
    float32(res)·float32(2 out_bound): where that puts the top level above out_bound (its
    default 9-bit ADC on ±12: 12.000001) a read at full scale counts as saturated."""
    if f["out_res"] <= 0 or f["out_bound"] <= 0:
        return "above"
    res = torch.tensor(f["out_res"], dtype=torch.float32) * torch.tensor(2 * f["out_bound"],
                                                                          dtype=torch.float32)
    top = torch.round(torch.tensor(f["out_bound"], dtype=torch.float32) / res) * res
    return "full_scale" if bool(top > f["out_bound"]) else "above"


# -- reads -----------------------------------------------------------------------------------------

READS = load("reads")
READ_REPEATS = 500


def summary(reads: torch.Tensor, exact: torch.Tensor) -> dict[str, torch.Tensor]:
    """The summaries of tools/aihwkit/record.py (read_summary) of reads (R, B, n)."""
    err = reads.double() - exact
    mean_err = err.mean(0)
    return {"bias_mean": mean_err.mean(-1), "bias_rms": mean_err.square().mean(-1).sqrt(),
            "noise_std": err.var(0).mean(-1).sqrt()}


@pytest.mark.parametrize("direction", ["forward", "backward"])
@pytest.mark.parametrize("setting", sorted(READS["settings"]))
def test_read_error_statistics_match_aihwkit(setting, direction):
    """Per sample: the mean error, the rms over outputs of the mean error per output (the
    deterministic part: quantisation, clipping, management) and the noise std.

    Sampling errors (σ = the recorded noise std of the sample, R_a = 2000 aihwkit repeats,
    R = 500 here): the noise std pooled over n outputs has relative error 1/√(2 n_eff R) per
    side, n_eff = n for noise independent per output and n_eff = tr(C)²/‖C‖²_F with C = W Wᵀ
    (the covariance of the outputs up to a scale) for input noise, common to all outputs;
    a mean error is at most σ/√R (inputs noise is common to the outputs); the rms of the mean
    errors is biased upwards by at most σ/√R. Each is compared at Z times the combined error,
    plus 2e-6 for float32 rounding of the exact product.
    """
    case = READS["settings"][setting]
    w = torch.tensor(READS["W"], dtype=torch.float32)
    inp = torch.tensor(READS["X" if direction == "forward" else "D"], dtype=torch.float32)
    wr = w if direction == "forward" else w.T
    io = io_config(case["io"], direction)
    gen = torch_generator(11)
    reads = P.analog_mvm(inp.expand(READ_REPEATS, *inp.shape), wr, io, gen, direction=direction)
    problems = read_mismatches(f"{setting} {direction}", case[direction], READS["meta"]["repeats"],
                               reads, inp.double() @ wr.double().T, wr, io)
    assert not problems, "\n".join(problems)


def read_mismatches(name: str, ref: dict, ref_repeats: int, reads: torch.Tensor,
                    exact: torch.Tensor, wr: torch.Tensor, io: P.IOConfig) -> list[str]:
    """The summaries of ``reads`` (R, B, n) of the weight ``wr`` (n × m, as read) that differ
    from aihwkit's ``ref`` (from ``ref_repeats`` repeats) by more than the tolerances of
    test_read_error_statistics_match_aihwkit."""
    ours = summary(reads, exact)
    n = wr.shape[0]
    if io.inp_noise > 0:
        gram = wr.double() @ wr.double().T
        n = float(torch.trace(gram) ** 2 / gram.square().sum())
    repeats = reads.shape[0]
    sigma = torch.tensor(ref["noise_std"], dtype=torch.float64)
    se_mean = sigma * math.sqrt(1 / repeats + 1 / ref_repeats)
    se_std = sigma * math.sqrt(1 / (2 * n * repeats) + 1 / (2 * n * ref_repeats))
    tol = {"bias_mean": Z * se_mean, "bias_rms": Z * se_mean, "noise_std": Z * se_std}
    problems = []
    for key in ("bias_mean", "bias_rms", "noise_std"):
        theirs = torch.tensor(ref[key], dtype=torch.float64)
        bad = ((ours[key] - theirs).abs() > tol[key] + 2e-6).nonzero().flatten().tolist()
        if bad:
            problems.append(f"{name} {key}: samples {bad}: analogsgd {ours[key][bad].tolist()} "
                            f"vs aihwkit {theirs[bad].tolist()}")
    return problems


def test_all_zero_rows_read_zero_like_aihwkit():
    """aihwkit short-cuts an all-zero row under noise management to exactly 0 (backward always,
    forward unless there is input noise); the fixture shows it, and so does analogsgd."""
    for name, case in READS["settings"].items():
        if case["io"]["noise_management"] == "none":
            continue
        for direction, rows in (("forward", READS["x_classes"]["zero"]),
                                ("backward", READS["d_classes"]["zero"])):
            ref = case[direction]
            expect_zero = direction == "backward" or case["io"]["inp_noise"] == 0
            assert all((ref["noise_std"][b] == 0) == expect_zero for b in rows), (name, direction)
            w = torch.tensor(READS["W"], dtype=torch.float32)
            wr = w if direction == "forward" else w.T
            inp = torch.tensor(READS["X" if direction == "forward" else "D"], dtype=torch.float32)
            reads = P.analog_mvm(inp.expand(8, *inp.shape), wr, io_config(case["io"], direction),
                                 torch_generator(3), direction=direction)
            ours_zero = bool((reads[:, rows] == 0).all())
            assert ours_zero == expect_zero, (name, direction)


# -- single pulsed updates -------------------------------------------------------------------------

UPDATES = load("updates")
UPDATE_REPEATS = 6000
FAMILY = {"soft_bounds": "soft_bounds", "constant_step": "constant_step",
          "pow_step": "power_step", "exp_step": "exp_step"}


def device_of(case: dict):
    """aihwkit's device parameters as the analogsgd device of the same response."""
    p = case["device"]
    common = {"dw_min": p["dw_min"], "tau_min": p["w_min"], "tau_max": p["w_max"]}
    family = case["family"]
    if family == "pow_step":
        return ALL_DEVICES["power_step"](gamma_up=p["pow_gamma"], gamma_down=p["pow_gamma"], **common)
    if family == "exp_step":
        # aihwkit's y₊ = 1 − A₊ exp(γ₊ (2a w/(τ_max − τ_min) + b)) with a = ½, b = 0 is
        # analogsgd's 1 − exp(−γ₊ (τ_max − w)/(τ_max − τ_min)) when A₊ = exp(−γ₊ τ_max/(τ_max − τ_min))
        span = p["w_max"] - p["w_min"]
        assert p["a"] == 0.5 and p["b"] == 0.0
        assert math.isclose(p["A_up"], math.exp(-p["gamma_up"] * p["w_max"] / span))
        assert math.isclose(p["A_down"], math.exp(p["gamma_down"] * p["w_min"] / span))
        return ALL_DEVICES["exp_step"](gamma_up=p["gamma_up"], gamma_down=p["gamma_down"], **common)
    return ALL_DEVICES[FAMILY[family]](**common)


def central_moments(dw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean, variance (N − 1) and fourth central moment over the leading (repeat) dimension."""
    mean = dw.mean(0)
    return mean, dw.var(0), (dw - mean).pow(4).mean(0)


def update_statistics(case: dict, counting: str = "moments"):
    """Per-element mean and variance of ΔW over UPDATE_REPEATS replicas of one update, each
    replica holding aihwkit's realised per-element bounds and steps (the fixture's hidden)."""
    device = device_of(case)
    h = {k: torch.tensor(v, dtype=torch.float32) for k, v in case["hidden"].items()}
    shape = (UPDATE_REPEATS,) + tuple(h["max_bound"].shape)
    arr = DeviceArray(device, (h["dwmin_up"] / device.dw_min).expand(shape),
                      (h["dwmin_down"] / device.dw_min).expand(shape),
                      h["min_bound"].expand(shape), h["max_bound"].expand(shape),
                      case["device"]["dw_min_std"], torch.zeros(shape))
    u = case["update"]
    cfg = TileConfig(device=device, update=UpdateConfig(
        desired_bl=u["desired_bl"], bl_management=u["update_bl_management"],
        # aihwkit turns update management on whenever BL management is on
        update_management=u["update_management"] or u["update_bl_management"],
        um_grad_scale=u["um_grad_scale"],
        counting=counting))
    tile = AnalogTile(shape, cfg, torch_generator(5), devices=arr)
    w = torch.tensor(case["W"], dtype=torch.float32)
    tile.set_weight(w.expand(shape))
    x = torch.tensor(UPDATES["x"], dtype=torch.float32).expand(UPDATE_REPEATS, 1, -1)
    d = torch.tensor(UPDATES["d"], dtype=torch.float32).expand(UPDATE_REPEATS, 1, -1)
    tile.update(x, d, case["lr"])
    return central_moments((tile.weight - w).double())


def compare_update(case: dict, mean: torch.Tensor, var: torch.Tensor, m4_b: torch.Tensor,
                   count_var_slack: float = 0.0) -> list[str]:
    """Per element: mean within 2 % or Z standard errors (√(v/N) per side), variance within 5 %
    or Z standard errors (√((m₄ − v²)/N) per side, m₄ the fourth central moment), plus
    ``count_var_slack`` pulse² (in units of the element's largest step, squared)."""
    n_a, n_b = UPDATES["meta"]["repeats"], UPDATE_REPEATS
    m_a = torch.tensor(case["mean"], dtype=torch.float64)
    v_a = torch.tensor(case["var"], dtype=torch.float64)
    m4 = torch.tensor(case["m4"], dtype=torch.float64)
    se_m = (v_a / n_a + var / n_b).sqrt()
    se_v = ((m4 - v_a ** 2).clamp(min=0) / n_a + (m4_b - var ** 2).clamp(min=0) / n_b).sqrt()
    bad_m = (mean - m_a).abs() > torch.maximum(0.02 * m_a.abs(), Z * se_m) + 1e-7
    h = case["hidden"]
    step = torch.maximum(torch.tensor(h["dwmin_up"]), torch.tensor(h["dwmin_down"])).double()
    slack = count_var_slack * step ** 2
    bad_v = (var - v_a).abs() > torch.maximum(0.05 * v_a, Z * se_v) + slack + 1e-9
    out = []
    for label, bad, ours, theirs in (("mean", bad_m, mean, m_a), ("var", bad_v, var, v_a)):
        for idx in bad.nonzero().tolist()[:3]:
            i, j = idx
            out.append(f"{case['name']} {label}[{i},{j}]: analogsgd {ours[i, j]:.4g} vs "
                       f"aihwkit {theirs[i, j]:.4g} (of {int(bad.sum())} elements)")
    return out


@pytest.mark.parametrize("case", UPDATES["cases"], ids=[c["name"] for c in UPDATES["cases"]])
def test_single_update_statistics_match_aihwkit(case):
    """``bit_trains`` draws every slot of every train, the process aihwkit simulates: mean and
    variance per element agree within 2 % and 5 % (or the sampling error)."""
    problems = compare_update(case, *update_statistics(case, "bit_trains"))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("case", UPDATES["cases"], ids=[c["name"] for c in UPDATES["cases"]])
def test_moments_sampler_update_statistics_match_aihwkit(case):
    """The default ``moments`` sampler keeps the mean of every count and its variance within
    1/4 pulse² (a rounded Gaussian above 3 pulses; docs/crossbar.md): the same comparison with
    that documented slack on the variance. Near-certain coincidences (p q → 1, v ≪ m) are where
    it is used: there the rounded Gaussian gives up to 18 % less variance than Binomial(BL, pq)."""
    problems = compare_update(case, *update_statistics(case, "moments"), count_var_slack=0.25)
    assert not problems, "\n".join(problems)


# -- Tiki-Taka transfer ----------------------------------------------------------------------------

TRANSFER = load("transfer")
TRANSFER_REPEATS = 3000


def transfer_statistics(case: dict, column: int):
    """ΔC of one Tiki-Taka step with d = 0 (A unchanged) whose transfer reads ``column`` of A,
    over TRANSFER_REPEATS replicas; C holds aihwkit's realised bounds and steps. aihwkit 1.2.0
    scales transfer_lr by the tile's learning rate (scale_transfer_lr=True)."""
    from analogsgd.optim.tiki_taka import TikiTaka, TikiTakaConfig

    a = torch.tensor(TRANSFER["A"], dtype=torch.float32)
    c = torch.tensor(TRANSFER["C"], dtype=torch.float32)
    shape = (TRANSFER_REPEATS,) + tuple(a.shape)
    f, s = case["fast_device"], case["slow_device"]
    fast_dev = ALL_DEVICES["soft_bounds"](dw_min=f["dw_min"], tau_min=f["w_min"], tau_max=f["w_max"])
    slow_dev = ALL_DEVICES[FAMILY[s["family"]]](dw_min=s["dw_min"], tau_min=s["w_min"],
                                                tau_max=s["w_max"])
    h = {k: torch.tensor(v, dtype=torch.float32) for k, v in case["hidden_slow"].items()}
    arr = DeviceArray(slow_dev, (h["dwmin_up"] / slow_dev.dw_min).expand(shape),
                      (h["dwmin_down"] / slow_dev.dw_min).expand(shape),
                      h["min_bound"].expand(shape), h["max_bound"].expand(shape), 0.0,
                      torch.zeros(shape))
    fast = AnalogTile(shape, TileConfig(device=fast_dev), torch_generator(21))
    # bit_trains: the exact process (the moments sampler's variance is compared above)
    slow = AnalogTile(shape, TileConfig(device=slow_dev, update=UpdateConfig(counting="bit_trains")),
                      torch_generator(22), devices=arr)
    lr = case["lr"]
    rule = TikiTaka(fast, slow, TikiTakaConfig(transfer_lr=case["transfer_lr"] * lr,
                                               transfer_every=1, columns_per_transfer="one"))
    fast.set_weight(a.expand(shape))
    slow.set_weight(c.expand(shape))
    rule.cursor.next_column = column
    x = torch.ones(TRANSFER_REPEATS, 1, a.shape[1])
    rule.step(x, torch.zeros(TRANSFER_REPEATS, 1, a.shape[0]), lr)
    assert torch.equal(fast.weight, a.expand(shape))
    dc = (slow.weight - c).double()
    return (*central_moments(dc[..., column]), dc)


@pytest.mark.parametrize("case", TRANSFER["cases"], ids=[c["name"] for c in TRANSFER["cases"]])
def test_tiki_taka_transfer_statistics_match_aihwkit(case):
    """Per column j and row i: the mean and variance of ΔC[i, j] within 2 % and 5 % or Z
    standard errors (as for single updates; N_a = 1500 aihwkit repeats per column, N = 3000
    here); the other columns stay exactly unchanged in both tools."""
    n_a = TRANSFER["meta"]["repeats_per_column"]
    assert case["off_column_max_abs"] == 0.0
    problems = []
    for j in range(len(case["mean"])):
        mean, var, m4_b, dc = transfer_statistics(case, j)
        assert float(dc[..., [k for k in range(dc.shape[-1]) if k != j]].abs().max()) == 0.0
        m_a = torch.tensor(case["mean"][j], dtype=torch.float64)
        v_a = torch.tensor(case["var"][j], dtype=torch.float64)
        m4 = torch.tensor(case["m4"][j], dtype=torch.float64)
        se_m = (v_a / n_a + var / TRANSFER_REPEATS).sqrt()
        se_v = ((m4 - v_a ** 2).clamp(min=0) / n_a
                + (m4_b - var ** 2).clamp(min=0) / TRANSFER_REPEATS).sqrt()
        bad_m = (mean - m_a).abs() > torch.maximum(0.02 * m_a.abs(), Z * se_m) + 1e-7
        bad_v = (var - v_a).abs() > torch.maximum(0.05 * v_a, Z * se_v) + 1e-9
        for i in (bad_m | bad_v).nonzero().flatten().tolist():
            problems.append(f"column {j} row {i}: mean {mean[i]:.4g} vs {m_a[i]:.4g}, "
                            f"var {var[i]:.3g} vs {v_a[i]:.3g}")
    assert not problems, "\n".join(problems)


# -- short training curves -------------------------------------------------------------------------

#: two-sided 0.1 % quantiles of Student's t by degrees of freedom (the seeds' spread is itself
#: estimated from a few seeds)
T_999 = {2: 31.6, 3: 12.92, 4: 8.610, 5: 6.869, 6: 5.959, 7: 5.408, 8: 5.041, 9: 4.781,
         10: 4.587, 11: 4.437, 12: 4.318, 13: 4.221, 14: 4.140}
CURVE_FIXTURE = DATA / "curves.json"


def curve_data(spec: dict):
    """The data of tools/aihwkit/record.py (load_curve_data): digits as analogsgd.datasets
    splits them; the first n_train / n_test Fashion-MNIST images."""
    from analogsgd.datasets.base import DatasetMissingError

    if spec["dataset"] == "digits":
        from analogsgd.datasets.digits import digits
        d = digits()
        return d.train_x, d.train_y, d.test_x, d.test_y
    from analogsgd.datasets.fashion_mnist import fashion_mnist
    try:
        d = fashion_mnist()
    except DatasetMissingError as err:
        pytest.skip(str(err))
    return (d.train_x[:spec["n_train"]], d.train_y[:spec["n_train"]],
            d.test_x[:spec["n_test"]], d.test_y[:spec["n_test"]])


def train_curve(spec: dict, data, seed: int) -> dict:
    """The loop of record.py's train_curve on analogsgd: the experiments' network, init (the
    same torch generator calls, so the same initial weights per seed), analog twin and
    optimizer (soft bounds ±τ, the paper's IO, no output scaling), the same data order."""
    from analogsgd.experiments._network_analog import analog_model_and_optimizer
    from analogsgd.experiments._network_common import NetworkConfig
    from analogsgd.experiments._network_model import build_network, init_parameters

    cfg = NetworkConfig(dataset=spec["dataset"], arch=spec["arch"], hidden=(spec["hidden"],),
                        activation=spec["activation"], batch_size=spec["batch"],
                        analog_lr=spec["lr"], dw_min=spec["dw_min"], periphery="paper",
                        learn_out_scale=False, taus=(spec["tau"],), algorithms=("analog_sgd",))
    tr_x, tr_y, te_x, te_y = data
    model = build_network(cfg, tuple(tr_x.shape[1:]), 10)
    init_parameters(model, torch_generator(seed))
    model, opt = analog_model_and_optimizer(model, cfg, "analog_sgd", spec["tau"], 1000 + seed)
    order = torch_generator(seed + 1)
    ce = torch.nn.functional.cross_entropy

    def evaluate():
        with torch.no_grad():
            out = torch.cat([model(te_x[i:i + 500]) for i in range(0, len(te_x), 500)])
        return float(ce(out, te_y)), 100.0 * float((out.argmax(1) == te_y).float().mean())

    hist = {"test_loss": [], "test_acc": []}
    for key, value in zip(("test_loss", "test_acc"), evaluate()):
        hist[key].append(value)
    perm, pos = torch.randperm(len(tr_x), generator=order), 0
    for step in range(1, spec["steps"] + 1):
        if pos + spec["batch"] > len(perm):
            perm, pos = torch.randperm(len(tr_x), generator=order), 0
        idx = perm[pos:pos + spec["batch"]]
        pos += spec["batch"]
        opt.zero_grad()
        ce(model(tr_x[idx]), tr_y[idx]).backward()
        opt.step()
        if step % spec["eval_every"] == 0:
            for key, value in zip(("test_loss", "test_acc"), evaluate()):
                hist[key].append(value)
    return hist


def compare_curves(name: str, n_seeds: int) -> list[str]:
    """Mean over seeds of the test loss and accuracy at every evaluation: the two tools' means
    differ by less than the 0.1 % t quantile times the standard error of their difference,
    from the pooled seed-to-seed variance (df = n_a + n_b − 2)."""
    if not CURVE_FIXTURE.is_file():
        pytest.skip("no curves fixture (tools/aihwkit/record.py curves)")
    fixture = json.loads(CURVE_FIXTURE.read_text())[name]
    spec = fixture["spec"]
    data = curve_data(spec)
    ours = [train_curve(spec, data, seed) for seed in range(n_seeds)]
    problems = []
    for key in ("test_loss", "test_acc"):
        a = torch.tensor([r[key] for r in fixture["runs"]], dtype=torch.float64)
        b = torch.tensor([r[key] for r in ours], dtype=torch.float64)
        n_a, n_b = a.shape[0], b.shape[0]
        pooled = ((n_a - 1) * a.var(0) + (n_b - 1) * b.var(0)) / (n_a + n_b - 2)
        se = (pooled * (1 / n_a + 1 / n_b)).sqrt()
        gap = (a.mean(0) - b.mean(0)).abs()
        t = T_999[min(n_a + n_b - 2, max(T_999))]
        for k in (gap > t * se).nonzero().flatten().tolist():
            problems.append(f"{name} {key} at step {k * spec['eval_every']}: aihwkit "
                            f"{a.mean(0)[k]:.3f} ± {a.std(0)[k]:.3f}, analogsgd "
                            f"{b.mean(0)[k]:.3f} ± {b.std(0)[k]:.3f}")
    return problems


def test_digits_fcn_curve_matches_aihwkit():
    problems = compare_curves("digits_fcn", n_seeds=3)
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_fmnist_cnn_curve_matches_aihwkit():
    problems = compare_curves("fmnist_cnn", n_seeds=3)
    assert not problems, "\n".join(problems)
