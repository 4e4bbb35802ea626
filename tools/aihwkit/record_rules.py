"""Record reference statistics of aihwkit 1.2.0's buffered, chopped, dynamic and mixed-precision
learning rules as one small fixture (tests/data/aihwkit/rules.json).

Run by a developer, never by CI, with the python of the aihwkit venv (tools/aihwkit/build.sh):

    OMP_NUM_THREADS=1 $AIHWKIT_VENV/bin/python tools/aihwkit/record_rules.py [steps] [curves]

* ``steps``: one update that triggers exactly one transfer, from a set state, on a 4×3 tile
  (perfect IO), for BufferedTransferCompound (TT-v2), ChoppedTransferCompound (c-TTv2),
  DynamicTransferCompound (AGAD) and MixedPrecisionCompound. Every repeat builds a fresh tile,
  runs ``warmup`` updates with x = 1, d = 0 (they move no weight: BL management gives BL = 0 at
  d = 0; they only advance the transfer counter, the column cursor and the choppers), sets the
  fast tile A, the slow tile C and the buffers through set_hidden_parameters, and runs one
  update (x, d). Recorded: the state set, the mean and variance over repeats of ΔA, ΔC (ΔW for
  mixed precision) and of every buffer after, and, for mixed precision, χ after.
* ``curves``: a noiseless linear regression y = W* x (8 → 4) trained for a few hundred steps
  with aihwkit's AnalogSGD on an AnalogLinear of each rule, several seeds, the test MSE every
  ``eval_every`` steps; each rule's rpu_config is stored as aihwkit prints it.

Inputs are rounded to 6 decimals, so both tools read the same float32 numbers; aihwkit's C++
generators are not seeded by torch.manual_seed: the fixture holds statistics, not draws.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch
from aihwkit.simulator.configs import DigitalRankUpdateRPUConfig, UnitCellRPUConfig
from aihwkit.simulator.configs.compounds import (
    BufferedTransferCompound,
    ChoppedTransferCompound,
    DynamicTransferCompound,
    MixedPrecisionCompound,
)
from aihwkit.simulator.configs.devices import ConstantStepDevice, SoftBoundsDevice
from aihwkit.simulator.parameters.io import IOParameters
from aihwkit.simulator.parameters.training import UpdateParameters
from aihwkit.simulator.tiles import AnalogTile
from record import NO_SPREAD, OUT, meta, rounded

OUT_SIZE, IN_SIZE = 4, 3
FAMILIES = {"soft_bounds": SoftBoundsDevice, "constant_step": ConstantStepDevice}

#: the fast tile A of every transfer case: soft bounds ±0.6, Δw_min 0.01, no device spread,
#: aihwkit's default 30 % cycle-to-cycle noise (stated, not defaulted)
FAST = {"family": "soft_bounds", **NO_SPREAD, "w_max": 0.6, "w_min": -0.6, "dw_min": 0.01,
        "dw_min_std": 0.3}
#: the slow tile C: Δw_min 0.005 with 30 % cycle-to-cycle noise, so that the one pulse of a
#: transfer (BL 1, p = q = 1: deterministic counts) still has a variance to compare
SLOW = {**NO_SPREAD, "w_max": 0.6, "w_min": -0.6, "dw_min": 0.005, "dw_min_std": 0.3}

#: the gradient write onto A: aihwkit's default UpdateParameters (BL 31, both managements on)
GRADIENT_UPDATE = {"desired_bl": 31, "update_bl_management": True, "update_management": True}
#: the transfer write onto C: one pulse at most, managements off (the compounds' default)
TRANSFER_UPDATE = {"desired_bl": 1, "update_bl_management": False, "update_management": False}


def device(spec: dict):
    return FAMILIES[spec["family"]](**{k: v for k, v in spec.items() if k != "family"})


def state(rng: np.random.Generator) -> dict:
    """A, C within ±0.4, and buffer values of the scale each rule thresholds at."""
    return {"A": np.round(rng.uniform(-0.4, 0.4, (OUT_SIZE, IN_SIZE)), 6),
            "C": np.round(rng.uniform(-0.3, 0.3, (OUT_SIZE, IN_SIZE)), 6)}


def inputs(rng: np.random.Generator) -> dict:
    x = rng.choice([-1.0, 1.0], IN_SIZE) * rng.uniform(0.3, 1.0, IN_SIZE)
    d = rng.choice([-1.0, 1.0], OUT_SIZE) * rng.uniform(0.3, 1.0, OUT_SIZE)
    return {"x": np.round(x, 6), "d": np.round(d, 6)}


# -- the single-transfer cases -------------------------------------------------------------------

def step_cases() -> list[dict]:
    """Each case: the compound and its fields (aihwkit names), the optimizer lr, the warm-up,
    the state set before the step (hidden parameter name → array) and the step's x, d."""
    rng = np.random.default_rng(20240610)
    cases = []
    # TT-v2: thr = thres_scale·Δw_C = 0.005, lr_tr = transfer_lr·lr = 0.02: ω = H + 0.02 z is
    # spread over about ±2 thresholds, so some entries transfer, some clamp at ±1 pulse
    for slow_family, warmup in (("constant_step", 0), ("soft_bounds", 1)):
        s = state(rng)
        s["H"] = np.round(rng.uniform(-0.006, 0.006, (OUT_SIZE, IN_SIZE)), 6)
        cases.append({
            "name": f"tiki_taka_v2/{slow_family}", "rule": "tiki_taka_v2",
            "compound": "BufferedTransferCompound",
            "fields": {"transfer_every": 1, "units_in_mbatch": False, "n_reads_per_transfer": 1,
                       "transfer_columns": True, "gamma": 0.0, "fast_lr": 0.0,
                       "scale_fast_lr": False, "transfer_lr": 0.1, "scale_transfer_lr": True,
                       "thres_scale": 1.0, "step": 1.0, "momentum": 0.1, "forget_buffer": True},
            "lr": 0.2, "warmup": warmup, "column": warmup % IN_SIZE,
            "slow_device": {"family": slow_family, **SLOW},
            "set": {"hidden_weights_0": s["A"], "hidden_weights_1": s["C"],
                    "buffered_FP_weight_0": s["H"]},
            **inputs(rng), "zero_d": True})
    # TT-v2 with a gradient: A takes the pulsed gradient write first, then column 0 is read
    s = state(rng)
    s["H"] = np.round(rng.uniform(-0.006, 0.006, (OUT_SIZE, IN_SIZE)), 6)
    cases.append({
        "name": "tiki_taka_v2/with_gradient", "rule": "tiki_taka_v2",
        "compound": "BufferedTransferCompound",
        "fields": {"transfer_every": 1, "units_in_mbatch": False, "n_reads_per_transfer": 1,
                   "transfer_columns": True, "gamma": 0.0, "fast_lr": 0.05,
                   "scale_fast_lr": False, "transfer_lr": 0.1, "scale_transfer_lr": True,
                   "thres_scale": 1.0, "step": 1.0, "momentum": 0.0, "forget_buffer": False},
        "lr": 0.2, "warmup": 0, "column": 0, "slow_device": {"family": "soft_bounds", **SLOW},
        "set": {"hidden_weights_0": s["A"], "hidden_weights_1": s["C"],
                "buffered_FP_weight_0": s["H"]},
        **inputs(rng), "zero_d": False})
    # c-TTv2: in_chop_prob 1 with random switching flips column i's chopper after each of its
    # reads, so after one pass (warmup = in_size) every input chopper is −1; the step writes
    # the chopped gradient onto A and reads column 0 with the sign −1. s = lr_tr/(bg Δw_A):
    # lr_tr = 0.1·0.2 = 0.02, bg = 1 → s = 2 per unit of A (H is in pulses)
    s = state(rng)
    s["H"] = np.round(rng.uniform(-0.9, 0.9, (OUT_SIZE, IN_SIZE)), 6)
    cases.append({
        "name": "chopped_tiki_taka/chopped", "rule": "chopped_tiki_taka",
        "compound": "ChoppedTransferCompound",
        "fields": {"transfer_every": 1, "units_in_mbatch": False, "n_reads_per_transfer": 1,
                   "transfer_columns": True, "gamma": 0.0, "fast_lr": 0.05,
                   "scale_fast_lr": False, "transfer_lr": 0.1, "scale_transfer_lr": True,
                   "in_chop_prob": 1.0, "in_chop_random": True, "out_chop_prob": 0.0,
                   "buffer_granularity": 1.0, "auto_granularity": 0.0, "auto_scale": False,
                   "correct_gradient_magnitudes": False, "step": 1.0, "momentum": 0.0,
                   "forget_buffer": True},
        "lr": 0.2, "warmup": IN_SIZE, "column": 0, "in_chopper": [-1.0] * IN_SIZE,
        "out_chopper": [1.0] * OUT_SIZE, "slow_device": {"family": "constant_step", **SLOW},
        "set": {"hidden_weights_0": s["A"], "hidden_weights_1": s["C"],
                "buffered_FP_weight_0": s["H"]},
        **inputs(rng), "zero_d": False})
    # AGAD: in_chop_prob 0.5 (regular: N = 2 passes per chopper period, β = min(5/2, 1) = 1),
    # C is written only once the pass counter exceeds N. warmup 3 passes: the read in pass 3
    # has chopper −1 (switched after pass 1) and no reference reset; warmup 4 passes: pass 4
    # has chopper +1 and its column was switched at the previous read, so P_ref ← P first
    for passes in (3, 4):
        s = state(rng)
        s["H"] = np.round(rng.uniform(-0.9, 0.9, (OUT_SIZE, IN_SIZE)), 6)
        s["P"] = np.round(rng.uniform(-0.4, 0.4, (OUT_SIZE, IN_SIZE)), 6)
        s["Pref"] = np.round(rng.uniform(-0.4, 0.4, (OUT_SIZE, IN_SIZE)), 6)
        cases.append({
            "name": f"agad/pass_{passes}", "rule": "agad", "compound": "DynamicTransferCompound",
            "fields": {"transfer_every": 1, "units_in_mbatch": False, "n_reads_per_transfer": 1,
                       "transfer_columns": True, "gamma": 0.0, "fast_lr": 0.05,
                       "scale_fast_lr": False, "transfer_lr": 0.1, "scale_transfer_lr": True,
                       "in_chop_prob": 0.5, "in_chop_random": False, "out_chop_prob": 0.0,
                       "buffer_granularity": 1.0, "auto_granularity": 0.0, "auto_scale": False,
                       "correct_gradient_magnitudes": False, "step": 1.0, "momentum": 0.0,
                       "forget_buffer": True, "tail_weightening": 5.0, "buffer_cap": 0.0},
            "lr": 0.2, "warmup": passes * IN_SIZE, "column": 0,
            "in_chopper": [-1.0 if passes % 2 else 1.0] * IN_SIZE,
            "out_chopper": [1.0] * OUT_SIZE, "slow_device": {"family": "constant_step", **SLOW},
            "set": {"hidden_weights_0": s["A"], "hidden_weights_1": s["C"],
                    "buffered_FP_weight": s["H"], "running_mean_weight": s["P"],
                    "past_mean_weight": s["Pref"]},
            **inputs(rng), "zero_d": True})
    # mixed precision: χ += lr·d xᵀ per sample (χ holds the negative of the wanted update),
    # then every row: n = trunc(χ/ε), χ −= n ε, and the pulses −n (ΔW = −n ε on average,
    # BL management: BL = max|n|) written onto W; ε = Δw_min = 0.01. χ is not settable in
    # aihwkit (set_hidden_parameters ignores it) and the first mat-vec never transfers (update
    # index 0): one warm-up update with its own x_w, d_w sets χ = lr d_w x_wᵀ, then the step
    for family in ("constant_step", "soft_bounds"):
        w = np.round(rng.uniform(-0.3, 0.3, (OUT_SIZE, IN_SIZE)), 6)
        warm = inputs(rng)
        # no c2c noise: ΔW/ε are the pulse counts (constant step)
        dev = {"family": family, **NO_SPREAD, "w_max": 0.6, "w_min": -0.6, "dw_min": 0.01,
               "dw_min_std": 0.0}
        cases.append({
            "name": f"mixed_precision/{family}", "rule": "mixed_precision",
            "compound": "MixedPrecisionCompound",
            "fields": {"transfer_every": 1, "n_rows_per_transfer": -1, "random_row": False,
                       "granularity": 0.0, "transfer_lr": 1.0, "n_x_bins": 0, "n_d_bins": 0},
            "lr": 0.08, "warmup": 1, "warmup_x": warm["x"], "warmup_d": warm["d"], "device": dev,
            "set": {}, "W": w, **inputs(rng), "zero_d": False})
    return cases


def perfect() -> IOParameters:
    return IOParameters(is_perfect=True)


def rpu_config(case: dict, fast: dict = FAST):
    """The rpu_config of a case: perfect forward, backward and transfer reads."""
    fields = dict(case["fields"])
    if case["compound"] == "MixedPrecisionCompound":
        cfg = DigitalRankUpdateRPUConfig(device=MixedPrecisionCompound(device=device(case["device"]),
                                                                       **fields))
    else:
        cls = {"BufferedTransferCompound": BufferedTransferCompound,
               "ChoppedTransferCompound": ChoppedTransferCompound,
               "DynamicTransferCompound": DynamicTransferCompound}[case["compound"]]
        cfg = UnitCellRPUConfig(device=cls(
            unit_cell_devices=[device(fast), device(case["slow_device"])],
            transfer_forward=perfect(), transfer_update=UpdateParameters(**TRANSFER_UPDATE),
            **fields))
    cfg.forward = perfect()
    cfg.backward = perfect()
    cfg.update = UpdateParameters(**GRADIENT_UPDATE)
    return cfg


def moments(samples: np.ndarray) -> dict:
    mean = samples.mean(0)
    cent = samples - mean
    return {"mean": np.round(mean, 9).tolist(), "var": np.round(cent.var(0, ddof=1), 12).tolist(),
            "m4": np.round((cent ** 4).mean(0), 15).tolist()}


def run_case(case: dict, repeats: int) -> dict:
    cfg = rpu_config(case)
    x = torch.tensor(case["x"], dtype=torch.float32)[None]
    d = (torch.zeros(1, OUT_SIZE) if case["zero_d"]
         else torch.tensor(case["d"], dtype=torch.float32)[None])
    ones, zeros = torch.ones(1, IN_SIZE), torch.zeros(1, OUT_SIZE)
    mp = case["compound"] == "MixedPrecisionCompound"
    keys = list(case["set"])
    before = {k: np.asarray(v, dtype=np.float32) for k, v in case["set"].items()}
    after = {k: np.empty((repeats, OUT_SIZE, IN_SIZE)) for k in keys}
    dw = np.empty((repeats, OUT_SIZE, IN_SIZE))
    chi = np.empty((repeats, OUT_SIZE, IN_SIZE))
    for r in range(repeats):
        tile = AnalogTile(OUT_SIZE, IN_SIZE, cfg)
        tile.set_learning_rate(case["lr"])
        if mp:
            tile.tile.set_weights(torch.tensor(case["W"], dtype=torch.float32))
            tile.tile.update(torch.tensor(case["warmup_x"], dtype=torch.float32)[None],
                             torch.tensor(case["warmup_d"], dtype=torch.float32)[None], False)
            chi_before = tile.get_hidden_parameters()["hidden_weights_chi"].numpy().copy()
        else:
            for _ in range(case["warmup"]):
                tile.tile.update(ones, zeros, False)
            h = tile.get_hidden_parameters()
            for k in keys:
                h[k] = torch.tensor(before[k])
            tile.set_hidden_parameters(h)
        w0 = tile.tile.get_weights().numpy().copy()
        tile.tile.update(x, d, False)
        h = tile.get_hidden_parameters()
        for k in keys:
            after[k][r] = h[k].numpy() - before[k]
        if mp:
            chi[r] = h["hidden_weights_chi"].numpy()
        dw[r] = tile.tile.get_weights().numpy() - w0
    out = {"delta": {k: moments(v) for k, v in after.items()}, "dW": moments(dw)}
    if mp:
        out["chi_before"] = rounded(chi_before)
        out["chi_after"] = moments(chi)
        out["pulses"] = moments(np.round(dw / case["device"]["dw_min"])) \
            if case["device"]["family"] == "constant_step" else None
    else:
        # the visible weight is C (γ = 0): ΔW = ΔC exactly
        assert np.array_equal(dw, after["hidden_weights_1"])
    hidden = tile.get_hidden_parameters()
    suffix = "" if mp else "_1"
    out["hidden_slow"] = {k: rounded(hidden[f"{k}{suffix}"].numpy())
                          for k in ("max_bound", "min_bound", "dwmin_up", "dwmin_down")}
    return out


def record_steps(repeats: int = 2000) -> dict:
    out = []
    for case in step_cases():
        t0 = time.time()
        # everything but the slow tile's c2c noise is deterministic in the AGAD and d = 0 TT-v2
        # cases; fewer repeats suffice there
        n = repeats if not case["zero_d"] else repeats // 3
        stats = run_case(case, n)
        rec = {k: (rounded(v) if isinstance(v, np.ndarray) else v) for k, v in case.items()
               if k != "set"}
        rec["set"] = {k: rounded(v) for k, v in case["set"].items()}
        rec["repeats"] = n
        rec["rpu_config"] = str(rpu_config(case))
        rec.update(stats)
        out.append(rec)
        m = np.abs(np.asarray(stats["dW"]["mean"]))
        print(f"step {case['name']}: mean|ΔW| {m.mean():.4g}, nonzero {int((m > 0).sum())} "
              f"({time.time() - t0:.0f} s)")
    return {"steps": out}


# -- short training curves -------------------------------------------------------------------------

CURVE = {"in_size": 8, "out_size": 4, "n_test": 256, "batch": 4, "steps": 400, "eval_every": 50,
         "seeds": 6, "target_scale": 0.3}
CURVE_FAST = {"family": "soft_bounds", **NO_SPREAD, "w_max": 1.0, "w_min": -1.0, "dw_min": 0.01,
              "dw_min_std": 0.3}
CURVE_SLOW = CURVE_FAST
CURVE_RULES = {
    # TT-v2 at the class default units_in_mbatch=True: one column per mini-batch (analogsgd's
    # TikiTakaV2 counts steps); the chopped rules count mat-vecs (units_in_mbatch False)
    "tiki_taka_v2": ("BufferedTransferCompound",
                     {"transfer_every": 1, "units_in_mbatch": True, "n_reads_per_transfer": 1,
                      "gamma": 0.0, "fast_lr": 0.1, "scale_fast_lr": False, "transfer_lr": 1.0,
                      "scale_transfer_lr": True, "thres_scale": 1.0, "momentum": 0.1,
                      "forget_buffer": True}),
    "chopped_tiki_taka": ("ChoppedTransferCompound",
                          {"transfer_every": 1, "units_in_mbatch": False, "gamma": 0.0,
                           "fast_lr": 0.1, "scale_fast_lr": False, "transfer_lr": 1.0,
                           "scale_transfer_lr": True, "in_chop_prob": 0.1,
                           "in_chop_random": True, "auto_scale": False, "momentum": 0.0,
                           "forget_buffer": True}),
    "agad": ("DynamicTransferCompound",
             {"transfer_every": 1, "units_in_mbatch": False, "gamma": 0.0, "fast_lr": 0.1,
              "scale_fast_lr": False, "transfer_lr": 1.0, "scale_transfer_lr": True,
              "in_chop_prob": 0.1, "in_chop_random": False, "auto_scale": False,
              "tail_weightening": 5.0, "momentum": 0.0, "forget_buffer": True}),
    "mixed_precision": ("MixedPrecisionCompound",
                        {"transfer_every": 1, "n_rows_per_transfer": -1, "granularity": 0.0,
                         "transfer_lr": 1.0}),
}
CURVE_LR = 0.05


def curve_data(seed: int):
    g = torch.Generator().manual_seed(seed)
    w_star = torch.round(CURVE["target_scale"] * (2 * torch.rand(CURVE["out_size"], CURVE["in_size"],
                                                              generator=g) - 1), decimals=6)
    x_test = torch.round(torch.randn(CURVE["n_test"], CURVE["in_size"], generator=g), decimals=6)
    return w_star, x_test


def train_curve(rule: str, seed: int) -> list[float]:
    """MSE of y = W x against y* = W* x on a fixed test set, every eval_every steps; the data of
    seed s: W* and the test inputs from torch.Generator(s), training inputs from
    torch.Generator(s + 1000), the initial weight 0 (C = 0, A = 0, χ = 0)."""
    compound, fields = CURVE_RULES[rule]
    case = {"compound": compound, "fields": fields, "slow_device": CURVE_SLOW, "device": CURVE_SLOW}
    return train_with(rpu_config(case, CURVE_FAST), seed, CURVE_LR)


def train_with(cfg, seed: int, lr: float) -> list[float]:
    """train_curve's run with the rpu_config ``cfg`` and AnalogSGD at ``lr``."""
    from aihwkit.nn import AnalogLinear
    from aihwkit.optim import AnalogSGD

    w_star, x_test = curve_data(seed)
    y_test = x_test @ w_star.T
    model = AnalogLinear(CURVE["in_size"], CURVE["out_size"], bias=False, rpu_config=cfg)
    model.set_weights(torch.zeros(CURVE["out_size"], CURVE["in_size"]))
    opt = AnalogSGD(model.parameters(), lr=lr)
    opt.regroup_param_groups(model)
    g = torch.Generator().manual_seed(seed + 1000)

    def mse():
        with torch.no_grad():
            return float(((model(x_test) - y_test) ** 2).mean())

    hist = [mse()]
    for step in range(1, CURVE["steps"] + 1):
        x = torch.round(torch.randn(CURVE["batch"], CURVE["in_size"], generator=g), decimals=6)
        opt.zero_grad()
        # loss ½ Σ (y − y*)²: the output gradient d = y − y*
        loss = 0.5 * ((model(x) - x @ w_star.T) ** 2).sum()
        loss.backward()
        opt.step()
        if step % CURVE["eval_every"] == 0:
            hist.append(mse())
    return hist


def record_curves() -> dict:
    out = {"spec": CURVE, "lr": CURVE_LR, "fast_device": CURVE_FAST, "slow_device": CURVE_SLOW,
           "gradient_update": GRADIENT_UPDATE, "transfer_update": TRANSFER_UPDATE, "rules": {}}
    for rule, (compound, fields) in CURVE_RULES.items():
        t0 = time.time()
        runs = [train_curve(rule, seed) for seed in range(CURVE["seeds"])]
        case = {"compound": compound, "fields": fields, "slow_device": CURVE_SLOW,
                "device": CURVE_SLOW}
        out["rules"][rule] = {"compound": compound, "fields": fields, "runs": runs,
                              "rpu_config": str(rpu_config(case, CURVE_FAST))}
        final = [r[-1] for r in runs]
        print(f"curve {rule}: MSE {np.mean([r[0] for r in runs]):.4g} → {np.mean(final):.4g} "
              f"± {np.std(final, ddof=1):.2g} ({time.time() - t0:.0f} s)")
    return {"curves": out}


SECTIONS = {"steps": record_steps, "curves": record_curves}

if __name__ == "__main__":
    import json

    torch.set_num_threads(1)
    path = OUT / "rules.json"
    data = json.loads(path.read_text()) if path.is_file() else {}
    for section in sys.argv[1:] or list(SECTIONS):
        if section not in SECTIONS:
            sys.exit(f"unknown section {section!r}; choose from {sorted(SECTIONS)}")
        t0 = time.time()
        data.update(SECTIONS[section]())
        print(f"{section}: {time.time() - t0:.0f} s")
    data["meta"] = meta(note="steps: statistics of one update with one transfer from a set state "
                        "(delta: hidden parameter after − before); curves: test MSE per "
                        "eval_every steps, one list per seed")
    path.write_text(json.dumps(data, separators=(",", ":")) + "\n")
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
