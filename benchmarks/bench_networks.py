"""Speed of one training step of a 784-256-10 network, as a ratio to the digital step.

One thread on the CPU (and the same on a CUDA GPU when one is present and asked for). For each
batch size (1, 10, 64) a step is: forward through Linear(784, 256)-sigmoid-Linear(256, 10),
cross-entropy, backward, optimizer step. Methods:

* ``digital``: ``torch.nn`` layers + ``torch.optim.SGD`` (the reference, ratio 1);
* ``analog_sgd``: both layers :class:`~analogsgd.nn.AnalogLinear`, pulsed Analog SGD on
  soft-bounds devices ±0.7, Δw_min 1e-3, read through the paper's periphery (8-bit DAC/ADC,
  output noise 0.1, noise and iterative bound management), learnable output scale: exactly the
  layers of ``fmnist-fcn``; trained by :class:`~analogsgd.nn.AnalogOptimizer`;
* ``tiki_taka``: the same with Tiki-Taka v1 (fast and slow tile, one column transferred per step);
* ``analog_sgd_ideal_io``: Analog SGD with exact reads (the cost of the update alone).

Methods are interleaved round by round (load from other processes hits all alike); the median
per-step time after a warm-up is reported with its ratio to the digital step of the same batch
in the same run. Results go to ``benchmarks/results/networks-<device>.json``.

For reference (IBM aihwkit on CPU, ``shared/reference/peers-and-stack.md`` §1): about 3× the
digital step at batch 1, 6× at batch 10 and 7–8× at batch 64.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_networks.py [--device cpu|cuda] [--repeats 40]``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
from pathlib import Path

import torch
from torch import nn

from analogsgd.experiments._network_analog import analog_model_and_optimizer
from analogsgd.experiments._network_common import NetworkConfig
from analogsgd.experiments._network_model import build_network, init_parameters
from analogsgd.rng import torch_generator

from _timing import interleaved_ratios, machine_note, report

TAU = 0.7
CFG = NetworkConfig(hidden=(256,))  # fmnist-fcn's settings, one hidden layer of 256


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _step_fn(model: nn.Module, opt: torch.optim.Optimizer, x, y):
    def step():
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return step


def methods(batch: int, device: torch.device) -> dict:
    g = torch.Generator().manual_seed(batch)
    x = torch.rand(batch, 1, 28, 28, generator=g).to(device)
    y = torch.randint(0, 10, (batch,), generator=g).to(device)

    def network():
        net = build_network(CFG, (1, 28, 28), 10)
        init_parameters(net, torch_generator(0))
        return net.to(device)

    digital = network()
    out = {"digital": _step_fn(digital, torch.optim.SGD(digital.parameters(), lr=CFG.digital_lr), x, y)}
    for name, cfg, alg in (("analog_sgd", CFG, "analog_sgd"), ("tiki_taka", CFG, "tiki_taka"),
                           ("analog_sgd_ideal_io", CFG.replace(periphery="ideal"), "analog_sgd")):
        model, opt = analog_model_and_optimizer(network(), cfg, alg, TAU, seed=1)
        out[name] = _step_fn(model, opt, x, y)
    return out


def bench(batch: int, repeats: int, device: torch.device, warmup: int = 5) -> dict:
    return interleaved_ratios(methods(batch, device), repeats, warmup, sync=lambda: _sync(device))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda, or auto (cuda when available)")
    parser.add_argument("--repeats", type=int, default=40, help="timed steps per method and batch")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 10, 64])
    parser.add_argument("--out", type=Path, default=None, help="results file (default "
                        "benchmarks/results/networks-<device>.json)")
    parser.add_argument("--note", default="", help="free text stored with the results")
    args = parser.parse_args(argv)
    name = "cuda" if args.device == "auto" and torch.cuda.is_available() else args.device
    if name == "auto":
        name = "cpu"
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    torch.set_num_threads(1)
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    results = {"machine": machine_note(gpu=gpu), "note": args.note, "device": str(device),
               "network": "784-256-10 sigmoid", "tau": TAU, "repeats": args.repeats, "batches": {}}
    for b in args.batches:
        results["batches"][str(b)] = bench(b, args.repeats, device)
    print(f"one training step of the 784-256-10 network on {device} (median ms, ratio to digital)")
    out = args.out or Path(__file__).resolve().parent / "results" / f"networks-{device.type}.json"
    report(results, args.batches, out, width=22)
    return results


if __name__ == "__main__":
    main()
