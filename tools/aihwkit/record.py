"""Record reference statistics of IBM aihwkit 1.2.0 as small JSON fixtures (tests/data/aihwkit/).

Run by a developer, never by CI, with the python of the aihwkit venv (tools/aihwkit/build.sh):

    OMP_NUM_THREADS=1 $AIHWKIT_VENV/bin/python tools/aihwkit/record.py [reads] [updates] ...

Each fixture holds its inputs (x, d, W, rounded to 6 decimals, so both tools read the same
float32 numbers), the settings in aihwkit's own names, and summaries of many repeats; the
analogsgd side (tests/test_aihwkit_parity.py) rebuilds every case from the fixture alone.
aihwkit's C++ generators are not seeded by torch.manual_seed: fixtures are statistics, not draws.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import aihwkit
import numpy as np
import torch
from aihwkit.simulator.configs import SingleRPUConfig
from aihwkit.simulator.configs.devices import (
    ConstantStepDevice,
    ExpStepDevice,
    IdealDevice,
    PowStepDevice,
    SoftBoundsDevice,
)
from aihwkit.simulator.parameters.enums import (
    BoundManagementType,
    NoiseManagementType,
    WeightNoiseType,
)
from aihwkit.simulator.tiles import AnalogTile

OUT = Path(__file__).resolve().parents[2] / "tests" / "data" / "aihwkit"


def rounded(a: np.ndarray) -> list:
    return np.round(np.asarray(a, dtype=np.float64), 6).tolist()


def meta(**extra) -> dict:
    return {"aihwkit": aihwkit.__version__, "torch": torch.__version__,
            "recorded": time.strftime("%Y-%m-%d"), **extra}


def write(name: str, data: dict) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.json"
    path.write_text(json.dumps(data, separators=(",", ":")) + "\n")
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")


# -- reads ---------------------------------------------------------------------------------------

#: aihwkit IOParameters fields that differ from a read with every stage off (see base_io)
READ_SETTINGS = {
    "paper": {"inp_res": 1 / 254, "out_res": 1 / 254, "out_noise": 0.1, "out_bound": 20.0,
                  "noise_management": "abs_max", "bound_management": "iterative"},
    "aihwkit_default": "IOParameters()",
    "aihwkit_preset": {"inp_res": 1 / 126, "out_res": 1 / 510, "out_noise": 0.1, "out_bound": 20.0,
                           "noise_management": "abs_max", "bound_management": "iterative"},
    "dac": {"inp_res": 1 / 254},
    "dac_nm": {"inp_res": 1 / 254, "noise_management": "abs_max"},
    "adc": {"out_res": 1 / 254, "out_bound": 20.0},
    "out_noise": {"out_noise": 0.1},
    "nm_out_noise": {"out_noise": 0.1, "noise_management": "abs_max"},
    "inp_noise": {"inp_noise": 0.05},
    "nm_inp_noise": {"inp_noise": 0.05, "noise_management": "abs_max"},
    "w_noise": {"w_noise": 0.02, "w_noise_type": "additive_constant"},
    "bm": {"inp_res": 1 / 254, "out_res": 1 / 254, "out_bound": 20.0, "noise_management": "abs_max",
               "bound_management": "iterative"},
    "bm_noise": {"out_res": 1 / 254, "out_bound": 20.0, "out_noise": 0.1,
                     "noise_management": "abs_max", "bound_management": "iterative"},
}

#: every stage off: no quantisation (res <= 0), unbounded ADC (bound <= 0), no noise or management
BASE_IO = {"inp_res": -1.0, "out_res": -1.0, "out_bound": 0.0, "out_noise": 0.0, "inp_noise": 0.0,
               "w_noise": 0.0, "w_noise_type": "none", "noise_management": "none", "bound_management": "none"}

ENUMS = {"noise_management": NoiseManagementType, "bound_management": BoundManagementType,
         "w_noise_type": WeightNoiseType}


def io_fields(setting) -> dict:
    """The IOParameters fields of a setting, as recorded (enum values by lower-case name)."""
    from aihwkit.simulator.parameters.io import IOParameters
    if setting == "IOParameters()":
        io = IOParameters()
        return {k: (getattr(io, k).name.lower() if k in ENUMS else getattr(io, k))
                for k in ("inp_res", "out_res", "out_bound", "out_noise", "inp_noise", "inp_bound",
                          "w_noise", "w_noise_type", "noise_management", "bound_management",
                          "max_bm_factor", "max_bm_res")}
    fields = {**BASE_IO, **setting}
    fields.setdefault("inp_bound", 1.0)
    fields.setdefault("max_bm_factor", 1000)
    fields.setdefault("max_bm_res", 0.25)
    return fields


def apply_io(io, fields: dict) -> None:
    for k, v in fields.items():
        setattr(io, k, ENUMS[k][v.upper()] if k in ENUMS else v)


def read_inputs(rng: np.random.Generator, batch_in: int) -> tuple[np.ndarray, dict]:
    """Rows of several kinds: Gaussian, positive (saturating the rows of constant weight, so
    that bound management acts), all-zero, tiny, one-hot."""
    kinds = {"gauss": rng.normal(0.0, 1.0, (8, batch_in)),
             "positive": rng.uniform(0.5, 1.0, (8, batch_in)),
             "zero": np.zeros((4, batch_in)),
             "tiny": 1e-3 * rng.normal(0.0, 1.0, (4, batch_in)),
             "one_hot": np.eye(batch_in)[rng.choice(batch_in, 8, replace=False)]
             * rng.uniform(0.2, 2.0, (8, 1))}
    rows, classes, start = [], {}, 0
    for name, block in kinds.items():
        rows.append(block)
        classes[name] = list(range(start, start + len(block)))
        start += len(block)
    return np.round(np.concatenate(rows), 6), classes


def read_summary(reads: np.ndarray, exact: np.ndarray) -> dict:
    """Per sample: mean error over outputs and repeats (bias), rms over outputs of the mean
    error per output (the deterministic part: quantisation, clipping), and the pooled std over
    repeats (the noise); reads (R, B, n)."""
    err = reads - exact[None]
    mean_err = err.mean(0)
    return {"bias_mean": rounded(mean_err.mean(-1)),
            "bias_rms": rounded(np.sqrt((mean_err ** 2).mean(-1))),
            "noise_std": rounded(np.sqrt(err.var(0, ddof=1).mean(-1)))}


def record_reads(repeats: int = 2000) -> None:
    rng = np.random.default_rng(20240601)
    out_size, in_size = 16, 64
    w = rng.uniform(-0.3, 0.3, (out_size, in_size))
    w[:2] = 0.5                          # rows whose read of a positive input exceeds 20
    w = np.round(w, 6)
    x, x_classes = read_inputs(rng, in_size)
    d, d_classes = read_inputs(rng, out_size)
    wt = torch.tensor(w, dtype=torch.float32)
    xt, dt = torch.tensor(x, dtype=torch.float32), torch.tensor(d, dtype=torch.float32)
    exact_f = (xt.double() @ wt.double().T).numpy()
    exact_b = (dt.double() @ wt.double()).numpy()
    settings = {}
    for name, setting in READ_SETTINGS.items():
        fields = io_fields(setting)
        cfg = SingleRPUConfig(device=IdealDevice())     # unbounded: W is read as set
        apply_io(cfg.forward, fields)
        apply_io(cfg.backward, fields)
        tile = AnalogTile(out_size, in_size, cfg)
        tile.tile.set_weights(wt)
        assert torch.equal(tile.tile.get_weights(), wt)
        fwd = np.stack([tile.tile.forward(xt).numpy() for _ in range(repeats)])
        bwd = np.stack([tile.tile.backward(dt).numpy() for _ in range(repeats)])
        settings[name] = {"io": fields, "forward": read_summary(fwd, exact_f),
                          "backward": read_summary(bwd, exact_b)}
        print(f"reads {name}: fwd noise {np.mean(settings[name]['forward']['noise_std']):.4g}")
    write("reads", {"meta": meta(repeats=repeats, note="forward y = x Wᵀ, backward z = d W; "
                                 "aihwkit ignores bound management on the backward read"),
                    "W": rounded(w), "X": rounded(x), "D": rounded(d),
                    "x_classes": x_classes, "d_classes": d_classes, "settings": settings})


# -- single pulsed updates -------------------------------------------------------------------------

DW_MIN = 0.01
NO_SPREAD = {"dw_min_dtod": 0.0, "dw_min_std": 0.0, "up_down": 0.0, "up_down_dtod": 0.0, "w_max_dtod": 0.0,
                 "w_min_dtod": 0.0}
FAMILIES = {
    "soft_bounds": (SoftBoundsDevice, {"w_max": 0.6, "w_min": -0.6}),
    "constant_step": (ConstantStepDevice, {"w_max": 0.6, "w_min": -0.6}),
    "pow_step": (PowStepDevice, {"w_max": 1.0, "w_min": -1.0, "pow_gamma": 1.5, "pow_gamma_dtod": 0.0,
                                     "pow_up_down": 0.0, "pow_up_down_dtod": 0.0}),
    # analogsgd's ExpStep q₊ = 1 − exp(−γ₊(τ_max − w)/(τ_max − τ_min)) is aihwkit's with a = ½,
    # b = 0, A_up = exp(−γ₊ τ_max/(τ_max − τ_min)), A_down = exp(γ₋ τ_min/(τ_max − τ_min))
    "exp_step": (ExpStepDevice, {"w_max": 1.0, "w_min": -1.0, "a": 0.5, "b": 0.0, "gamma_up": 2.0,
                                     "gamma_down": 2.0, "A_up": math.exp(-1.0), "A_down": math.exp(-1.0),
                                     "dw_min_std_add": 0.0, "dw_min_std_slope": 0.0}),
}
VARIANTS = {
    "plain": ({}, {}, 10.0),
    "c2c": ({"dw_min_std": 0.3}, {}, 10.0),
    "d2d": ({"dw_min_dtod": 0.3, "up_down_dtod": 0.05, "w_max_dtod": 0.2, "w_min_dtod": 0.2}, {}, 10.0),
    # exp step: A₊, A₋ are fixed numbers in aihwkit, so a spread of the bounds has no analogsgd
    # counterpart; only the step sizes spread
    "d2d_steps": ({"dw_min_dtod": 0.3, "up_down_dtod": 0.05}, {}, 10.0),
    # aihwkit turns update management on whenever BL management is on (initialize()), so
    # "off" needs both off: BL = desired_bl, A = B = √(lr/(Δw BL))
    "um_off": ({}, {"update_management": False, "update_bl_management": False}, 10.0),
    "um_off_blm_on": ({}, {"update_management": False}, 10.0),
    "truncated": ({}, {}, 100.0),
    "truncated_um_off": ({}, {"update_management": False, "update_bl_management": False}, 100.0),
}


def update_inputs(rng: np.random.Generator, out_size: int, in_size: int):
    """x and d with magnitudes spread over a decade and both signs, some exact zeros."""
    x = rng.choice([-1.0, 1.0], in_size) * rng.uniform(0.1, 1.0, in_size)
    d = rng.choice([-1.0, 1.0], out_size) * rng.uniform(0.1, 1.0, out_size)
    x[0] = 0.0
    return np.round(x, 6), np.round(d, 6)


def record_updates(repeats: int = 6000) -> None:
    rng = np.random.default_rng(20240602)
    out_size, in_size = 6, 8
    x, d = update_inputs(rng, out_size, in_size)
    cases = []
    for family, (cls, shape) in FAMILIES.items():
        w = np.round(rng.uniform(0.6 * shape["w_min"], 0.6 * shape["w_max"], (out_size, in_size)), 6)
        for variant, (spread, update, bl_ratio) in VARIANTS.items():
            if (family != "soft_bounds" and variant in ("truncated_um_off", "um_off_blm_on")
                    or (family == "exp_step") != (variant == "d2d_steps") and "d2d" in variant):
                continue
            # lr such that lr·max|x|·max|d|/Δw_min = bl_ratio (> BL = 31: truncated trains)
            lr = bl_ratio * DW_MIN / (np.abs(x).max() * np.abs(d).max())
            device = {**NO_SPREAD, **shape, "dw_min": DW_MIN, **spread}
            cfg = SingleRPUConfig(device=cls(**device))
            cfg.forward.is_perfect = True
            cfg.backward.is_perfect = True
            for k, v in update.items():
                setattr(cfg.update, k, v)
            tile = AnalogTile(out_size, in_size, cfg)
            tile.set_learning_rate(float(lr))
            hidden = {k: v.numpy() for k, v in tile.get_hidden_parameters().items()}
            w_t = torch.tensor(w, dtype=torch.float32)
            xt = torch.tensor(x, dtype=torch.float32)[None]
            dt = torch.tensor(d, dtype=torch.float32)[None]
            dws = np.empty((repeats, out_size, in_size))
            for r in range(repeats):
                tile.tile.set_weights(w_t)
                tile.tile.update(xt, dt, False)
                dws[r] = tile.tile.get_weights().numpy() - w
            mean = dws.mean(0)
            cent = dws - mean
            cases.append({
                "name": f"{family}/{variant}", "family": family, "variant": variant,
                "device": device, "update": {"desired_bl": 31, "update_bl_management": True,
                                             "update_management": True, "um_grad_scale": 1.0,
                                             **update},
                "lr": float(lr), "bl_ratio": bl_ratio, "W": rounded(w),
                "hidden": {k: rounded(hidden[k]) for k in ("max_bound", "min_bound", "dwmin_up",
                                                           "dwmin_down")},
                "mean": np.round(mean, 9).tolist(),
                "var": np.round(cent.var(0, ddof=1), 12).tolist(),
                "m4": np.round((cent ** 4).mean(0), 15).tolist()})
            print(f"update {family}/{variant}: mean|ΔW| {np.abs(mean).mean():.4g}")
    write("updates", {"meta": meta(repeats=repeats, note="ΔW of one update(x, d) at W, "
                                   "W ← W − lr dᵀx; hidden: aihwkit's realised per-element "
                                   "bounds and steps"), "x": rounded(x), "d": rounded(d),
                      "cases": cases})


# -- Tiki-Taka transfer ----------------------------------------------------------------------------

TRANSFER_CASES = {
    "soft_bounds": (SoftBoundsDevice, {"w_max": 0.6, "w_min": -0.6}),
    "constant_step": (ConstantStepDevice, {"w_max": 0.6, "w_min": -0.6}),
}


def record_transfer(repeats_per_column: int = 1500) -> None:
    """One transfer of column j of A onto C (TransferCompound, transfer_every = 1, one column per
    transfer, perfect transfer read): an update with d = 0 leaves A unchanged and triggers the
    transfer C ← C + transfer_lr·lr·A[:, j] e_jᵀ, through C's pulsed update."""
    from aihwkit.simulator.configs import UnitCellRPUConfig
    from aihwkit.simulator.configs.compounds import TransferCompound
    from aihwkit.simulator.parameters.io import IOParameters

    rng = np.random.default_rng(20240603)
    out_size, in_size = 6, 8
    a = np.round(rng.uniform(-0.5, 0.5, (out_size, in_size)), 6)
    c = np.round(rng.uniform(-0.3, 0.3, (out_size, in_size)), 6)
    lr, transfer_lr, dw_fast, dw_slow = 0.5, 0.2, 0.01, 0.005
    cases = []
    for name, (cls, shape) in TRANSFER_CASES.items():
        fast = {**NO_SPREAD, "w_max": 0.6, "w_min": -0.6, "dw_min": dw_fast}
        slow = {**NO_SPREAD, **shape, "dw_min": dw_slow}
        compound = TransferCompound(
            unit_cell_devices=[SoftBoundsDevice(**fast), cls(**slow)], transfer_every=1,
            n_reads_per_transfer=1, transfer_columns=True, units_in_mbatch=False, gamma=0.0,
            transfer_lr=transfer_lr, scale_transfer_lr=True, fast_lr=0.0,
            transfer_forward=IOParameters(is_perfect=True))
        cfg = UnitCellRPUConfig(device=compound)
        cfg.forward.is_perfect = True
        cfg.backward.is_perfect = True
        tile = AnalogTile(out_size, in_size, cfg)
        tile.set_learning_rate(lr)
        hidden = tile.get_hidden_parameters()
        hidden["hidden_weights_0"] = torch.tensor(a, dtype=torch.float32)
        hidden["hidden_weights_1"] = torch.tensor(c, dtype=torch.float32)
        x = torch.ones(1, in_size)
        d = torch.zeros(1, out_size)
        dc = np.empty((in_size, repeats_per_column, out_size))
        off_column = 0.0
        for r in range(repeats_per_column * in_size):
            tile.set_hidden_parameters(hidden)
            tile.tile.update(x, d, False)
            after = tile.get_hidden_parameters()
            assert np.array_equal(after["hidden_weights_0"].numpy(), a.astype(np.float32))
            delta = after["hidden_weights_1"].numpy() - c.astype(np.float32)
            j = r % in_size                       # columns are visited cyclically from 0
            dc[j, r // in_size] = delta[:, j]
            off_column = max(off_column, float(np.abs(np.delete(delta, j, axis=1)).max()))
        mean = dc.mean(1)
        cent = dc - mean[:, None]
        cases.append({
            "name": name, "fast_device": fast, "slow_device": {"family": name, **slow},
            "lr": lr, "transfer_lr": transfer_lr, "scale_transfer_lr": True,
            "hidden_slow": {k: rounded(hidden[f"{k}_1"].numpy())
                            for k in ("max_bound", "min_bound", "dwmin_up", "dwmin_down")},
            "off_column_max_abs": off_column,
            "mean": np.round(mean, 9).tolist(), "var": np.round(cent.var(1, ddof=1), 12).tolist(),
            "m4": np.round((cent ** 4).mean(1), 15).tolist()})
        print(f"transfer {name}: mean ΔC / (α lr A) {np.mean(mean / (transfer_lr * lr * a.T)):.3f}")
    write("transfer", {"meta": meta(repeats_per_column=repeats_per_column,
                                    note="mean/var[j][i]: ΔC[i, j] of the transfer of column j"),
                       "A": rounded(a), "C": rounded(c), "cases": cases})


# -- short training curves -------------------------------------------------------------------------

#: the networks of analogsgd's digits-fcn and fmnist-cnn experiments, trained with Analog SGD on
#: soft bounds ±τ (no device spread), the paper's IO, batch 8, digital biases at the same lr.
#: digits: τ = 2 and lr 0.3, where 900 steps go from chance to ~70 % (at τ = 0.6 the decay
#: towards the symmetric point keeps a 64-32-10 network near chance for thousands of steps);
#: the CNN at the paper's τ = 0.6 and α = 0.05 for what fits in a few minutes.
CURVES = {
    "digits_fcn": {"dataset": "digits", "arch": "fcn", "hidden": 32, "activation": "sigmoid",
                   "tau": 2.0, "dw_min": 1e-3, "lr": 0.3, "batch": 8, "steps": 900,
                   "eval_every": 150, "n_train": 0, "n_test": 0, "seeds": 8},
    "fmnist_cnn": {"dataset": "fashion-mnist", "arch": "cnn", "hidden": 128, "activation": "tanh",
                   "tau": 0.6, "dw_min": 1e-3, "lr": 0.05, "batch": 8, "steps": 600,
                   "eval_every": 150, "n_train": 2000, "n_test": 500, "seeds": 4},
}
FMNIST = Path("/usr/share/datasets/fashion-mnist")


def load_curve_data(spec: dict):
    """digits: analogsgd.datasets.digits (split seed 0, a quarter for test, pixels/16);
    fashion-mnist: the first n_train / n_test images of the idx files, pixels/255."""
    if spec["dataset"] == "digits":
        from sklearn.datasets import load_digits
        bunch = load_digits()
        images = np.asarray(bunch.images, dtype=np.float32)[:, None] / 16.0
        labels = np.asarray(bunch.target)
        order = np.random.default_rng(0).permutation(len(labels))
        n_test = round(0.25 * len(labels))
        test, train = np.sort(order[:n_test]), np.sort(order[n_test:])
        return (torch.tensor(images[train]), torch.tensor(labels[train]),
                torch.tensor(images[test]), torch.tensor(labels[test]))
    import gzip

    def idx(name, offset):
        with gzip.open(FMNIST / name) as f:
            return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)
    tr_x = idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28)[:spec["n_train"]]
    tr_y = idx("train-labels-idx1-ubyte.gz", 8)[:spec["n_train"]]
    te_x = idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28)[:spec["n_test"]]
    te_y = idx("t10k-labels-idx1-ubyte.gz", 8)[:spec["n_test"]]
    f = lambda a: torch.tensor(a.astype(np.float32) / 255.0)
    return f(tr_x), torch.tensor(tr_y.astype(np.int64)), f(te_x), torch.tensor(te_y.astype(np.int64))


def curve_network(spec: dict) -> torch.nn.Sequential:
    """analogsgd's build_network (experiments/_network_common.py) for these two cases."""
    nn = torch.nn
    act = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh}[spec["activation"]]
    if spec["arch"] == "fcn":
        return nn.Sequential(nn.Flatten(), nn.Linear(64, spec["hidden"]), act(),
                             nn.Linear(spec["hidden"], 10))
    return nn.Sequential(nn.Conv2d(1, 16, 5), act(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 5), act(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(512, spec["hidden"]), act(),
                         nn.Linear(spec["hidden"], 10))


def init_parameters(model, generator) -> None:
    """U(−1/√fan_in, 1/√fan_in) for weights and biases, in module order (as analogsgd's)."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
                bound = 1.0 / math.sqrt(m.weight[0].numel())
                m.weight.uniform_(-bound, bound, generator=generator)
                m.bias.uniform_(-bound, bound, generator=generator)


def paper_io(io) -> None:
    apply_io(io, io_fields(READ_SETTINGS["paper"]))


def train_curve(spec: dict, data, seed: int) -> dict:
    from aihwkit.nn.conversion import convert_to_analog
    from aihwkit.optim import AnalogSGD

    tr_x, tr_y, te_x, te_y = data
    model = curve_network(spec)
    init_parameters(model, torch.Generator().manual_seed(seed))
    device = SoftBoundsDevice(**{**NO_SPREAD, "dw_min": spec["dw_min"], "w_max": spec["tau"],
                                 "w_min": -spec["tau"]})
    cfg = SingleRPUConfig(device=device)
    paper_io(cfg.forward)
    paper_io(cfg.backward)
    model = convert_to_analog(model, cfg)
    opt = AnalogSGD(model.parameters(), lr=spec["lr"])
    opt.regroup_param_groups(model)
    order = torch.Generator().manual_seed(seed + 1)
    loss_fn = torch.nn.functional.cross_entropy

    def evaluate():
        model.eval()
        with torch.no_grad():
            out = torch.cat([model(te_x[i:i + 500]) for i in range(0, len(te_x), 500)])
        model.train()
        return float(loss_fn(out, te_y)), 100.0 * float((out.argmax(1) == te_y).float().mean())

    hist = {"step": [0], "test_loss": [], "test_acc": [], "train_loss": [float("nan")]}
    loss0, acc0 = evaluate()
    hist["test_loss"].append(loss0)
    hist["test_acc"].append(acc0)
    perm, pos, window = torch.randperm(len(tr_x), generator=order), 0, []
    for step in range(1, spec["steps"] + 1):
        if pos + spec["batch"] > len(perm):
            perm, pos = torch.randperm(len(tr_x), generator=order), 0
        idx = perm[pos:pos + spec["batch"]]
        pos += spec["batch"]
        opt.zero_grad()
        loss = loss_fn(model(tr_x[idx]), tr_y[idx])
        loss.backward()
        opt.step()
        window.append(float(loss.detach()))
        if step % spec["eval_every"] == 0:
            test_loss, test_acc = evaluate()
            hist["step"].append(step)
            hist["train_loss"].append(float(np.mean(window)))
            hist["test_loss"].append(test_loss)
            hist["test_acc"].append(test_acc)
            window = []
    return hist


def record_curves(names=None) -> None:
    out = {"meta": meta(note="Analog SGD, soft bounds ±τ without device spread, paper IO; "
                        "one history per seed (torch seed of the init; data order seed + 1)")}
    for name, spec in CURVES.items():
        if names and name not in names:
            continue
        data = load_curve_data(spec)
        t0 = time.time()
        runs = [train_curve(spec, data, seed) for seed in range(spec["seeds"])]
        out[name] = {"spec": spec, "runs": runs, "seconds_per_run": (time.time() - t0) / len(runs)}
        accs = [r["test_acc"][-1] for r in runs]
        print(f"curves {name}: final test acc {np.mean(accs):.1f} ± {np.std(accs, ddof=1):.1f} % "
              f"({out[name]['seconds_per_run']:.0f} s per run)")
    write("curves", out)


SECTIONS = {"reads": record_reads, "updates": record_updates, "transfer": record_transfer,
            "curves": record_curves}

if __name__ == "__main__":
    torch.set_num_threads(1)
    for section in sys.argv[1:] or list(SECTIONS):
        if section not in SECTIONS:
            sys.exit(f"unknown section {section!r}; choose from {sorted(SECTIONS)}")
        t0 = time.time()
        SECTIONS[section]()
        print(f"{section}: {time.time() - t0:.0f} s")
