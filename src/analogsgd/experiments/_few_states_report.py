"""Figure and report of ``few-states`` (edge code: plots and text only)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from ..optim import registry
from ..runfolder import RunFolder
from .few_states import LI_2025, LI_2025_REF, FewStatesConfig


def write_figures_and_report(cfg: FewStatesConfig, metrics: dict, out: RunFolder) -> None:
    labels, colours = registry.labels(), registry.colours()
    ns = list(cfg.n_states)
    nets = [("accuracy_pct", cfg)] + ([("accuracy_pct_cnn", cfg.cnn)] if cfg.cnn else [])
    fig, axes = plt.subplots(1, 1 + len(nets), figsize=(5.25 * (1 + len(nets)), 3.8))
    left, right = axes[0], axes[1]
    for kind in cfg.kinds:
        ratio = [metrics["ls_error_over_digital"][kind][f"{n}"] for n in ns]
        style = {"color": colours[kind], "label": labels[kind], "capsize": 3,
                 "ls": ":" if kind == "digital_sgd" else "-", "marker": "" if kind == "digital_sgd" else "o"}
        left.errorbar(ns, [r["mean"] for r in ratio], [r["std"] for r in ratio], **style)
        for ax, (key, _) in zip(axes[1:], nets):
            acc = [metrics[key][kind][f"{n}"] for n in ns]
            ax.errorbar(ns, [a["mean"] for a in acc], [a["std"] for a in acc], **style)
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_ylabel("final f(W) − f*  ÷  digital SGD's")
    left.set_title(f"least squares {cfg.ls_d_out}×{cfg.ls_d_in}, α = {cfg.ls_alpha:g}", fontsize=9)
    for ax, (_, study) in zip(axes[1:], nets):
        ax.set_xscale("log")
        ax.set_ylim(0, 100)
        ax.set_ylabel("final test accuracy (%)")
        ax.set_title(f"{study.network}, {study.net_epochs} epoch(s), periphery "
                     f"'{study.net_periphery}'", fontsize=9)
    for ax in axes:
        ax.set_xlabel("n_states = 2/Δw_min (soft bounds ±1)")
        ax.grid(alpha=0.3, which="both")
    right.legend(fontsize=7, loc="lower right")
    fig.suptitle(f"Every rule on few-state devices: mean ± std over {cfg.n_seeds} seed(s)")
    fig.tight_layout()
    out.save_figure(fig, "few_states")
    out.write_report(report_text(cfg, metrics))


def _table(cfg: FewStatesConfig, values: dict, fmt: str) -> list[str]:
    labels = registry.labels()
    lines = ["| rule | " + " | ".join(f"n = {n}" for n in cfg.n_states) + " |",
             "|---|" + "---|" * len(cfg.n_states)]
    for kind in cfg.kinds:
        cells = [f"{values[kind][f'{n}']['mean']:{fmt}} ± {values[kind][f'{n}']['std']:{fmt}}"
                 for n in cfg.n_states]
        lines.append(f"| {labels[kind]} | " + " | ".join(cells) + " |")
    return lines


def _literature(cfg: FewStatesConfig, metrics: dict) -> list[str]:
    """Li et al.'s Table 1 beside our numbers at the state counts it used (where we ran them)."""
    names = {"tiki_taka": "TT-v1", "tiki_taka_v2": "TT-v2", "mixed_precision": "MP"}  # the paper's
    kinds = tuple(names)
    lines = ["| setting | " + " | ".join(f"{names[k]} (`{k}`)" for k in kinds) + " |",
             "|---|" + "---|" * len(kinds)]
    for (dataset, n), row in LI_2025.items():
        lines.append(f"| Li et al., LeNet-5 on {dataset}, {n} states | "
                     + " | ".join(f"{row[k]:.2f}" for k in kinds) + " |")
        if n in cfg.n_states:
            ours = [metrics["accuracy_pct"][k][f"{n}"]["mean"] if k in metrics["accuracy_pct"]
                    else None for k in kinds]
            lines.append(f"| this run, {cfg.network}, {n} states | "
                         + " | ".join("not run" if v is None else f"{v:.2f}" for v in ours) + " |")
    return lines


def _cnn_section(cfg: FewStatesConfig, metrics: dict) -> list[str]:
    """Part (c), the Fashion-MNIST CNN, when the run has it."""
    if cfg.cnn is None:
        return []
    data = metrics["summary"]["cnn_data"]
    return ["## (c) Fashion-MNIST CNN: final test accuracy (%)", "",
            (f"`fmnist-cnn`'s network and rates on {data['name']} ({data['n_train']} training, "
             f"{data['n_test']} test images), {cfg.cnn_epochs} epoch(s) at constant rates, "
             f"periphery '{cfg.net_periphery}', update '{cfg.net_update_mode}'. Metric "
             "`accuracy_pct_cnn[rule][n]`."), "",
            *_table(cfg, metrics["accuracy_pct_cnn"], ".2f"), ""]


def report_text(cfg: FewStatesConfig, metrics: dict) -> str:
    s = metrics["summary"]
    data = s["network_data"]
    d = s["ls_digital_final_loss"]
    lines = [
        "# few-states: every rule on devices with few conductance states", "",
        (f"Devices: soft bounds on ±1 with Δw_min = 2/n_states, n_states ∈ "
         f"{{{', '.join(str(n) for n in cfg.n_states)}}}, pulsed updates, no device spread. "
         f"Rules: {', '.join(registry.labels()[k] for k in cfg.kinds)} (their registered "
         f"defaults; α is the gradient rate of Digital and Analog SGD and the transfer rate of "
         f"the fast-tile rules, which write the gradient at β). {cfg.n_seeds} seed(s); mean ± "
         "sample std over seeds. Digital SGD does not see the devices: its value repeats "
         "under every n."), "",
        "## (a) Least squares: final loss ÷ digital SGD's", "",
        (f"f(W) = ½ tr((W − W*) H (W − W*)ᵀ), W ∈ R^{{{cfg.ls_d_out}×{cfg.ls_d_in}}}, H from "
         f"N = {cfg.ls_n_samples} samples (L = 1), W* uniform in ±{cfg.ls_w_star_max:g}, gradient "
         f"noise σ² = {cfg.ls_sigma_sq:g} per entry, {cfg.ls_steps} steps, α = {cfg.ls_alpha:g}, "
         f"β = {cfg.ls_fast_lr:g}, transfer every step, at most {cfg.ls_max_pulses} pulses per "
         f"element and update. Final loss = mean of f(W_k) − f* over the last "
         f"{100 * cfg.ls_tail_fraction:g} % of the run; digital SGD's is {d['mean']:.3g} ± "
         f"{d['std']:.2g}. Metric `ls_error_over_digital[rule][n]`."), "",
        *_table(cfg, metrics["ls_error_over_digital"], ".3g"), "",
        "## (b) Network: final test accuracy (%)", "",
        (f"`{cfg.network}`'s network and rates on {data['name']} ({data['n_train']} training, "
         f"{data['n_test']} test images), {cfg.net_epochs} epochs at constant rates, periphery "
         f"'{cfg.net_periphery}', update '{cfg.net_update_mode}'. Metric `accuracy_pct[rule][n]`."),
        "", *_table(cfg, metrics["accuracy_pct"], ".2f"), "",
        *_cnn_section(cfg, metrics),
        "## The literature at few states", "",
        (f"{LI_2025_REF}: LeNet-5, all layers analog, exact reads, 100 epochs. At 4 states "
         "Tiki-Taka v1 stays at chance, far below TT-v2, and mixed precision comes close to "
         "digital training. (The table labels F-MNIST \"#4\" and MNIST \"#10\"; the paper's "
         "§5.1 text assigns the counts the other way round.) Network, data and budget differ "
         "from ours: compare the ordering, not the numbers. We did not tune to match."), "",
        *_literature(cfg, metrics), "",
        ("Figure: `figures/few_states.png` (left: least-squares ratio, right: accuracy, both "
         "against n_states on a log axis). Curves: `curves/ls_loss.csv` (one column per run), "
         "`curves/network_curves.csv` (one row per run and epoch). Checkpoints of the network "
         "runs: `checkpoints/` (`--resume` continues them; the least-squares part, seeded, is "
         "recomputed)."), "",
    ]
    return "\n".join(lines)
