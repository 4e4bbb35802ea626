"""residual-cost: the hardware cost of TT-v2, Analog SGD, mixed precision and multi-tile residual
learning (update time per sample, digital storage, area, energy per image) against Li et al.,
arXiv 2510.02516, Tables 5–6 (model: hardware/cost.py; derivation: docs/residual-cost.md)."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Config, InstanceOf, Interval, NumberList, param
from ..hardware import cost
from ..hardware.cost import ALGORITHMS, CostParameters, EnergyParameters
from ..hardware.layers import AnalogLayer, AnalogNetwork, lenet5, resnet18_cifar
from . import _residual_cost_report as report
from .base import Experiment, RunContext

REFERENCE = ("Li, Wu, Liu, Gokmen, Chen. In-memory Training on Analog Devices with Limited "
             "Conductance States via Multi-tile Residual Learning. arXiv:2510.02516, 2025 "
             "(Tables 5-6, hardware cost)")

#: the paper's printed values, as printed (the last digit sets the precision of the comparison)
PAPER = {
    "update_time_ns": {"tt_v2": "56.3", "analog_sgd": "30.9", "mixed_precision": "3024.5",
                       "residual": "95.9"},
    "runtime_ns": {"LeNet-5": {"tt_v2": "56.3", "analog_sgd": "30.9", "mixed_precision": "457.4",
                               "residual": "95.9"},
                   "ResNet-18": {"tt_v2": "126.5", "analog_sgd": "77.7",
                                 "mixed_precision": "13528.0", "residual": "142.7"}},
    "storage_kb": {"LeNet-5": {"tt_v2": "80.2", "analog_sgd": "2.13", "mixed_precision": "94.8",
                               "residual": "2.13"},
                   "ResNet-18": {"tt_v2": "10600", "analog_sgd": "50.2",
                                 "mixed_precision": "17000", "residual": "50.2"}},
    "area_mm2": {"LeNet-5": "0.0128", "ResNet-18": "1.69"},
    "tile_area_mm2_d4096": "2.68",
    "energy_nj": {"mixed_precision": "83.2", "mp_update": "62.03", "mp_forward_backward": "21.21",
                  "residual_fixed": "12.82", "residual_per_tile": "9.44"},
    "energy_crossing_tiles": "8",
}


@dataclass(frozen=True)
class ResidualCostConfig(Config):
    d: int = param(512, "layer size D of Table 5's setting (a D × D layer)",
                   Interval(1, None, integer=True))
    n_tiles: list = param(list(range(1, 13)), "tile counts N of the residual curves (time, "
                          "energy, area)", NumberList(Interval(1, None, integer=True), increasing=True))
    resnet_classes: int = param(10, "outputs of ResNet-18's analog FC layer (CIFAR-10: 10, "
                                "CIFAR-100: 100)", Interval(1, None, integer=True))
    cost: CostParameters = param(CostParameters(), "hardware and algorithm parameters (Table 5)",
                                 InstanceOf(CostParameters))
    energy: EnergyParameters = param(EnergyParameters(), "energy per image of the perceptron",
                                     InstanceOf(EnergyParameters))


def networks(config: ResidualCostConfig) -> tuple[AnalogNetwork, ...]:
    return lenet5(), resnet18_cifar(n_classes=config.resnet_classes)


def compare(ours: float, printed: str) -> dict:
    """``ours`` beside the paper's ``printed`` value: relative difference and whether ours
    rounds to it (within half a unit of its last printed digit; trailing zeros of an integer
    are taken as not significant)."""
    value = float(printed)
    return {"ours": ours, "paper": value, "rel_diff": (ours - value) / value,
            "reproduced": abs(ours - value) <= 0.5 * printed_unit(printed) * (1 + 1e-9)}


def _beside(ours: float, paper: float) -> dict:
    """``ours`` beside a value computed from the paper's formula (not a printed number)."""
    return {"ours": ours, "paper": paper, "rel_diff": (ours - paper) / paper}


def printed_unit(printed: str) -> float:
    """The unit of the last significant digit of ``printed``: "56.3" → 0.1, "10600" → 100."""
    if "." in printed:
        return 10.0 ** -len(printed.split(".")[1])
    return 10.0 ** (len(printed) - len(printed.rstrip("0")))


def run(config: ResidualCostConfig, ctx: RunContext) -> dict:
    p = config.cost
    layer = AnalogLayer(f"{config.d}x{config.d}", config.d, config.d)
    update_time = {a: cost.update_time_ns(a, layer, p) for a in ALGORITHMS}
    table5 = {a: {**compare(update_time[a], PAPER["update_time_ns"][a]),
                  "terms_ns": cost.update_time_terms(a, layer, p)} for a in ALGORITHMS}
    per_net = {}
    for net in networks(config):
        per_net[net.name] = {
            "analog_layers": len(net.layers), "n_weights": net.n_weights,
            "n_biases": net.n_biases, "sum_d_in": net.n_inputs,
            "largest_layer": {"name": net.largest.name, "d_out": net.largest.d_out,
                              "d_in": net.largest.d_in},
            "runtime_ns": {a: compare(cost.network_update_time_ns(a, net, p),
                                      PAPER["runtime_ns"][net.name][a]) for a in ALGORITHMS},
            "storage_kb": {a: compare(cost.storage_bytes(a, net, p) / 1e3,
                                      PAPER["storage_kb"][net.name][a]) for a in ALGORITHMS},
            "area_mm2": compare(cost.area_mm2(net, p), PAPER["area_mm2"][net.name]),
            "area_mm2_by_algorithm": {
                **{a: cost.area_mm2(net, p, a) for a in ("tt_v2", "analog_sgd", "mixed_precision")},
                "residual": {str(n): cost.area_mm2(net, p, "residual", n) for n in config.n_tiles}},
        }
    e = config.energy
    energy = {
        "mixed_precision": compare(cost.energy_per_image_nj("mixed_precision", e),
                                   PAPER["energy_nj"]["mixed_precision"]),
        "residual": {str(n): _beside(cost.energy_per_image_nj("residual", e, n),
                                     float(PAPER["energy_nj"]["residual_fixed"])
                                     + n * float(PAPER["energy_nj"]["residual_per_tile"]))
                     for n in config.n_tiles},
        "crossing_tiles": compare(float(cost.energy_crossing_tiles(e)),
                                  PAPER["energy_crossing_tiles"]),
    }
    tile = compare(cost.tile_area_um2(4096, p) * 1e-6, PAPER["tile_area_mm2_d4096"])
    residual_time = {str(n): cost.update_time_ns("residual", layer, p, n) for n in config.n_tiles}
    rows = report.rows(table5, per_net, energy, tile)
    summary = {
        "update_time_ns": update_time,
        "reproduced": sum(r["reproduced"] for r in rows),
        "compared": len(rows),
        "not_reproduced": [f"{r['quantity']} {r['network']} {r['algorithm']}".strip()
                           for r in rows if not r["reproduced"]],
        "energy_crossing_tiles": cost.energy_crossing_tiles(e),
        "mp_over_residual_runtime": {n: per_net[n]["runtime_ns"]["mixed_precision"]["ours"]
                                     / per_net[n]["runtime_ns"]["residual"]["ours"] for n in per_net},
    }
    metrics = {"summary": summary, "update_time_ns": update_time, "table5": table5,
               "networks": per_net, "energy_per_image_nj": energy, "tile_area_mm2_d4096": tile,
               "residual_update_time_ns": residual_time, "citations": [REFERENCE]}
    report.write(ctx.out, config, metrics, rows)
    return metrics


def full() -> ResidualCostConfig:
    return ResidualCostConfig()


def quick() -> ResidualCostConfig:
    return ResidualCostConfig()


EXPERIMENT = Experiment(
    name="residual-cost",
    description="hardware cost (update time, storage, area, energy) of TT-v2, Analog SGD, mixed "
                "precision and residual learning vs Li et al. Tables 5-6",
    full=full, quick=quick, run=run, references=(REFERENCE,))
