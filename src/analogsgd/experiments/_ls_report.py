"""Figures and report of ``ls-asymptotic`` (edge code: plotting only)."""

from __future__ import annotations

import csv

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import NullFormatter, ScalarFormatter  # noqa: E402

from ..runfolder import RunFolder  # noqa: E402

COLORS = {"digital_sgd": "k", "analog_sgd": "tab:red", "tiki_taka": "tab:blue"}
LABELS = {"digital_sgd": "Digital SGD", "analog_sgd": "Analog SGD", "tiki_taka": "Tiki-Taka"}


def _read_curves(out: RunFolder, name: str) -> dict[str, list[float]]:
    with (out.path / "curves" / f"{name}.csv").open() as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    return {h: [float(r[i]) for r in body] for i, h in enumerate(header)}


def write_figures_and_report(cfg, metrics: dict, out: RunFolder) -> None:
    curves = _read_curves(out, "alpha_sweep_loss")
    fig, axes = plt.subplots(1, len(cfg.alphas), figsize=(4 * len(cfg.alphas), 3.2), sharey=True)
    for r, (ax, a) in enumerate(zip(axes, cfg.alphas)):
        for alg in COLORS:
            ax.semilogy(curves["step"], curves[f"{alg}_r{r}"], color=COLORS[alg], label=LABELS[alg])
        ax.set_title(f"α = {a:g}")
        ax.set_xlabel("iteration k")
    axes[0].set_ylabel("f(W_k) − f*")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Least squares on ALD, τ = {cfg.tau:g}, σ² = {cfg.sigma_sq:g} (cf. Fig. 1 of Wu et al. 2024)")
    out.save_figure(fig, "fig1_alpha_curves")

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    for ax, (key, xs, xlabel) in zip(axes, [("alpha_sweep", cfg.alphas, "α"),
                                            ("tau_sweep", cfg.taus, "τ"),
                                            ("sigma_sweep", cfg.sigma_sqs, "σ²")]):
        sweep = metrics[key]
        for alg in COLORS:
            ax.loglog(xs, sweep[alg]["final_loss"], "o-", color=COLORS[alg], label=LABELS[alg])
        ax.loglog(xs, sweep["ald_closed_form_loss"], "r:", label="ALD fixed point (closed form)")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("plateau f(W) − f*")
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xticks(list(xs))
    axes[0].legend(fontsize=7)
    fig.suptitle("Final error against α (Fig. 1), τ and σ² (Fig. 4)")
    fig.tight_layout()
    out.save_figure(fig, "fig4_sweeps")

    s = metrics["summary"]
    lines = [
        "# ls-asymptotic", "",
        "Least squares f(W) = ½ tr((W − W*) H (W − W*)ᵀ), W ∈ R^{"
        f"{cfg.d_out}×{cfg.d_in}}}, L = {s['L']:.3g}, μ = {s['mu']:.3g}; gradient noise N(0, σ²) per entry; "
        f"{cfg.steps} iterations, {cfg.mode} updates, Δw_min = {cfg.dw_min:g}, "
        f"Tiki-Taka β = {cfg.fast_lr:g} (transfer every step, all columns).", "",
        "Plateau = mean of f(W_k) − f* over the last "
        f"{100 * cfg.tail_fraction:g} % of the run.", "",
        "## Summary", "", "| quantity | value |", "|---|---|",
    ]
    lines += [f"| {k} | {v:.4g} |" for k, v in s.items()]
    for key, xs, name in [("alpha_sweep", cfg.alphas, "α"), ("tau_sweep", cfg.taus, "τ"),
                          ("sigma_sweep", cfg.sigma_sqs, "σ²")]:
        sweep = metrics[key]
        lines += ["", f"## Plateau error against {name}", "",
                  f"| {name} | Digital SGD | Analog SGD | Tiki-Taka | ALD closed form | Analog ‖∇f‖² | 4σ²S_K |",
                  "|---|---|---|---|---|---|---|"]
        for i, x in enumerate(xs):
            lines.append(
                f"| {x:g} | {sweep['digital_sgd']['final_loss'][i]:.3e} | "
                f"{sweep['analog_sgd']['final_loss'][i]:.3e} | {sweep['tiki_taka']['final_loss'][i]:.3e} | "
                f"{sweep['ald_closed_form_loss'][i]:.3e} | {sweep['analog_sgd']['final_grad_sq'][i]:.3e} | "
                f"{sweep['analog_sgd']['predicted_floor_grad_sq'][i]:.3e} |")
    lines += ["", "Figures: `figures/fig1_alpha_curves.png`, `figures/fig4_sweeps.png`.", ""]
    out.write_report("\n".join(lines))
