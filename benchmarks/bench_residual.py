"""Speed of one residual-learning training step with N = 1 … 8 tiles, against one Tiki-Taka step.

One thread on the CPU. The layer is LeNet-5's FC 512→128 (``residual-lenet``) as one
:class:`~analogsgd.nn.AnalogLinear` with a digital bias, batch 16, exact reads
(:meth:`~analogsgd.crossbar.periphery.PeripheryConfig.ideal`), pulsed updates on the study's
4-state device (soft bounds ±1, Δw_min = 0.5). A step is: forward, ½‖y − t‖², backward,
optimizer step. Methods:

* ``tiki_taka``: Tiki-Taka v1 (fast and slow tile, β = 0.1, transfer α = 0.1 every step, one
  column), the reference (ratio 1);
* ``residual_1``: Analog SGD on one tile (what residual learning is with one tile);
* ``residual_N``, N = 2 … 8: :class:`~analogsgd.optim.residual.ResidualConfig` with N tiles,
  γ = 0.5, the authors' LeNet-5 transfer periods 2·5ⁱ steps and rates, past the warm start
  (``warm_start=False``: the chained transfers of the steady state). Forward and backward read
  all N tiles; the gradient goes onto the last; transfer i runs every 2·5ⁱ steps, so the
  transfers add about ½ + ⅒ + … of a one-column transfer per step whatever N.

Every method is timed the same way (``_timing.block_timing``): warm-up, then rounds of one
block of consecutive steps per method, the order reversed every other round; the median
per-step time (min–max over rounds) is printed in ms beside its ratio to ``tiki_taka``.
Results go to ``benchmarks/results/residual-cpu.json``.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_residual.py [--rounds 15] [--block 40]``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
from pathlib import Path

import torch
from _timing import block_timing, local_runner, machine_note, report, show_settings

from analogsgd.crossbar import TileConfig, UpdateConfig
from analogsgd.crossbar.periphery import PeripheryConfig
from analogsgd.devices.linear_step import asymmetric_linear_device
from analogsgd.nn import AnalogLayerConfig, AnalogLinear, AnalogOptimizer
from analogsgd.nn.function import AnalogContext
from analogsgd.optim import ResidualConfig
from analogsgd.optim.sgd import AnalogSGDConfig
from analogsgd.optim.tiki_taka import TikiTakaConfig

D_IN, D_OUT, BATCH, LR, GAMMA = 512, 128, 16, 0.1, 0.5
TILE = TileConfig(device=asymmetric_linear_device(1.0, 0.5), update=UpdateConfig(mode="pulsed"),
                  periphery=PeripheryConfig.ideal())
SETTINGS = {
    "layer": f"AnalogLinear {D_IN}→{D_OUT} (LeNet-5's FC layer), digital bias, batch {BATCH}",
    "device": "soft bounds ±1, Δw_min 0.5 (4 states), no spread; pulsed update, exact reads",
    "tiki_taka": f"β {LR} (gradient), transfer α {LR} every step, one column",
    "residual_N": f"N tiles, γ {GAMMA}, gradient rate {LR}, transfer periods 2·5^i steps, rates "
                  "0.1·1.2^(N−1−i), chained transfers (past the warm start); N = 1: Analog SGD",
}


def rule(name: str):
    if name == "tiki_taka":
        return TikiTakaConfig(transfer_lr=LR, transfer_every=1)
    n = int(name.split("_")[1])
    if n == 1:
        return AnalogSGDConfig()
    return ResidualConfig(n_tiles=n, gamma=GAMMA, warm_start=False)


def step_fn(name: str):
    """One training step of the layer under rule ``name`` on fixed inputs (seeded)."""
    g = torch.Generator().manual_seed(0)
    x, target = torch.rand(BATCH, D_IN, generator=g), 0.1 * torch.randn(BATCH, D_OUT, generator=g)
    digital = torch.nn.Linear(D_IN, D_OUT)
    with torch.no_grad():
        bound = D_IN ** -0.5
        digital.weight.uniform_(-bound, bound, generator=g)
        digital.bias.zero_()
    layer = AnalogLinear.from_digital(digital, AnalogLayerConfig(rule=rule(name), tile=TILE),
                                      generator=1)
    contexts = [p for p in layer.parameters() if isinstance(p, AnalogContext)]
    others = [p for p in layer.parameters() if not isinstance(p, AnalogContext)]
    opt = AnalogOptimizer([{"params": contexts}, {"params": others}], lr=LR)

    def step():
        opt.zero_grad()
        (0.5 * (layer(x) - target).pow(2).sum()).backward()
        opt.step()
    return step


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="timed blocks per method")
    parser.add_argument("--block", type=int, default=40, help="most consecutive steps per block")
    parser.add_argument("--tiles", type=int, nargs="+", default=list(range(1, 9)))
    parser.add_argument("--out", type=Path, default=None, help="results file (default "
                        "benchmarks/results/residual-cpu.json)")
    parser.add_argument("--note", default="", help="free text stored with the results")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    names = ["tiki_taka", *(f"residual_{n}" for n in args.tiles)]
    results = {"machine": machine_note(), "note": args.note, "device": "cpu",
               "settings": SETTINGS, "rounds": args.rounds, "block": args.block, "batches": {}}
    show_settings("settings", SETTINGS)
    runners = {n: local_runner(step_fn(n)) for n in names}
    results["batches"][str(BATCH)] = block_timing(runners, args.rounds, args.block,
                                                  baseline="tiki_taka")
    print(f"\none training step of an AnalogLinear {D_IN}→{D_OUT}; ratio: × one Tiki-Taka step "
          "(the column headed '× dig.')")
    out = args.out or Path(__file__).resolve().parent / "results" / "residual-cpu.json"
    report(results, [BATCH], out, width=12)
    return results


if __name__ == "__main__":
    main()
