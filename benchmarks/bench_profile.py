"""Where one training step's time goes: a stage-by-stage profile of the 784-256-10 network.

The network, rates, periphery and inputs of ``bench_networks.py`` (its :func:`network`,
:func:`analog`, :func:`inputs` and :func:`_step_fn`, imported), one thread on the CPU, for each
rule of ``--rules`` (default Analog SGD and Tiki-Taka) and batch of ``--batches`` (1, 8, 64).

Method: the functions of each stage are wrapped, in this process only, by timers that add up
``time.perf_counter`` (wall) and ``time.process_time`` (CPU) per stage; a wrapper found by
module attribute replaces every reference held by an ``analogsgd`` module (``from .x import f``
included), a method is wrapped on its class, and everything is restored after each block. Times
are **exclusive**: a nested stage's time is subtracted from its caller, so the stages add up to
the step. Calls made inside a rule's ``transfer`` (Tiki-Taka's column read and write) are kept
apart as ``transfer › …`` rows. A stage whose function is absent is reported as n/a.

Stages: the forward and backward reads (``periphery.analog_mvm`` by its ``direction``: DAC,
ADC, noise, noise and bound management), the rest of the step (autograd, loss, activations,
``zero_grad``: the exclusive time of the whole step), the optimizer's Python
(``AnalogOptimizer.step`` with the rule's ``step`` and the digital biases), the tile update's
own Python (``AnalogTile.update``: path choice, key draw, buffers), the argument checks
(``AnalogTile._check_update``), ``pulse_probabilities`` (torch) or ``fast_probabilities.probabilities`` (numba),
``batch_moments``, the numba kernels (dense: ``fused.apply_moments``, ``fused.apply_outer``;
sparse: ``sparse.apply_sparse``, or ``sparse.update_sparse`` with the probabilities in the same
compiled call, which also runs the bit-train kernel of ``--counting bit_trains``; bit trains with
given probabilities: ``trains.apply_trains``), the torch update (``DeviceArray.apply_pulses``)
and the rule's ``transfer``.

Per rule and batch: ``--warmup`` steps, then ``--rounds`` rounds that each run a block of
``--steps``/``--rounds`` steps of the unwrapped step, the wrapped step and the digital step
(the order reversed every other round). Reported: ms per step (mean) and the fraction of the
wrapped step per stage, wall and CPU; the unwrapped step time, so the wrappers' overhead shows;
the digital step; the cost of one wrapped call (on a no-op) and the wrapped calls per step.
Results go to ``benchmarks/results/profile-cpu.json`` (``--out``), with the machine note.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_profile.py [--steps 200] [--batches 1 8 64]``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import functools
import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import contextmanager
from importlib import import_module
from pathlib import Path

import torch
from _timing import loadavg, machine_note, run_block
from bench_networks import DIGITAL_LR, SETTINGS, _step_fn, analog, inputs, network, update_paths

from analogsgd.crossbar.periphery import PeripheryConfig
from analogsgd.nn import analog_layers
from analogsgd.optim import registry

#: (key, table label, where: "module:attribute path"); the order of the table's rows
STAGES = (
    ("forward_read", "forward read (analog_mvm)", "analogsgd.crossbar.periphery:analog_mvm"),
    ("backward_read", "backward read (analog_mvm)", "analogsgd.crossbar.periphery:analog_mvm"),
    ("autograd_rest", "rest: autograd, loss, zero_grad", ""),
    ("optimizer", "optimizer Python (step, rule, biases)", "analogsgd.nn.optimizer:AnalogOptimizer.step"),
    ("tile_update", "AnalogTile.update, own Python", "analogsgd.crossbar.tile:AnalogTile.update"),
    ("check_update", "argument checks (_check_update)",
     "analogsgd.crossbar.tile:AnalogTile._check_update"),
    ("pulse_probabilities", "pulse_probabilities", "analogsgd.crossbar.pulse_trains:pulse_probabilities"),
    ("fast_probabilities", "fast_probabilities.probabilities (numba)",
     "analogsgd.crossbar.fast_probabilities:probabilities"),
    ("batch_moments", "batch_moments", "analogsgd.crossbar.pulse_trains:batch_moments"),
    ("apply_moments", "fused.apply_moments (dense kernel)", "analogsgd.crossbar.fused:apply_moments"),
    ("apply_outer", "fused.apply_outer (dense kernel, one-hot rows)",
     "analogsgd.crossbar.fused:apply_outer"),
    ("apply_sparse", "sparse.apply_sparse (sparse kernel)", "analogsgd.crossbar.sparse:apply_sparse"),
    ("apply_trains", "trains.apply_trains (bit-train kernel)", "analogsgd.crossbar.trains:apply_trains"),
    ("update_sparse", "sparse.update_sparse (probabilities + sparse/bit-train kernel)",
     "analogsgd.crossbar.sparse:update_sparse"),
    ("apply_pulses", "DeviceArray.apply_pulses (torch)",
     "analogsgd.devices.variation:DeviceArray.apply_pulses"),
    ("transfer", "transfer, own Python (rule.transfer)", "rule:transfer"),
)
LABELS = {key: label for key, label, _ in STAGES}
GROUP = "transfer"  # calls inside it are reported as "transfer/<stage>"
_MISSING = object()


class Profiler:
    """Exclusive wall and CPU seconds per stage key: a call's time minus its wrapped callees'
    (``wall`` and ``cpu`` are the clocks, seconds)."""

    def __init__(self, wall: Callable[[], float] = time.perf_counter,
                 cpu: Callable[[], float] = time.process_time):
        self.clocks = wall, cpu
        self.stack: list[list] = []   # per open call: [key prefix of its callees, wall, CPU]
        self.totals: dict[str, list] = defaultdict(lambda: [0.0, 0.0, 0])  # wall, CPU, calls

    def wrap(self, fn: Callable, key: str | Callable[[tuple, dict], str]) -> Callable:
        """``fn`` timed under ``key`` (or ``key(args, kwargs)``), nested under an open group."""
        stack, totals = self.stack, self.totals
        perf, cpu = self.clocks
        key_of = key if callable(key) else (lambda args, kwargs: key)

        @functools.wraps(fn)
        def timed(*args, **kwargs):
            prefix = stack[-1][0] if stack else ""
            name = prefix + key_of(args, kwargs)
            frame = [name + "/" if name == GROUP else prefix, 0.0, 0.0]
            stack.append(frame)
            c0, t0 = cpu(), perf()
            try:
                return fn(*args, **kwargs)
            finally:
                t, c = perf() - t0, cpu() - c0
                stack.pop()
                total = totals[name]
                total[0] += t - frame[1]
                total[1] += c - frame[2]
                total[2] += 1
                if stack:
                    stack[-1][1] += t
                    stack[-1][2] += c
        return timed


def call_cost_us(calls: int = 20000) -> float:
    """µs that one wrapper adds to a call (a wrapped no-op less a bare one, best of 3)."""
    profiler = Profiler()
    bare = lambda: None
    timed = profiler.wrap(bare, "calibration")

    def per_call(fn):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        return (time.perf_counter() - t0) / calls
    return round(1e6 * min(per_call(timed) - per_call(bare) for _ in range(3)), 3)


def _read_direction(args: tuple, kwargs: dict) -> str:
    direction = kwargs.get("direction", args[4] if len(args) > 4 else "forward")
    return "backward_read" if direction == "backward" else "forward_read"


def locate(where: str, rule_classes: tuple[type, ...]) -> tuple[list, str]:
    """([(owner, attribute name, function)], '') for ``where``, or ([], why it is n/a)."""
    if where.startswith("rule:"):
        name = where.partition(":")[2]
        found = [(cls, name, getattr(cls, name)) for cls in rule_classes if hasattr(cls, name)]
        return found, "" if found else "n/a: the rule has no " + name
    module, _, path = where.partition(":")
    try:
        owner = import_module(module)
    except ImportError as e:
        return [], f"n/a: {e}"
    obj = owner
    for part in path.split("."):
        owner, obj = obj, getattr(obj, part, _MISSING)
        if obj is _MISSING:
            return [], f"n/a: {where} not found"
    name = path.rsplit(".", 1)[-1]
    if not isinstance(owner, type):   # a module function: every analogsgd module that holds it
        return [(m, attr, obj) for mod_name, m in list(sys.modules.items())
                if mod_name.split(".")[0] == "analogsgd"
                for attr, value in list(vars(m).items()) if value is obj], ""
    return [(owner, name, obj)], ""


@contextmanager
def wrapped(profiler: Profiler, rule_classes: tuple[type, ...]):
    """Every stage's functions wrapped by ``profiler`` inside the block; yields where each
    stage was found (or why it is n/a)."""
    undo, sources, done = [], {}, {}
    try:
        for key, _, where in STAGES:
            if not where:
                sources[key] = "the whole step, less its wrapped stages"
                continue
            if where in done:              # analog_mvm: one wrapper for both reads
                sources[key] = done[where]
                continue
            found, why = locate(where, rule_classes)
            timer = _read_direction if key in ("forward_read", "backward_read") else key
            timed = {}                     # one wrapper per function, set in every place
            for owner, attr, fn in found:
                undo.append((owner, attr, vars(owner).get(attr, _MISSING)))
                if id(fn) not in timed:
                    timed[id(fn)] = profiler.wrap(fn, timer)
                setattr(owner, attr, timed[id(fn)])
            done[where] = sources[key] = why or f"{where} ({len(found)} reference(s) wrapped)"
        yield sources
    finally:
        for owner, attr, old in reversed(undo):
            if old is _MISSING:
                delattr(owner, attr)
            else:
                setattr(owner, attr, old)


def _rows(totals: dict, steps: int, sources: dict) -> dict[str, dict]:
    step_wall = sum(t[0] for t in totals.values())
    step_cpu = sum(t[1] for t in totals.values())
    keys = [k for k, _, _ in STAGES]
    order = keys + [f"{GROUP}/{k}" for k in keys] + sorted(set(totals) - set(keys) - {
        f"{GROUP}/{k}" for k in keys})
    rows = {}
    for key in order:
        inner = key.split("/")[-1]
        label = (f"{GROUP} › " if "/" in key else "") + LABELS.get(inner, inner)
        if key in totals:
            wall, cpu, calls = totals[key]
            rows[key] = {"label": label, "ms": round(1e3 * wall / steps, 4),
                         "cpu_ms": round(1e3 * cpu / steps, 4),
                         "fraction": round(wall / step_wall, 4),
                         "cpu_fraction": round(cpu / step_cpu, 4) if step_cpu else None,
                         "calls_per_step": round(calls / steps, 3)}
        elif "/" not in key:
            source = sources.get(key, "n/a")
            rows[key] = {"label": label, "ms": None, "fraction": None,
                         "note": source if source.startswith("n/a") else "not called"}
    return rows


def profile(rule: str, batch: int, steps: int, warmup: int, rounds: int,
            counting: str = "moments") -> dict:
    """The stage times of one step of ``rule`` at ``batch``, with the unwrapped and digital step
    (``counting``: the pulsed update's counting method)."""
    x, y = inputs(batch)
    model, opt = analog(network(), rule, PeripheryConfig(), counting)
    step = _step_fn(model, opt, x, y)
    digital = network()
    digital_step = _step_fn(digital, torch.optim.SGD(digital.parameters(), lr=DIGITAL_LR), x, y)
    rule_classes = tuple({type(layer.rule) for _, layer in analog_layers(model)})
    profiler = Profiler()
    timed_step = profiler.wrap(step, "autograd_rest")
    for _ in range(warmup):
        step()
        digital_step()
    with wrapped(profiler, rule_classes) as sources:
        for _ in range(max(1, warmup // 4)):
            timed_step()
    profiler.totals.clear()
    per = max(1, steps // rounds)
    sums = {"plain": [0.0, 0.0], "wrapped": [0.0, 0.0], "digital": [0.0, 0.0]}
    blocks: dict[str, list[float]] = {name: [] for name in sums}   # wall ms per step, per block

    def run_wrapped(n):
        with wrapped(profiler, rule_classes):
            return run_block(timed_step, n)
    runs = {"plain": lambda n: run_block(step, n), "wrapped": run_wrapped,
            "digital": lambda n: run_block(digital_step, n)}
    for r in range(rounds):
        for name in (list(runs) if r % 2 == 0 else list(runs)[::-1]):
            wall, cpu = runs[name](per)
            sums[name][0] += wall
            sums[name][1] += cpu
            blocks[name].append(round(1e3 * wall / per, 4))
    n = per * rounds
    ms = {name: (round(1e3 * w / n, 4), round(1e3 * c / n, 4)) for name, (w, c) in sums.items()}
    calls = sum(t[2] for t in profiler.totals.values()) / n
    transfer = [t for k, t in profiler.totals.items() if k == GROUP or k.startswith(GROUP + "/")]
    return {"steps": n, "stages": _rows(profiler.totals, n, sources), "sources": sources,
            "step_ms": ms["plain"][0], "step_cpu_ms": ms["plain"][1],
            "wrapped_step_ms": ms["wrapped"][0], "wrapped_step_cpu_ms": ms["wrapped"][1],
            "wrapper_overhead_ms": round(ms["wrapped"][0] - ms["plain"][0], 4),
            "wrapper_overhead_cpu_ms": round(ms["wrapped"][1] - ms["plain"][1], 4),
            "wrapped_calls_per_step": round(calls, 2),
            "transfer_inclusive_ms": round(1e3 * sum(t[0] for t in transfer) / n, 4)
            if transfer else None,
            "transfer_inclusive_fraction": round(sum(t[0] for t in transfer) / sum(
                t[0] for t in profiler.totals.values()), 4) if transfer else None,
            "digital_ms": ms["digital"][0], "digital_cpu_ms": ms["digital"][1],
            "x_digital": round(ms["plain"][0] / ms["digital"][0], 3),
            "cpu_x_digital": round(ms["plain"][1] / ms["digital"][1], 3),
            "blocks_ms": blocks, "update_paths": update_paths(model)}


def _cell(value, fmt: str, width: int) -> str:
    return f"{'n/a' if value is None else format(value, fmt):>{width}s}"


def print_table(rule: str, per_batch: dict[str, dict]) -> None:
    """One table per rule: stages × batches, exclusive wall ms, % of the wall and CPU step."""
    print(f"\n{rule}: ms per step (wall, exclusive), % of the wrapped step (wall, CPU)")
    head = "".join(f"{'b=' + b + ' ms':>10s}{'%wall':>7s}{'%cpu':>6s}" for b in per_batch)
    print(f"{'stage':46s}{head}")
    keys = list(dict.fromkeys(k for r in per_batch.values() for k in r["stages"]))
    for key in keys:
        cells = [r["stages"].get(key, {"ms": None, "fraction": None}) for r in per_batch.values()]
        label = next(r["stages"][key]["label"] for r in per_batch.values() if key in r["stages"])
        line = "".join(_cell(c["ms"], ".3f", 10)
                       + _cell(None if c["fraction"] is None else 100 * c["fraction"], ".1f", 7)
                       + _cell(None if c.get("cpu_fraction") is None else 100 * c["cpu_fraction"],
                               ".1f", 6) for c in cells)
        print(f"{label:46s}{line}")
    if any(r["transfer_inclusive_ms"] is not None for r in per_batch.values()):
        line = "".join(_cell(r["transfer_inclusive_ms"], ".3f", 10) + _cell(
            None if r["transfer_inclusive_ms"] is None else 100 * r["transfer_inclusive_fraction"],
            ".1f", 7) + f"{'':6s}" for r in per_batch.values())
        print(f"{'transfer, inclusive (the transfer rows)':46s}{line}")
    for label, key, ckey in (("step with wrappers (the stages' sum)", "wrapped_step_ms",
                              "wrapped_step_cpu_ms"),
                             ("step without wrappers", "step_ms", "step_cpu_ms"),
                             ("wrapper overhead", "wrapper_overhead_ms", "wrapper_overhead_cpu_ms"),
                             ("digital step (torch.nn + SGD)", "digital_ms", "digital_cpu_ms"),
                             ("analog step ÷ digital", "x_digital", "cpu_x_digital")):
        cells = "".join(_cell(r[key], ".3f", 10) + f"{'CPU ' + format(r[ckey], '.3f'):>13s}"
                        for r in per_batch.values())
        print(f"{label:46s}{cells}")
    calls = "".join(f"{r['wrapped_calls_per_step']:10.1f}{'':13s}" for r in per_batch.values())
    print(f"{'wrapped calls per step':46s}{calls}")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", nargs="+", default=["analog_sgd", "tiki_taka"],
                        choices=registry.analog_kinds(), help="learning rules to profile")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--steps", type=int, default=200, help="timed steps of each kind")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps first")
    parser.add_argument("--rounds", type=int, default=4, help="blocks the steps are split into")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results"
                        / "profile-cpu.json", help="results file")
    parser.add_argument("--counting", default="moments", choices=["moments", "bit_trains"],
                        help="pulse counting of the analog tiles")
    parser.add_argument("--note", default="", help="free text stored with the results")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    results = {"machine": machine_note(), "note": args.note, "settings": SETTINGS,
               "wrapper_call_us": call_cost_us(),
               "method": "exclusive stage times (callees' time subtracted), mean over the "
                         "wrapped steps; fractions of the wrapped step",
               "steps": args.steps, "warmup": args.warmup, "rounds": args.rounds,
               "counting": args.counting, "rules": {}}
    print(f"one wrapper adds {results['wrapper_call_us']:.2f} µs to a call (wall)")
    for rule in args.rules:
        per_batch = {str(b): profile(rule, b, args.steps, args.warmup, args.rounds, args.counting)
                     for b in args.batches}
        results["rules"][rule] = per_batch
        print_table(rule, per_batch)
    results["machine"]["loadavg_end"] = loadavg()
    print(f"\nload average (1, 5, 15 min): start {results['machine']['loadavg_start']}, "
          f"end {results['machine']['loadavg_end']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"wrote {args.out}")
    return results


if __name__ == "__main__":
    main()
