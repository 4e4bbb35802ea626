"""Figures and report of ``pipeline`` (edge code: plots and text only)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from ..optim import registry
from ..pipeline import timeline
from ..runfolder import RunFolder

OP_COLOURS = {"F": "tab:blue", "B": "tab:orange", "U": "tab:green"}
OP_NAMES = {"F": "forward", "B": "backward", "U": "update"}


def timeline_figure(n_stages: int, micro_batches: int, steps: int = 2):
    """Which stage does what on which cycle: ``steps`` synchronous steps and the asynchronous
    timeline of as many micro-batches, one box per operation labelled with its micro-batch."""
    sync = timeline("sync", n_stages, micro_batches, steps)
    asyn = timeline("async", n_stages, micro_batches, steps)
    width = max(e.cycle for e in sync) + 1
    fig, axes = plt.subplots(2, 1, figsize=(max(8.0, 0.32 * width), 1.0 + 1.1 * n_stages),
                             sharex=True)
    for ax, events, name in ((axes[0], sync, "synchronous (GPipe-style)"),
                             (axes[1], asyn, "asynchronous (PipeDream-style)")):
        for e in events:
            ax.add_patch(plt.Rectangle((e.cycle, e.stage - 0.4), 1, 0.8,
                                       color=OP_COLOURS[e.op], alpha=0.85, lw=0))
            ax.text(e.cycle + 0.5, e.stage, str(e.micro_batch), ha="center", va="center",
                    fontsize=6, color="white")
        last = max(e.cycle for e in events) + 1
        ax.set_ylim(n_stages - 0.5, -0.5)
        ax.set_yticks(range(n_stages), [f"stage {s}" for s in range(n_stages)])
        ax.set_title(f"{name}: {steps * micro_batches} micro-batches in {last} cycles",
                     fontsize=9)
        ax.grid(axis="x", alpha=0.2)
    axes[1].set_xlim(0, width)
    axes[1].set_xlabel("clock cycle")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in OP_COLOURS.values()]
    fig.legend(handles, list(OP_NAMES.values()), fontsize=8, ncol=3, loc="upper center")
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    return fig


def _mean_curves(curves: dict, dataset: str, rule: str, schedule: str):
    rows = [i for i in range(len(curves["dataset"]))
            if (curves["dataset"][i], curves["rule"][i], curves["schedule"][i])
            == (dataset, rule, schedule)]
    by_x: dict = {}
    for i in rows:
        by_x.setdefault((curves["cycle"][i], curves["samples"][i]), []).append(curves["test_acc"][i])
    keys = sorted(by_x)
    return ([k[0] for k in keys], [k[1] for k in keys], [float(np.mean(by_x[k])) for k in keys])


def accuracy_figure(cfg, curves: dict, metrics: dict):
    """Test accuracy (mean over seeds) against clock cycles and against samples."""
    colours, labels = registry.colours(), registry.labels()
    fig, axes = plt.subplots(len(cfg.datasets), 2, figsize=(10.5, 3.6 * len(cfg.datasets)),
                             squeeze=False)
    for row, dataset in zip(axes, cfg.datasets):
        for rule in cfg.rules:
            for schedule in cfg.schedules:
                cycles, samples, acc = _mean_curves(curves, dataset, rule, schedule)
                style = {"color": colours[rule], "ls": "-" if schedule == "sync" else "--",
                         "label": f"{labels[rule]}, {schedule}"}
                row[0].plot(cycles, acc, **style)
                row[1].plot(samples, acc, **style)
            target = metrics["target_accuracy_pct"][dataset][rule]
            row[0].axhline(target, color=colours[rule], lw=0.6, alpha=0.5)
        row[0].set_xlabel("clock cycles")
        row[1].set_xlabel("samples trained (updated on every stage)")
        for ax in row:
            ax.set_ylabel("test accuracy (%)")
            ax.set_title(f"{dataset}: {cfg.n_stages} stages, M = {cfg.micro_batches}, "
                         f"b = {cfg.micro_batch_size}", fontsize=9)
            ax.grid(alpha=0.3)
        row[1].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"Pipeline training: mean over {cfg.n_seeds} seed(s); thin lines: targets")
    fig.tight_layout()
    return fig


def _fmt(v, spec: str = ".0f") -> str:
    return "not reached" if v is None else format(v, spec)


def report_text(cfg, metrics: dict) -> str:
    labels = registry.labels()
    acc = metrics["cycle_accounting"]
    lines = ["# pipeline: synchronous vs asynchronous pipeline training", "",
             (f"{cfg.n_stages} stages ({cfg.activation} FCN {'-'.join(map(str, cfg.hidden))}), "
             f"M = {cfg.micro_batches} micro-batches of b = {cfg.micro_batch_size} per "
             f"synchronous step, {cfg.n_seeds} seed(s), τ = {cfg.tau:g}, periphery "
             f"'{cfg.periphery}', {cfg.update_mode} updates."), "",
             "## Cycle accounting (8 steps' worth of micro-batches)", "",
             ("| schedule | cycles (closed form) | bubble fraction | samples / cycle | "
             "staleness per stage (steady) |"), "|---|---|---|---|---|"]
    for schedule, a in acc.items():
        lines.append(f"| {schedule} | {a['cycles']} ({a['cycles_closed_form']}) | "
                     f"{a['bubble_fraction']:.3f} | {a['samples_per_cycle']:.3f} | "
                     f"{a['staleness_steady_per_stage']} |")
    lines += ["", "## Accuracy and cycles to the target", "",
              ("| dataset | rule | schedule | final accuracy % | target % | cycles to target | "
              "samples to target | async cycle speed-up |"), "|---|---|---|---|---|---|---|---|"]
    for dataset, by_schedule in metrics["results"].items():
        for rule in cfg.rules:
            for schedule, by_rule in by_schedule.items():
                r = by_rule[rule]
                f = r["final_accuracy_pct"]
                sp = metrics["async_cycle_speedup"][dataset].get(rule)
                lines.append(f"| {dataset} | {labels[rule]} | {schedule} | {f['mean']:.1f} ± "
                             f"{f['std']:.1f} | {metrics['target_accuracy_pct'][dataset][rule]:.1f}"
                             f" | {_fmt(r['cycles_to_target'])} | {_fmt(r['samples_to_target'])}"
                             f" | {_fmt(sp, '.2f')} |")
    match = metrics["multiprocess_matches_single_process"]
    lines += ["", "## One process per stage", "",
              "Every tile weight, hidden array and digital parameter after "
              f"{cfg.check_steps} steps, one process per stage (gloo) against one process: "
              + ", ".join(f"{s}/{labels[r]}: {'identical' if v else 'DIFFERENT'}"
                          for s, rv in match.items() for r, v in rv.items() if v is not None)
              + ("." if cfg.multiprocess_check else " (not run)."), "",
              "![timeline](figures/pipeline_timeline.png)", "",
              "![accuracy](figures/pipeline_accuracy.png)", ""]
    return "\n".join(lines)


def write_figures_and_report(cfg, metrics: dict, curves: dict, out: RunFolder) -> None:
    """``figures/pipeline_timeline.png``, ``figures/pipeline_accuracy.png`` and the report."""
    out.save_figure(timeline_figure(cfg.n_stages, cfg.micro_batches), "pipeline_timeline")
    out.save_figure(accuracy_figure(cfg, curves, metrics), "pipeline_accuracy")
    out.write_report(report_text(cfg, metrics))
