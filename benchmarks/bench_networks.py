"""Speed of one training step of a 784-256-10 network: analogsgd, aihwkit and digital torch.

One thread on the CPU (``--device cuda`` runs the analogsgd side on a GPU). For each batch size
(``--batches``, default 1, 8, 10, 64) a step is: forward through
Linear(784, 256)-sigmoid-Linear(256, 10), cross-entropy, backward, optimizer step. Methods:

* ``digital``: ``torch.nn`` layers + ``torch.optim.SGD`` (the reference, ratio 1);
* ``analog_sgd``: both layers :class:`~analogsgd.nn.AnalogLinear` on one tile each, pulsed
  Analog SGD (α = 0.05) on aihwkit's default ``SoftBoundsDevice`` (±0.6, Δw_min = 1e-3, its
  device-to-device and cycle-to-cycle spread: :func:`analogsgd.devices.presets.aihwkit_soft_bounds`),
  aihwkit's default update (BL 31, bit-length and update management) and periphery both ways
  (:class:`~analogsgd.crossbar.periphery.PeripheryConfig` defaults: 7-bit DAC, 9-bit ADC with
  bound 12, output noise 0.06, abs-max noise management, iterative bound management forward),
  digital biases, no output or weight scaling;
* one method per registered analog rule (``--rules``; every one by default), with the network
  studies' rates (:func:`analogsgd.experiments._network_analog.rule_config`), for example
* ``tiki_taka``: the same with Tiki-Taka v1 (fast and slow tile, β = 0.01, transfer α = 0.05,
  one column per step, read through the same periphery);
* ``<rule>_bit_trains``: the same rule with ``counting="bit_trains"``: the shared row and
  column trains drawn bit by bit (:mod:`analogsgd.crossbar.trains`), the process aihwkit
  simulates, where the default ``moments`` draws each element independently (``--counting``
  chooses which are timed);
* ``analog_sgd_ideal_io``: Analog SGD with exact reads (the cost of the update alone);
* ``aihwkit_*``: the same network and settings in aihwkit (``_aihwkit_worker.py``, run with the
  Python of ``AIHWKIT_VENV``), same initial weights and inputs; ``aihwkit_digital`` is the
  digital step in that process, a check that both processes time alike.

Every method is timed the same way (``_timing.block_timing``): warm-up, then rounds of one block
of consecutive steps per method, the order reversed every other round; the median per-step time
(and its min–max over rounds) is reported in ms beside its ratio to ``digital`` of the same
batch, and analogsgd's time over aihwkit's. Results go to ``benchmarks/results/networks-<device>.json``.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_networks.py [--rounds 15] [--block 20]``.
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
from torch import nn

from analogsgd.crossbar import TileConfig, UpdateConfig
from analogsgd.crossbar.periphery import PeripheryConfig
from analogsgd.devices.presets import aihwkit_soft_bounds
from analogsgd.experiments._network_analog import rule_config
from analogsgd.experiments._network_common import NetworkConfig
from analogsgd.experiments._network_model import build_network, init_parameters
from analogsgd.nn import AnalogLayerConfig, AnalogOptimizer, analog_layers, convert_to_analog
from analogsgd.nn.function import AnalogContext
from analogsgd.optim import registry
from analogsgd.rng import torch_generator

NETWORK = NetworkConfig(hidden=(256,), activation="sigmoid")  # 784-256-10 sigmoid
DIGITAL_LR, ALPHA, BETA = 0.1, 0.05, 0.01
PRESET = aihwkit_soft_bounds()
TILE = TileConfig(device=PRESET.device, variation=PRESET.variation, update=UpdateConfig(),
                  periphery=PeripheryConfig())
SETTINGS = {
    "network": "784-256-10, sigmoid, cross-entropy, digital biases, one tile per layer",
    "device": _aihwkit.DEVICE,
    "update": _aihwkit.UPDATE,
    "periphery": "forward and backward: 7-bit DAC (bound 1), 9-bit ADC (bound 12), output noise "
                 "0.06, abs-max noise management; iterative bound management forward "
                 "(max_bm_factor 1000, max_bm_res 0.25) (aihwkit IOParameters defaults)",
    "rates": f"digital SGD lr {DIGITAL_LR}; Analog SGD α {ALPHA}; Tiki-Taka fast β {BETA} "
             f"(fixed), transfer α {ALPHA} every mini-batch, one column, read through the "
             "forward periphery; digital biases SGD at α",
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _step_fn(model: nn.Module, opt: torch.optim.Optimizer, x, y):
    def step():
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    step.model = model
    return step


def update_paths(model: nn.Module) -> list[str] | None:
    """Which implementation ran the last pulsed update of each analog tile (None if digital)."""
    paths = {tile.last_update_path for _, layer in analog_layers(model) for tile in layer.rule.tiles}
    return sorted(str(p) for p in paths) or None


def network() -> nn.Sequential:
    """The digital network with its seeded initial weights (the same for every method)."""
    net = build_network(NETWORK, (1, 28, 28), 10)
    init_parameters(net, torch_generator(0))
    return net


def analog(net: nn.Module, algorithm: str, periphery: PeripheryConfig, counting: str = "moments"):
    """(analog copy of ``net``, its optimizer): the rule ``algorithm`` (a registry kind) with the
    network studies' rates (:func:`~analogsgd.experiments._network_analog.rule_config`):
    gradient write at α, or at β for a fast-tile rule, digital parameters at α; ``counting``:
    the pulsed update's :attr:`~analogsgd.crossbar.UpdateConfig.counting`."""
    rule = rule_config(algorithm, NETWORK.analog_lr, NETWORK.transfer_every)
    tile = TILE.replace(periphery=periphery, update=TILE.update.replace(counting=counting))
    cfg = AnalogLayerConfig(rule=rule, tile=tile)
    model = convert_to_analog(net, cfg, generator=1)
    contexts = [p for p in model.parameters() if isinstance(p, AnalogContext)]
    digital = [p for p in model.parameters() if not isinstance(p, AnalogContext)]
    write_lr = BETA if type(rule).fast_tile else ALPHA
    return model, AnalogOptimizer([{"params": contexts, "lr": write_lr},
                                   {"params": digital, "lr": ALPHA}], lr=write_lr)


def inputs(batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(batch)
    return torch.rand(batch, 1, 28, 28, generator=g), torch.randint(0, 10, (batch,), generator=g)


def method_name(rule: str, counting: str) -> str:
    return rule if counting == "moments" else f"{rule}_{counting}"


def methods(batch: int, device: torch.device, rules: tuple[str, ...],
            countings: tuple[str, ...] = ("moments",)) -> dict:
    x, y = (t.to(device) for t in inputs(batch))
    digital = network().to(device)
    out = {"digital": _step_fn(digital, torch.optim.SGD(digital.parameters(), lr=DIGITAL_LR), x, y)}
    for name, alg, periphery, counting in (
            [(method_name(kind, c), kind, PeripheryConfig(), c) for c in countings for kind in rules]
            + [("analog_sgd_ideal_io", "analog_sgd", PeripheryConfig.ideal(), "moments")]):
        model, opt = analog(network().to(device), alg, periphery, counting)
        out[name] = _step_fn(model, opt, x, y)
    return out


def aihwkit_data(batch: int, rules: tuple[str, ...]) -> dict:
    """What the aihwkit worker needs to build the same methods: weights, inputs, rates, rules."""
    x, y = inputs(batch)
    return {"state_dict": network().state_dict(), "x": x, "y": y, "digital_lr": DIGITAL_LR,
            "analog_lr": ALPHA, "fast_lr": BETA, "rules": list(rules)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda, or auto (cuda when available)")
    parser.add_argument("--rounds", type=int, default=15, help="timed blocks per method and batch")
    parser.add_argument("--block", type=int, default=20, help="most consecutive steps per block")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 10, 64])
    parser.add_argument("--no-aihwkit", action="store_true", help="skip the aihwkit methods")
    parser.add_argument("--rules", nargs="+", default=list(registry.analog_kinds()),
                        choices=registry.analog_kinds(), help="learning rules to time "
                        "(default: every registered analog rule)")
    parser.add_argument("--counting", nargs="+", default=["moments", "bit_trains"],
                        choices=["moments", "bit_trains"], help="pulse counting of the analog "
                        "methods (default both: moments is the library's default, bit_trains "
                        "aihwkit's process)")
    parser.add_argument("--out", type=Path, default=None, help="results file (default "
                        "benchmarks/results/networks-<device>.json)")
    parser.add_argument("--note", default="", help="free text stored with the results")
    args = parser.parse_args(argv)
    name = "cuda" if args.device == "auto" and torch.cuda.is_available() else args.device
    device = torch.device("cpu" if name == "auto" else name)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    torch.set_num_threads(1)
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    worker, why_not = _aihwkit.start(not args.no_aihwkit and device.type == "cpu")
    results = {"machine": machine_note(gpu=gpu), "note": args.note, "device": str(device),
               "settings": SETTINGS, "rounds": args.rounds, "block": args.block,
               "aihwkit": worker.info if worker else why_not, "batches": {}, "over_aihwkit": {}}
    show_settings("settings (analogsgd and aihwkit alike)", SETTINGS)
    try:
        for b in args.batches:
            steps = methods(b, device, tuple(args.rules), tuple(args.counting))
            runners = {n: local_runner(f, lambda: _sync(device)) for n, f in steps.items()}
            if worker:
                remote, settings = worker.setup("networks", aihwkit_data(b, tuple(args.rules)))
                runners.update(remote)
                if "aihwkit_settings" not in results:
                    results["aihwkit_settings"] = settings
                    show_settings(AIHWKIT_SETTINGS_TITLE, settings)
            results["batches"][str(b)] = block_timing(runners, args.rounds, args.block)
            for n, f in steps.items():
                results["batches"][str(b)][n]["path"] = update_paths(f.model)
            pairs = {**{method_name(k, c): f"aihwkit_{k}" for c in args.counting
                        for k in args.rules}, "digital": "aihwkit_digital"}
            results["over_aihwkit"][str(b)] = over(results["batches"][str(b)], pairs)
    finally:
        if worker:
            worker.close()
    print(f"\none training step of the 784-256-10 network on {device}")
    out = args.out or Path(__file__).resolve().parent / "results" / f"networks-{device.type}.json"
    report(results, args.batches, out, width=22)
    return results


if __name__ == "__main__":
    main()
