"""Figures and the Markdown report of the network experiments (edge code: plots, text)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..optim import registry
from ..runfolder import RunFolder
from ._network_common import LABELS, NetworkConfig
from ._network_units import Unit

COLOURS = registry.colours()


def _mean_curve(units: list[Unit], histories: dict, alg: str, tau: float | None):
    runs = [np.asarray(histories[u.key]["test_acc"]) for u in units
            if u.algorithm == alg and (tau is None or u.tau == tau)]
    stack = np.stack(runs)
    return stack.mean(0), (stack.std(0, ddof=1) if len(runs) > 1 else np.zeros(stack.shape[1]))


def _fmt(stats: dict | None) -> str:
    return "–" if stats is None else f"{stats['mean']:.2f} ± {stats['std']:.2f}"


def write_figures_and_report(cfg: NetworkConfig, units: list[Unit], histories: dict, metrics: dict,
                             out: RunFolder, paper: dict, title: str) -> None:
    import matplotlib.pyplot as plt

    acc = metrics["summary"]["test_accuracy_pct"]
    taus = [float(t) for t in cfg.taus]
    analog = [a for a in cfg.algorithms if a != "digital_sgd"]
    epochs = np.arange(cfg.epochs + 1)

    # learning curves, one panel per τ (digital SGD repeated in each panel)
    fig, axes = plt.subplots(1, len(taus), figsize=(4.2 * len(taus), 3.4), squeeze=False, sharey=True)
    for ax, tau in zip(axes[0], taus):
        for alg in cfg.algorithms:
            mean, std = _mean_curve(units, histories, alg, None if alg == "digital_sgd" else tau)
            ax.plot(epochs, mean, color=COLOURS[alg], label=LABELS[alg])
            ax.fill_between(epochs, mean - std, mean + std, color=COLOURS[alg], alpha=0.2, lw=0)
        ax.set_title(f"τ = {tau:g}")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test accuracy (%)")
    axes[0][0].legend(loc="lower right")
    fig.suptitle(f"{title}: mean ± std over {cfg.n_seeds} seed(s)", y=1.04)
    out.save_figure(fig, "learning_curves")

    # final accuracy bars with std, grouped by τ
    fig, ax = plt.subplots(figsize=(1.6 + 1.5 * len(taus), 3.4))
    width = 0.8 / len(cfg.algorithms)
    for j, alg in enumerate(cfg.algorithms):
        stats = [acc[alg] if alg == "digital_sgd" else acc[alg][f"{t:g}"] for t in taus]
        xs = np.arange(len(taus)) + (j - (len(cfg.algorithms) - 1) / 2) * width
        ax.bar(xs, [s["mean"] for s in stats], width, yerr=[s["std"] for s in stats],
               color=COLOURS[alg], label=LABELS[alg], capsize=3, ecolor="0.55")
    ax.set_xticks(np.arange(len(taus)), [f"τ = {t:g}" for t in taus])
    ax.set_ylabel("final test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=len(cfg.algorithms), fontsize=8,
              frameon=False)
    ax.grid(axis="y", alpha=0.3)
    out.save_figure(fig, "final_accuracy")

    out.write_report(_report(cfg, metrics, paper, title, taus, analog))


def _report(cfg: NetworkConfig, metrics: dict, paper: dict, title: str, taus: list[float],
            analog: list[str]) -> str:
    s = metrics["summary"]
    acc = s["test_accuracy_pct"]
    ds = metrics["dataset"]
    lines = [f"# {title}", "",
             (f"{ds['name']}: {ds['n_train']} training and {ds['n_test']} test images; "
              f"{cfg.arch.upper()} {_shape(cfg)}, {cfg.activation}; batch {cfg.batch_size}; "
              f"{cfg.epochs} epochs; {cfg.n_seeds} seed(s); update '{cfg.update_mode}', "
              f"preset '{cfg.preset}': device '{cfg.device}', periphery '{cfg.periphery}'."),
             f"Learning rates: digital {cfg.digital_lr:g}; Analog SGD α = {cfg.analog_lr:g}; "
             f"Tiki-Taka β = {cfg.fast_lr:g} (fast), α = {cfg.analog_lr:g} (transfer, one column "
             f"every {cfg.transfer_every} mini-batch(es)); "
             + (f"StepLR({cfg.lr_step_epochs}, {cfg.lr_gamma:g})." if cfg.lr_step_epochs
                else "constant."), "",
             "Final test accuracy (%), mean ± sample std over seeds"
             + ("; in brackets the paper's MNIST numbers (Wu et al. 2024, Fig. 5), for the "
                "ordering only: dataset and budget differ." if paper else "."), "",
             "| algorithm | " + " | ".join(f"τ = {t:g}" for t in taus) + " |",
             "|---|" + "---|" * len(taus)]
    for alg in cfg.algorithms:
        cells = []
        for t in taus:
            stats = acc[alg] if alg == "digital_sgd" else acc[alg][f"{t:g}"]
            ref = paper.get(alg, {}).get(f"{t:g}") if paper else None
            cells.append(_fmt(stats) + (f" ({ref})" if ref else ""))
        lines.append(f"| {LABELS[alg]} | " + " | ".join(cells) + " |")
    lines.append("")
    for key, text in (("tt_gap_to_digital_pct", "Tiki-Taka"),
                      ("analog_sgd_gap_to_digital_pct", "Analog SGD")):
        if key in s:
            lines.append(f"- {text} at τ = {s['smallest_tau']:g}: {abs(s[key]):.2f} points "
                         f"{'below' if s[key] >= 0 else 'above'} digital SGD (`{key}` = "
                         f"{s[key]:.2f}).")
    if "tt_beats_analog_sgd_at_smallest_tau" in s:
        holds = s["tt_beats_analog_sgd_at_smallest_tau"]
        diff = s["tt_minus_analog_sgd_at_smallest_tau_pct"]
        lines.append(f"- Tiki-Taka − Analog SGD at the smallest τ: {diff:+.2f} points; Tiki-Taka "
                     + ("beats Analog SGD clearly (by more than 1 point and the sum of the stds): "
                        "the paper's ordering holds here." if holds else
                        "does not beat it clearly (by more than 1 point and the sum of the stds)."))
    lines += ["", ("Figures: `figures/learning_curves.png`, `figures/final_accuracy.png`; curves: "
                   "`curves/learning_curves.csv`; checkpoints: `checkpoints/` (resume with "
                   "`analogsgd run NAME --resume --out DIR`)."), ""]
    return "\n".join(lines)


def _shape(cfg: NetworkConfig) -> str:
    if cfg.arch == "cnn":
        return "conv5(16)-pool-conv5(32)-pool-" + "-".join(str(h) for h in cfg.hidden) + "-classes"
    return "-".join(["in", *(str(h) for h in cfg.hidden), "classes"])


def paper_table(values: dict[str, Any]) -> dict:
    """Normalise a paper table ``{alg: {tau: value}}`` to string τ keys."""
    return {alg: {f"{float(t):g}": v for t, v in row.items()} for alg, row in values.items()}
