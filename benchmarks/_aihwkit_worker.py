"""The aihwkit side of the speed benchmarks: a worker process run with aihwkit's own Python.

``bench_networks.py`` and ``bench_crossbar.py`` start it (``python _aihwkit_worker.py``, with the
interpreter of the venv that ``AIHWKIT_VENV`` names) and drive it over stdin/stdout, one JSON
object per line, so that the aihwkit methods are timed in the same block-timing rounds as
analogsgd's (``_timing.block_timing``):

* ``{"cmd": "setup", "bench": "networks" | "crossbar", "data": PATH}``: build the methods from
  the tensors saved at PATH (inputs, targets, initial weights, written by the parent with
  ``torch.save``) and answer ``{"methods": [...], "settings": {...}}``;
* ``{"cmd": "block", "method": NAME, "n": N}``: run N consecutive steps, answer
  ``{"s": wall-clock seconds, "cpu_s": CPU seconds of this process}``;
* ``{"cmd": "info"}``: versions and threads; ``{"cmd": "quit"}`` ends the process.

The settings are aihwkit's defaults except where the analogsgd side differs from them, and
every such choice is listed in the ``settings`` answer (printed and stored by the parent):

* device: ``SoftBoundsDevice()`` (Δw_min = 1e-3, bounds ±0.6, dw_min_dtod = dw_min_std = 0.3,
  w_min/w_max_dtod = 0.3, up_down_dtod = 0.01) on every tile;
* update: ``UpdateParameters()`` (BL 31, stochastic compressed pulses, bit-length and update
  management);
* mapping: one tile per layer (``max_input_size = max_output_size = 0``; aihwkit's default
  splits the 784-input layer over two tiles of at most 512 inputs, analogsgd uses one tile),
  digital bias, no weight or output scaling;
* network periphery: ``IOParameters()`` forward and backward (and for Tiki-Taka's transfer read),
  aihwkit's default; crossbar periphery: ``is_perfect=True`` both ways (and transfer read), as
  the analogsgd crossbar benchmark reads exactly;
* Tiki-Taka: ``TransferCompound`` of two such devices, transfer every mini-batch, one column
  per transfer, γ = 0; fixed fast rate β (``scale_fast_lr=False``);
* TT-v2: ``BufferedTransferCompound`` with its defaults (:func:`_tt_v2`); c-TTv2, AGAD and
  mixed precision: aihwkit's ``build_config`` for that algorithm on ``SoftBoundsDevice()`` with
  its defaults (:data:`BUILD_CONFIG_KEYS`).

Imports only torch, aihwkit and ``_timing`` (not analogsgd), so it runs in aihwkit's venv.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import torch
from _timing import run_block
from torch import nn


def _configs(perfect_io: bool, fast_lr: float, transfer_lr: float, scale_transfer_lr: bool):
    """(Analog SGD rpu_config, Tiki-Taka rpu_config) of the module docstring."""
    from aihwkit.simulator.configs import SingleRPUConfig, UnitCellRPUConfig
    from aihwkit.simulator.configs.compounds import TransferCompound
    from aihwkit.simulator.configs.devices import SoftBoundsDevice
    from aihwkit.simulator.parameters import IOParameters, MappingParameter

    def mapping():
        return MappingParameter(max_input_size=0, max_output_size=0, digital_bias=True,
                                weight_scaling_omega=0.0, learn_out_scaling=False)

    def io():
        return IOParameters(is_perfect=perfect_io)

    sgd = SingleRPUConfig(device=SoftBoundsDevice(), forward=io(), backward=io(), mapping=mapping())
    compound = TransferCompound(unit_cell_devices=[SoftBoundsDevice(), SoftBoundsDevice()],
                                transfer_every=1, units_in_mbatch=True, n_reads_per_transfer=1,
                                transfer_columns=True, gamma=0.0, fast_lr=fast_lr,
                                scale_fast_lr=False, transfer_lr=transfer_lr,
                                scale_transfer_lr=scale_transfer_lr, transfer_forward=io())
    tiki_taka = UnitCellRPUConfig(device=compound, forward=io(), backward=io(), mapping=mapping())
    return sgd, tiki_taka


#: analogsgd rule kind -> aihwkit build_config key (its defaults for that algorithm); TT-v2 is
#: not among them: build_config's "ttv2" is a ChoppedTransferCompound without chopping that
#: transfers every mat-vec, analogsgd's TT-v2 the BufferedTransferCompound (:func:`_tt_v2`)
BUILD_CONFIG_KEYS = {"chopped_tiki_taka": "c-ttv2", "agad": "agad", "mixed_precision": "mp"}


def _build_config(key: str):
    """aihwkit's ``build_config(key, SoftBoundsDevice())`` with the benchmark's mapping (one tile
    per layer, digital bias) and its default IOParameters."""
    from aihwkit.simulator.configs import build_config
    from aihwkit.simulator.configs.devices import SoftBoundsDevice
    from aihwkit.simulator.parameters import MappingParameter

    return build_config(key, SoftBoundsDevice(), mapping=MappingParameter(
        max_input_size=0, max_output_size=0, digital_bias=True, weight_scaling_omega=0.0,
        learn_out_scaling=False))


def _tt_v2():
    """TT-v2 as analogsgd's ``tiki_taka_v2`` follows it: ``BufferedTransferCompound`` of two
    ``SoftBoundsDevice()`` with its Python defaults (one column every mini-batch, thres_scale 1,
    momentum 0.1, transfer BL 1 without management), the gradient BL 5 of build_config, aihwkit's
    default IOParameters and the benchmark's mapping."""
    from aihwkit.simulator.configs import UnitCellRPUConfig
    from aihwkit.simulator.configs.compounds import BufferedTransferCompound
    from aihwkit.simulator.configs.devices import SoftBoundsDevice
    from aihwkit.simulator.parameters import MappingParameter, UpdateParameters

    compound = BufferedTransferCompound(unit_cell_devices=[SoftBoundsDevice(), SoftBoundsDevice()],
                                        transfer_every=1, units_in_mbatch=True,
                                        n_reads_per_transfer=1)
    return UnitCellRPUConfig(device=compound, update=UpdateParameters(desired_bl=5),
                             mapping=MappingParameter(max_input_size=0, max_output_size=0,
                                                      digital_bias=True, weight_scaling_omega=0.0,
                                                      learn_out_scaling=False))


def _network_step(model: nn.Module, opt, x: torch.Tensor, y: torch.Tensor):
    def step():
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return step


def network_methods(data: dict) -> tuple[dict, dict]:
    """digital, Analog SGD and Tiki-Taka steps of the 784-256-10 sigmoid network."""
    from aihwkit.nn.conversion import convert_to_analog
    from aihwkit.optim import AnalogSGD

    def digital_net():
        net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.Sigmoid(), nn.Linear(256, 10))
        net.load_state_dict(data["state_dict"])
        return net

    x, y = data["x"], data["y"]
    sgd_cfg, tt_cfg = _configs(False, data["fast_lr"], 1.0, True)
    digital = digital_net()
    methods = {"digital": _network_step(digital, torch.optim.SGD(digital.parameters(),
                                                                lr=data["digital_lr"]), x, y)}
    own = {"analog_sgd": sgd_cfg, "tiki_taka": tt_cfg, "tiki_taka_v2": _tt_v2()}
    configs = {kind: own[kind] if kind in own else _build_config(BUILD_CONFIG_KEYS[kind])
               for kind in data.get("rules", own) if kind in own or kind in BUILD_CONFIG_KEYS}
    for name, cfg in configs.items():
        model = convert_to_analog(digital_net(), cfg)
        model.train()
        opt = AnalogSGD(model.parameters(), lr=data["analog_lr"])  # α; TT: transfer α·1.0
        opt.regroup_param_groups(model)
        methods[name] = _network_step(model, opt, x, y)
    settings = {**{name: str(cfg) for name, cfg in configs.items()},
                "optimizer": f"aihwkit.optim.AnalogSGD(lr={data['analog_lr']}); Tiki-Taka fast_lr "
                             f"β = {data['fast_lr']} fixed, transfer lr = 1.0 · lr"}
    return methods, settings


def crossbar_methods(data: dict) -> tuple[dict, dict]:
    """digital, Analog SGD and Tiki-Taka steps (forward, backward, update) of one tile."""
    from aihwkit.simulator.tiles import AnalogTile

    x, d, lr = data["x"], data["d"], data["lr"]
    out_size, in_size = data["weight"].shape
    layer = nn.Linear(in_size, out_size, bias=False)
    opt = torch.optim.SGD(layer.parameters(), lr=lr)

    def digital():
        opt.zero_grad(set_to_none=False)
        layer(x).backward(d)
        opt.step()

    sgd_cfg, tt_cfg = _configs(True, lr, data["transfer_lr"], False)
    tiles = {}
    for name, cfg, w in (("analog_sgd", sgd_cfg, data["weight"]),
                         ("tiki_taka", tt_cfg, torch.zeros(out_size, in_size))):
        tile = AnalogTile(out_size, in_size, cfg, bias=False)
        tile.set_learning_rate(lr)
        tile.set_weights(w)
        tiles[name] = tile

    def tile_step(tile):
        def step():
            tile.joint_forward(x)
            tile.backward(d)
            tile.update(x, d)
        return step

    methods = {"digital": digital, **{name: tile_step(t) for name, t in tiles.items()}}
    settings = {"analog_sgd": str(sgd_cfg), "tiki_taka": str(tt_cfg),
                "lr": f"tile lr {lr}; Tiki-Taka fast_lr {lr}, transfer_lr {data['transfer_lr']} "
                      "(absolute)"}
    return methods, settings


def _info() -> dict:
    import aihwkit
    return {"aihwkit": aihwkit.__version__, "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "python": sys.version.split()[0]}


def main() -> None:
    torch.set_num_threads(1)
    methods: dict = {}
    for line in sys.stdin:
        msg = json.loads(line)
        cmd = msg["cmd"]
        if cmd == "quit":
            break
        if cmd == "info":
            answer = _info()
        elif cmd == "setup":
            data = torch.load(msg["data"], weights_only=True)
            build = {"networks": network_methods, "crossbar": crossbar_methods}[msg["bench"]]
            methods, settings = build(data)
            answer = {"methods": list(methods), "settings": settings}
        elif cmd == "block":
            wall, cpu = run_block(methods[msg["method"]], int(msg["n"]))
            answer = {"s": wall, "cpu_s": cpu}
        else:
            answer = {"error": f"unknown command {cmd!r}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
