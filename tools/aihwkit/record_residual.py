"""Record reference statistics of aihwkit 1.2.0's multi-device TransferCompound, the chained
part of residual learning (Li et al. 2025), as one small fixture
(tests/data/aihwkit/residual.json).

Run by a developer, never by CI, with the python of the aihwkit venv (tools/aihwkit/build.sh):

    OMP_NUM_THREADS=1 $AIHWKIT_VENV/bin/python tools/aihwkit/record_residual.py [steps] [reads] [curves]

The compound: N unit-cell devices of one spec, device 0 the gradient tile, the visible weight
W = Σ_k γ^(N−1−k) W_k (``gamma_vec``), transfer j moving the next column of device j onto device
j + 1 every ``transfer_every_vec[j]`` mini-batches (``units_in_mbatch``, one column per transfer,
``transfer_every_vec[N−1]`` = 0) at the absolute rate ``transfer_lr_vec[j]``
(``scale_transfer_lr`` False), the gradient write at the absolute rate ``fast_lr``
(``scale_fast_lr`` False). The transfer write uses aihwkit's default UpdateParameters (BL 31,
both managements on), the same as the gradient write; every read is perfect but in ``reads``
and the default-IO curve. analogsgd's tile n is device N−1−n.

* ``steps``: one update (x, d) of a 4×3 tile with 3 devices in which both transfers fire
  (transfer_every_vec (1, 2, 0), so transfer 1 fires at every even update). Every repeat builds
  a fresh tile, runs ``warmup`` updates with x = 1, d = 0 (BL management gives BL = 0 at d = 0:
  devices 0 and 1 stay exactly 0, checked; they advance the update counter and both column
  cursors), sets hidden_weights_0/1/2 and runs the update. Transfer j's
  column after w warm-up updates is w mod 3 (j = 0) and ⌊w/2⌋ mod 3 (j = 1): w = 5 reads column
  2 twice (transfer 1 reads the middle device after transfer 0 wrote that column), w = 3 reads
  columns 0 and 1. Recorded: the mean, variance and fourth central moment over repeats of the
  change of every device and of the visible weight (which equals Σ γ_k W_k, checked here).
* ``reads``: the forward and backward reads of the first step case's state through output
  noise alone and through aihwkit's default IOParameters (record.py's read_summary): aihwkit
  reads the visible weight Σ γ_k W_k once, where analogsgd reads each tile.
* ``curves``: record_rules.py's noiseless regression (8 → 4, batch 4, 400 steps, 6 seeds, the
  test MSE every 50 steps) with N = 3 and N = 4 devices, γ = 0.5, perfect reads, and N = 3
  with aihwkit's default IOParameters forward and backward (the transfer reads perfect).

Inputs are rounded to 6 decimals, so both tools read the same float32 numbers; aihwkit's C++
generators are not seeded by torch.manual_seed: the fixture holds statistics, not draws.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch
from aihwkit.simulator.configs import UnitCellRPUConfig
from aihwkit.simulator.configs.compounds import TransferCompound
from aihwkit.simulator.parameters.io import IOParameters
from aihwkit.simulator.parameters.training import UpdateParameters
from aihwkit.simulator.tiles import AnalogTile
from record import NO_SPREAD, OUT, apply_io, io_fields, meta, read_summary, rounded
from record_rules import (
    CURVE,
    CURVE_FAST,
    GRADIENT_UPDATE,
    device,
    inputs,
    moments,
    perfect,
    train_with,
)

OUT_SIZE, IN_SIZE = 4, 3

#: every device of a step case: bounds ±0.6, Δw_min 0.01, no device spread, aihwkit's default
#: 30 % cycle-to-cycle noise (stated, not defaulted); one spec for all devices, so the gradient
#: write's granularity (the mean of the devices' Δw_min) is the gradient tile's own Δw_min
STEP_DEVICE = {**NO_SPREAD, "w_max": 0.6, "w_min": -0.6, "dw_min": 0.01, "dw_min_std": 0.3}

#: the transfer write: aihwkit's default UpdateParameters (BL 31, both managements on), stated
TRANSFER_UPDATE = dict(GRADIENT_UPDATE)


def fields(n: int, gamma: float, every: list, lr: list, fast_lr: float) -> dict:
    """The TransferCompound fields of residual learning over ``n`` devices (``every`` and ``lr``
    for the transfers j = 0 … n−2; the last device transfers nowhere)."""
    return {"gamma_vec": [gamma ** (n - 1 - k) for k in range(n)],
            "transfer_every_vec": [*every, 0], "transfer_lr_vec": [*lr, 0.0],
            "units_in_mbatch": True, "n_reads_per_transfer": 1, "transfer_columns": True,
            "fast_lr": fast_lr, "scale_fast_lr": False, "scale_transfer_lr": False}


def rpu_config(n: int, spec: dict, compound_fields: dict) -> UnitCellRPUConfig:
    """n devices of ``spec``, perfect forward, backward and transfer reads."""
    cfg = UnitCellRPUConfig(device=TransferCompound(
        unit_cell_devices=[device(spec) for _ in range(n)], transfer_forward=perfect(),
        transfer_update=UpdateParameters(**TRANSFER_UPDATE), **compound_fields))
    cfg.forward = perfect()
    cfg.backward = perfect()
    cfg.update = UpdateParameters(**GRADIENT_UPDATE)
    return cfg


# -- one update with both transfers ----------------------------------------------------------------

STEP_FIELDS = fields(3, 0.5, [1, 2], [0.5, 0.25], 0.05)


def step_cases() -> list[dict]:
    """Each case: the device, the warm-up, the columns both transfers read, the state set
    (hidden_weights_k within ±0.4) and the update's x, d."""
    rng = np.random.default_rng(20251002)
    cases = []
    for family, warmup in (("constant_step", 5), ("constant_step", 3), ("soft_bounds", 5)):
        columns = [warmup % IN_SIZE, (warmup // 2) % IN_SIZE]
        name = f"{family}/{'same_column' if columns[0] == columns[1] else 'two_columns'}"
        state = {f"hidden_weights_{k}": np.round(rng.uniform(-0.4, 0.4, (OUT_SIZE, IN_SIZE)), 6)
                 for k in range(3)}
        cases.append({"name": name, "device": {"family": family, **STEP_DEVICE},
                      "fields": STEP_FIELDS, "warmup": warmup, "columns": columns,
                      "set": state, **inputs(rng)})
    return cases


def run_case(case: dict, repeats: int) -> dict:
    n = len(case["set"])
    cfg = rpu_config(n, case["device"], case["fields"])
    gammas = np.asarray(case["fields"]["gamma_vec"])
    x = torch.tensor(case["x"], dtype=torch.float32)[None]
    d = torch.tensor(case["d"], dtype=torch.float32)[None]
    ones, zeros = torch.ones(1, IN_SIZE), torch.zeros(1, OUT_SIZE)
    before = {k: np.asarray(v, dtype=np.float32) for k, v in case["set"].items()}
    w_before = sum(g * before[f"hidden_weights_{k}"].astype(np.float64)
                   for k, g in enumerate(gammas))
    after = {k: np.empty((repeats, OUT_SIZE, IN_SIZE)) for k in before}
    dw = np.empty((repeats, OUT_SIZE, IN_SIZE))
    for r in range(repeats):
        tile = AnalogTile(OUT_SIZE, IN_SIZE, cfg)
        tile.set_learning_rate(case["fields"]["fast_lr"])
        for _ in range(case["warmup"]):
            tile.tile.update(ones, zeros, False)
        h = tile.get_hidden_parameters()
        # d = 0: BL management gives BL = 0, so the gradient tile (device 0) stays 0 and the
        # transfers onto device 1 and 2 read zero columns of devices 0 and 1 (device 2 holds the
        # tile's initial weight, and transfers nowhere)
        assert not h["hidden_weights_0"].any() and not h["hidden_weights_1"].any()
        for k, v in before.items():
            h[k] = torch.tensor(v)
        tile.set_hidden_parameters(h)
        w0 = tile.tile.get_weights().numpy().astype(np.float64)
        assert np.allclose(w0, w_before, atol=1e-6), "the visible weight is Σ γ_k W_k"
        tile.tile.update(x, d, False)
        h = tile.get_hidden_parameters()
        for k, value in before.items():
            after[k][r] = h[k].numpy() - value
        w1 = tile.tile.get_weights().numpy().astype(np.float64)
        total = sum(g * h[f"hidden_weights_{k}"].numpy().astype(np.float64)
                    for k, g in enumerate(gammas))
        assert np.allclose(w1, total, atol=1e-6), "the visible weight is Σ γ_k W_k"
        dw[r] = w1 - w0
    hidden = tile.get_hidden_parameters()
    spec = case["device"]
    # no device spread: every device realises the spec's step and bounds exactly
    for key, value in (("dwmin_up", spec["dw_min"]), ("dwmin_down", spec["dw_min"]),
                       ("max_bound", spec["w_max"]), ("min_bound", spec["w_min"])):
        for k in range(n):
            assert np.allclose(hidden[f"{key}_{k}"].numpy(), value, atol=1e-7), (key, k)
    return {"delta": {k: moments(v) for k, v in after.items()}, "dW": moments(dw)}


def record_steps(repeats: int = 2000) -> dict:
    out = []
    for case in step_cases():
        t0 = time.time()
        stats = run_case(case, repeats)
        rec = {k: (rounded(v) if isinstance(v, np.ndarray) else v) for k, v in case.items()
               if k != "set"}
        rec["set"] = {k: rounded(v) for k, v in case["set"].items()}
        rec["repeats"] = repeats
        rec["rpu_config"] = str(rpu_config(len(case["set"]), case["device"], case["fields"]))
        rec.update(stats)
        out.append(rec)
        moved = {k: int((np.abs(np.asarray(v["mean"])) > 0).sum()) for k, v in stats["delta"].items()}
        print(f"step {case['name']}: elements moved per device {moved} ({time.time() - t0:.0f} s)")
    return {"steps": out}


# -- reads of the combined weight -------------------------------------------------------------------

#: output noise alone, and aihwkit's default IOParameters (7-bit DAC, 9-bit ADC on ±12, output
#: noise 0.06, abs-max noise management, iterative bound management forward)
READ_SETTINGS = {"out_noise": {"out_noise": 0.1}, "aihwkit_default": "IOParameters()"}


def record_reads(repeats: int = 2000) -> dict:
    """Forward and backward reads of a 3-device compound at the first step case's state (the
    visible weight Σ γ_k W_k), through each setting (read_summary: per sample the mean error,
    the rms of the mean error per output and the pooled noise std)."""
    rng = np.random.default_rng(20251003)
    case = step_cases()[0]
    x = np.round(rng.normal(0.0, 1.0, (8, IN_SIZE)), 6)
    d = np.round(rng.normal(0.0, 1.0, (8, OUT_SIZE)), 6)
    xt, dt = torch.tensor(x, dtype=torch.float32), torch.tensor(d, dtype=torch.float32)
    out = {"state": {k: rounded(v) for k, v in case["set"].items()}, "fields": case["fields"],
           "device": case["device"], "X": rounded(x), "D": rounded(d), "repeats": repeats,
           "settings": {}}
    for name, setting in READ_SETTINGS.items():
        fields = io_fields(setting)
        cfg = rpu_config(3, case["device"], case["fields"])
        cfg.forward, cfg.backward = IOParameters(), IOParameters()
        apply_io(cfg.forward, fields)
        apply_io(cfg.backward, fields)
        tile = AnalogTile(OUT_SIZE, IN_SIZE, cfg)
        h = tile.get_hidden_parameters()
        for k, v in case["set"].items():
            h[k] = torch.tensor(v, dtype=torch.float32)
        tile.set_hidden_parameters(h)
        w = tile.tile.get_weights()
        exact_f = (xt.double() @ w.double().T).numpy()
        exact_b = (dt.double() @ w.double()).numpy()
        fwd = np.stack([tile.tile.forward(xt).numpy() for _ in range(repeats)])
        bwd = np.stack([tile.tile.backward(dt).numpy() for _ in range(repeats)])
        out["settings"][name] = {"io": fields, "forward": read_summary(fwd, exact_f),
                                 "backward": read_summary(bwd, exact_b)}
        print(f"reads {name}: fwd noise {np.mean(out['settings'][name]['forward']['noise_std']):.4g}"
              f", bwd {np.mean(out['settings'][name]['backward']['noise_std']):.4g}")
    return {"reads": out}


# -- short training curves -------------------------------------------------------------------------

CURVE_LR = 0.05
#: name → (fields, the forward and backward IO setting: None perfect, else as READ_SETTINGS);
#: the transfer reads are perfect in every case
CURVE_CASES = {
    "n3": (fields(3, 0.5, [2, 10], [0.5, 0.25], CURVE_LR), None),
    "n4": (fields(4, 0.5, [2, 10, 50], [0.5, 0.25, 0.1], CURVE_LR), None),
    "n3_default_io": (fields(3, 0.5, [2, 10], [0.5, 0.25], CURVE_LR), "IOParameters()"),
}


def record_curves() -> dict:
    out = {"spec": CURVE, "lr": CURVE_LR, "device": CURVE_FAST,
           "gradient_update": GRADIENT_UPDATE, "transfer_update": TRANSFER_UPDATE, "cases": {}}
    for name, (f, setting) in CURVE_CASES.items():
        t0 = time.time()
        n = len(f["gamma_vec"])
        cfg = rpu_config(n, CURVE_FAST, f)
        io = None
        if setting is not None:
            io = io_fields(setting)
            cfg.forward, cfg.backward = IOParameters(), IOParameters()
            apply_io(cfg.forward, io)
            apply_io(cfg.backward, io)
        runs = [train_with(cfg, seed, CURVE_LR) for seed in range(CURVE["seeds"])]
        out["cases"][name] = {"fields": f, "io": io, "runs": runs, "rpu_config": str(cfg)}
        final = [r[-1] for r in runs]
        print(f"curve {name}: MSE {np.mean([r[0] for r in runs]):.4g} → {np.mean(final):.4g} "
              f"± {np.std(final, ddof=1):.2g} ({time.time() - t0:.0f} s)")
    return {"curves": out}


SECTIONS = {"steps": record_steps, "reads": record_reads, "curves": record_curves}

if __name__ == "__main__":
    import json

    torch.set_num_threads(1)
    path = OUT / "residual.json"
    data = json.loads(path.read_text()) if path.is_file() else {}
    for section in sys.argv[1:] or list(SECTIONS):
        if section not in SECTIONS:
            sys.exit(f"unknown section {section!r}; choose from {sorted(SECTIONS)}")
        t0 = time.time()
        data.update(SECTIONS[section]())
        print(f"{section}: {time.time() - t0:.0f} s")
    data["meta"] = meta(note="steps: statistics of one update in which both transfers fire, from "
                        "a set state (delta: hidden weight after − before; dW: the visible "
                        "weight); reads: read_summary of the compound's forward and backward reads; curves: "
                        "test MSE per eval_every steps, one list per seed")
    path.write_text(json.dumps(data, separators=(",", ":")) + "\n")
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
