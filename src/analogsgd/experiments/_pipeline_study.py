"""The runs and the numbers of ``pipeline``: units, curves, targets, speed-ups, accounting."""

from __future__ import annotations

import math

import numpy as np

from ..pipeline import (
    async_staleness,
    async_total_cycles,
    sync_bubble_fraction,
    sync_step_cycles,
    timeline,
    timeline_stats,
)
from ..rng import child_seeds
from ._network_data import load_data
from ._network_summary import _stats
from ._network_units import long_curves
from ._pipeline_train import PipelineUnit, multiprocess_check, train_unit
from .base import RunContext


def plan(cfg, seed: int) -> list[PipelineUnit]:
    """Per dataset and seed: every rule under every schedule (the same seed for all of them:
    the same initial weights and micro-batches)."""
    units = []
    for d, dataset in enumerate(cfg.datasets):
        for i, s in enumerate(child_seeds(child_seeds(seed, len(cfg.datasets))[d], cfg.n_seeds)):
            for rule in cfg.rules:
                for schedule in cfg.schedules:
                    units.append(PipelineUnit(dataset, rule, schedule, i, s))
    return units


def first_reaching(xs: list[float], acc: list[float], target: float) -> float | None:
    """The first x at which ``acc`` reaches ``target`` (None if never)."""
    return next((float(x) for x, a in zip(xs, acc) if a >= target), None)


def target_accuracy(initial: float, finals: list[float], fraction: float) -> float | None:
    """The accuracy a fraction ``fraction`` of the way from ``initial`` (the untrained network's,
    the same under every schedule) to the lowest of ``finals``; None when that final gains less
    than one percentage point (nothing was learned, no cycle count would mean anything)."""
    low = min(finals)
    if low - initial < 1.0:
        return None
    return initial + fraction * (low - initial)


def cycle_accounting(cfg) -> dict:
    """Closed forms and measured values of each schedule's timeline for the study's L and M."""
    L, M, b = cfg.n_stages, cfg.micro_batches, cfg.micro_batch_size
    steps = 8
    out = {}
    for schedule in ("sync", "async"):
        stats = timeline_stats(timeline(schedule, L, M, steps), L)
        closed = (steps * sync_step_cycles(L, M) if schedule == "sync"
                  else async_total_cycles(L, M * steps))
        out[schedule] = {
            "micro_batches": M * steps,
            "cycles": stats.cycles, "cycles_closed_form": closed,
            "bubble_fraction": stats.bubble_fraction,
            "bubble_fraction_closed_form": (sync_bubble_fraction(L, M) if schedule == "sync"
                                            else 1 - 3 * M * steps / closed),
            "samples_per_cycle": stats.samples_per_cycle(b),
            "samples_per_cycle_steady": (M * b / sync_step_cycles(L, M) if schedule == "sync"
                                         else b / 3),
            "staleness_max_per_stage": [s[1] for s in stats.staleness],
            "staleness_steady_per_stage": [0 if schedule == "sync" else async_staleness(L, s)
                                           for s in range(L)],
            "update_delay_mean_per_stage": [s[2] for s in stats.update_delay],
        }
    return out


def pipeline_study(cfg, ctx: RunContext) -> tuple[dict, dict]:
    """Train every unit; return the metrics and the curves (also written to
    ``curves/pipeline_curves.csv``)."""
    units = plan(cfg, ctx.seed)
    histories: dict[PipelineUnit, dict] = {}
    data_info = {}
    for dataset in cfg.datasets:
        net_cfg = cfg.network(dataset)
        data = load_data(net_cfg)
        steps = cfg.steps(dataset, data.train_x.shape[0])
        data_info[dataset] = {"n_train": int(data.train_x.shape[0]),
                              "n_test": int(data.test_x.shape[0]), "steps": steps}
        every = cfg.eval_every_steps * sync_step_cycles(cfg.n_stages, cfg.micro_batches)
        for unit in (u for u in units if u.dataset == dataset):
            cycles = (steps * sync_step_cycles(cfg.n_stages, cfg.micro_batches)
                      if unit.schedule == "sync"
                      else async_total_cycles(cfg.n_stages, steps * cfg.micro_batches))
            with ctx.progress.task(math.ceil(cycles / every), f"pipeline: {unit.label}") as task:
                histories[unit] = train_unit(cfg, net_cfg, unit, data, task)
    curves = _curves(units, histories)
    ctx.out.write_curves("pipeline_curves", curves)
    results, speedup, targets = {}, {}, {}
    for dataset in cfg.datasets:
        results[dataset], speedup[dataset], targets[dataset] = {}, {}, {}
        for rule in cfg.rules:
            mean = {}
            for schedule in cfg.schedules:
                runs = [histories[u] for u in units
                        if (u.dataset, u.rule, u.schedule) == (dataset, rule, schedule)]
                mean[schedule] = {"cycle": runs[0]["cycle"], "samples": runs[0]["samples"],
                                  "acc": list(np.mean([h["test_acc"] for h in runs], axis=0)),
                                  "finals": [h["test_acc"][-1] for h in runs],
                                  "total_cycles": runs[0]["total_cycles"]}
            target = target_accuracy(mean["sync" if "sync" in mean else schedule]["acc"][0],
                                     [float(np.mean(m["finals"])) for m in mean.values()],
                                     cfg.target_fraction)
            targets[dataset][rule] = target
            for schedule, m in mean.items():
                entry = results[dataset].setdefault(schedule, {})
                entry[rule] = {
                    "final_accuracy_pct": _stats(m["finals"]),
                    "cycles_to_target": (None if target is None
                                         else first_reaching(m["cycle"], m["acc"], target)),
                    "samples_to_target": (None if target is None
                                          else first_reaching(m["samples"], m["acc"], target)),
                    "total_cycles": m["total_cycles"],
                    "samples": m["samples"][-1],
                }
            if set(cfg.schedules) == {"sync", "async"}:
                s = results[dataset]["sync"][rule]["cycles_to_target"]
                a = results[dataset]["async"][rule]["cycles_to_target"]
                speedup[dataset][rule] = s / a if s is not None and a else None
    checks = {}
    if cfg.multiprocess_check:
        with ctx.progress.task(1, "pipeline: one process per stage") as task:
            checks = multiprocess_check(cfg, [(d, cfg.network(d), load_data(cfg.network(d)))
                                              for d in cfg.datasets], child_seeds(ctx.seed, 2)[1])
            task.advance()
    matches = {schedule: {rule: all(checks[d][schedule][rule] for d in checks) if checks else None
                          for rule in cfg.rules} for schedule in cfg.schedules}
    return {
        "results": results,
        "async_cycle_speedup": speedup,
        "target_accuracy_pct": targets,
        "multiprocess_matches_single_process": matches,
        "multiprocess_check_by_dataset": checks,
        "cycle_accounting": cycle_accounting(cfg),
        "summary": {
            "datasets": data_info, "rules": list(cfg.rules), "schedules": list(cfg.schedules),
            "n_stages": cfg.n_stages, "micro_batches": cfg.micro_batches,
            "micro_batch_size": cfg.micro_batch_size, "n_seeds": cfg.n_seeds,
            "network": [int(v) for v in cfg.hidden], "activation": cfg.activation,
            "async_cycle_speedup": speedup,
            "multiprocess_matches_single_process": (all(v for r in matches.values()
                                                        for v in r.values())
                                                    if checks else None),
            "wall_time_s": round(ctx.wall_time_s(), 1),
        },
    }, curves


def _curves(units: list[PipelineUnit], histories: dict) -> dict[str, list]:
    """Long format: one row per unit and evaluation (NaN written as an empty cell)."""
    curves = long_curves(units, lambda u: histories[u],
                         {"dataset": lambda u: u.dataset, "rule": lambda u: u.rule,
                          "schedule": lambda u: u.schedule, "seed": lambda u: u.seed_index},
                         ("cycle", "samples", "train_loss", "test_acc"))
    return {k: [None if isinstance(v, float) and math.isnan(v) else v for v in column]
            for k, column in curves.items()}
