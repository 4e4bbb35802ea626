"""Speed of one training step of a 784×256 analog tile: analogsgd, aihwkit and digital torch.

One thread. For batch 1 and 64, each method runs one step = forward y = x Wᵀ, backward
z = d W, update, with exact reads (no periphery), x uniform on [0, 1) and d = 0.1·N(0, 1):

* ``digital``: ``nn.Linear(784, 256, bias=False)`` + ``torch.optim.SGD`` (autograd backward);
* ``analog_sgd``: pulsed Analog SGD (lr 0.05) on aihwkit's default soft-bounds device (±0.6,
  Δw_min 1e-3, d2d/c2c spread: :func:`analogsgd.devices.presets.aihwkit_soft_bounds`), BL 31
  with bit-length and update management; pulse coincidences counted by their moments on the
  numba kernels as ``kernel="auto"`` chooses (``[numba]``), on the dense or the sparse kernel
  alone (``[dense]``, ``[sparse]``) or the torch path (``[torch]``), or drawn pulse by pulse
  (``[bit_trains]``, what aihwkit does);
* ``tiki_taka``: pulsed Tiki-Taka v1, fast (lr 0.05) and slow (transfer lr 0.1) tiles of that
  device, one column transferred every step;
* ``analog_sgd_expected``: Analog SGD in expected mode;
* ``aihwkit_*``: the same tile, device, update and rates in aihwkit (``_aihwkit_worker.py``, run
  with the Python of ``AIHWKIT_VENV``; perfect reads, one tile), same x, d and initial weights;
  ``aihwkit_digital`` is the digital step in that process.

Every method is timed the same way (``_timing.block_timing``): warm-up, then rounds of one
block of consecutive steps per method, the order reversed every other round; the median
per-step time (and its min–max over rounds) is reported in ms beside its ratio to the digital
step of the same batch, and analogsgd's time over aihwkit's. Writes
``benchmarks/results/crossbar.json``.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_crossbar.py [--rounds 15] [--block 20]``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
from pathlib import Path

import _aihwkit
import torch
from _timing import (
    AIHWKIT_SETTINGS_TITLE,
    block_timing,
    local_runner,
    machine_note,
    over,
    report,
    show_settings,
)

from analogsgd.crossbar import AnalogTile, TileConfig, UpdateConfig, fused
from analogsgd.devices.presets import aihwkit_soft_bounds
from analogsgd.optim.sgd import AnalogSGD
from analogsgd.optim.tiki_taka import TikiTaka, TikiTakaConfig

IN, OUT = 784, 256
LR, TRANSFER_LR = 0.05, 0.1
PRESET = aihwkit_soft_bounds()
SETTINGS = {
    "tile": f"{OUT}x{IN}, one tile, exact reads both ways (aihwkit: is_perfect=True), no bias",
    "device": _aihwkit.DEVICE,
    "update": _aihwkit.UPDATE,
    "rates": f"Analog SGD lr {LR}; Tiki-Taka fast lr {LR}, transfer lr {TRANSFER_LR}, one column "
             "every step",
    "inputs": "x uniform on [0, 1), d = 0.1·N(0, 1): dense, no element skipped",
}


def _tile(seed: int, mode: str = "pulsed", kernel: str = "auto",
          counting: str = "moments") -> AnalogTile:
    cfg = TileConfig(device=PRESET.device, variation=PRESET.variation,
                     update=UpdateConfig(mode=mode, kernel=kernel, counting=counting))
    return AnalogTile((OUT, IN), cfg, torch.Generator().manual_seed(seed))


def _initial_weight() -> torch.Tensor:
    return 0.1 * torch.randn(OUT, IN, generator=torch.Generator().manual_seed(2))


def _digital(x, d):
    layer = torch.nn.Linear(IN, OUT, bias=False)
    opt = torch.optim.SGD(layer.parameters(), lr=LR)

    def step():
        opt.zero_grad(set_to_none=False)
        y = layer(x)
        y.backward(d)
        opt.step()
    return step


def _analog(x, d, mode="pulsed", kernel="auto", counting="moments"):
    tile = _tile(1, mode, kernel, counting)
    tile.set_weight(_initial_weight())
    rule = AnalogSGD(tile)

    def step():
        tile.forward(x)
        tile.backward(d)
        rule.step(x, d, LR)
    step.tile = tile
    return step


def _tiki_taka(x, d, kernel="auto"):
    fast, slow = _tile(3, kernel=kernel), _tile(4, kernel=kernel)
    rule = TikiTaka(fast, slow, TikiTakaConfig(transfer_lr=TRANSFER_LR, transfer_every=1,
                                               columns_per_transfer="one"))

    def step():
        slow.forward(x)
        slow.backward(d)
        rule.step(x, d, LR)
    step.tile = fast
    return step


def inputs(batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(batch)
    return torch.rand(batch, IN, generator=g), 0.1 * torch.randn(batch, OUT, generator=g)


def methods(batch: int) -> dict:
    x, d = inputs(batch)
    out = {"digital": _digital(x, d)}
    kernels = ["numba", "torch"] if fused.NUMBA_AVAILABLE else ["torch"]
    for k in kernels:
        out[f"analog_sgd[{k}]"] = _analog(x, d, kernel="auto" if k == "numba" else "torch")
    if fused.NUMBA_AVAILABLE:
        out["analog_sgd[dense]"] = _analog(x, d, kernel="dense")
        out["analog_sgd[sparse]"] = _analog(x, d, kernel="sparse")
    out["analog_sgd[bit_trains]"] = _analog(x, d, counting="bit_trains")
    for k in kernels:
        out[f"tiki_taka[{k}]"] = _tiki_taka(x, d, kernel="auto" if k == "numba" else "torch")
    out["analog_sgd_expected"] = _analog(x, d, mode="expected")
    return out


def pairs() -> dict[str, str]:
    """analogsgd method -> its aihwkit counterpart (the fastest analogsgd path)."""
    k = "numba" if fused.NUMBA_AVAILABLE else "torch"
    return {f"analog_sgd[{k}]": "aihwkit_analog_sgd", "analog_sgd[bit_trains]": "aihwkit_analog_sgd",
            f"tiki_taka[{k}]": "aihwkit_tiki_taka", "digital": "aihwkit_digital"}


def aihwkit_data(batch: int) -> dict:
    """What the aihwkit worker needs to build the same methods: inputs, weights, rates."""
    x, d = inputs(batch)
    return {"x": x, "d": d, "weight": _initial_weight(), "lr": LR, "transfer_lr": TRANSFER_LR}


def bench(batch: int, rounds: int, block: int, worker=None) -> tuple[dict, dict]:
    """(timings of every method, aihwkit's settings) at one batch size."""
    steps = methods(batch)
    runners = {name: local_runner(f) for name, f in steps.items()}
    settings = {}
    if worker:
        remote, settings = worker.setup("crossbar", aihwkit_data(batch))
        runners.update(remote)
    results = block_timing(runners, rounds, block)
    for name, f in steps.items():  # which implementation ran the update
        results[name]["path"] = getattr(getattr(f, "tile", None), "last_update_path", None)
    return results, settings


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="timed blocks per method and batch")
    parser.add_argument("--block", type=int, default=20, help="most consecutive steps per block")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--no-aihwkit", action="store_true", help="skip the aihwkit methods")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parent / "results" / "crossbar.json")
    parser.add_argument("--note", default="", help="free text stored with the results")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    worker, why_not = _aihwkit.start(not args.no_aihwkit)
    results = {"machine": machine_note(), "note": args.note, "settings": SETTINGS,
               "rounds": args.rounds, "block": args.block,
               "aihwkit": worker.info if worker else why_not, "batches": {}, "over_aihwkit": {}}
    show_settings("settings (analogsgd and aihwkit alike)", SETTINGS)
    try:
        for b in args.batches:
            results["batches"][str(b)], settings = bench(b, args.rounds, args.block, worker)
            results["over_aihwkit"][str(b)] = over(results["batches"][str(b)], pairs())
            if settings and "aihwkit_settings" not in results:
                results["aihwkit_settings"] = settings
                show_settings(AIHWKIT_SETTINGS_TITLE, settings)
    finally:
        if worker:
            worker.close()
    print(f"\none training step of a {OUT}x{IN} tile")
    report(results, args.batches, args.out, width=26)
    return results


if __name__ == "__main__":
    main()
