"""Figures and report of ``ls-asymptotic`` (edge code: plotting only)."""

from __future__ import annotations

import csv

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import NullFormatter, ScalarFormatter

from ..optim import registry
from ..runfolder import RunFolder
from .ls_asymptotic import ALGORITHMS, SWEPT, curve_column

LABELS = registry.labels()
COLORS = {alg: registry.colours()[alg] for alg in ALGORITHMS}


def _read_curves(out: RunFolder, name: str) -> dict[str, list[float]]:
    with (out.path / "curves" / f"{name}.csv").open() as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    return {h: [float(r[i]) for r in body] for i, h in enumerate(header)}


def write_figures_and_report(cfg, metrics: dict, out: RunFolder) -> None:
    curves = _read_curves(out, "alpha_sweep_loss")
    fig, axes = plt.subplots(1, len(cfg.alphas), figsize=(4 * len(cfg.alphas), 3.2), sharey=True,
                             squeeze=False)
    axes = axes[0]  # one row of panels, also for a single α
    for ax, a in zip(axes, cfg.alphas):
        for alg, color in COLORS.items():
            ax.semilogy(curves["step"], curves[curve_column(alg, "alpha", a)], color=color,
                        label=LABELS[alg])
        ax.set_title(f"α = {a:g}")
        ax.set_xlabel("iteration k")
    axes[0].set_ylabel("f(W_k) − f*")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Least squares on ALD, τ = {cfg.tau:g}, σ² = {cfg.sigma_sq:g} (cf. Fig. 1 of Wu et al. 2024)")
    out.save_figure(fig, "fig1_alpha_curves")

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, (key, xs, xlabel) in zip(axes, _sweeps(cfg)):
        sweep = metrics[key]
        ax.set_title(_fixed(cfg, key), fontsize=9)
        for alg, color in COLORS.items():
            ax.loglog(xs, sweep[alg]["final_loss"], "o-", color=color, label=LABELS[alg])
        ax.loglog(xs, sweep["ald_closed_form_loss"], "r:", label="ALD fixed point (closed form)")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("plateau f(W) − f*")
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xticks(list(xs))
    axes[0].legend(fontsize=7)
    fig.suptitle("Plateau error against α (cf. Fig. 1), τ and σ² (cf. Fig. 4)")
    fig.tight_layout()
    out.save_figure(fig, "fig4_sweeps")

    out.write_report(report_text(cfg, metrics))


def _sweeps(cfg) -> list[tuple[str, tuple, str]]:
    return [("alpha_sweep", cfg.alphas, "α"), ("tau_sweep", cfg.taus, "τ"),
            ("sigma_sweep", cfg.sigma_sqs, "σ²")]


def _fixed(cfg, key: str) -> str:
    """The two parameters a sweep holds fixed, e.g. 'τ = 0.8, σ² = 0.01'."""
    fixed = {"alpha": f"α = {cfg.sweep_alpha:g}", "tau": f"τ = {cfg.tau:g}",
             "sigma_sq": f"σ² = {cfg.sigma_sq:g}"}
    fixed.pop(SWEPT[key], None)
    return ", ".join(fixed.values())


def _tiki_taka_text(cfg) -> str:
    columns = ("all columns per transfer" if cfg.tt_columns == "all"
               else "one column per transfer (cyclic)")
    return f"Tiki-Taka β = {cfg.fast_lr:g}, transfer lr = α, transfer every step, {columns}"


def report_text(cfg, metrics: dict) -> str:
    """report.md from the config and the results (nothing about the setup is hard-coded)."""
    s = metrics["summary"]
    alphas = sorted(cfg.alphas)
    setup = ("Least squares f(W) = ½ tr((W − W*) H (W − W*)ᵀ), W ∈ R^{"
             f"{cfg.d_out}×{cfg.d_in}}}, H from N = {cfg.n_samples} samples, L = {s['L']:.3g}, "
             f"μ = {s['mu']:.3g}, W* uniform in ±{cfg.w_star_max:g}; gradient noise N(0, σ²) per "
             f"entry; {cfg.steps} iterations, {cfg.mode} updates on ALD devices, "
             f"Δw_min = {cfg.dw_min:g}, at most {cfg.max_pulses} pulses per element and update; "
             f"{_tiki_taka_text(cfg)}.")
    plateau = f"Plateau = mean of f(W_k) − f* over the last {100 * cfg.tail_fraction:g} % of the run."

    def values(xs) -> str:
        return "{" + ", ".join(f"{x:g}" for x in xs) + "}"

    drops = (f"* Over α from {max(alphas):g} to {min(alphas):g} ({max(alphas) / min(alphas):.3g}×), "
             f"the final losses span (largest ÷ smallest) {s['analog_sgd_floor_ratio']:.3g}× for "
             f"Analog SGD, {s['digital_drop_ratio']:.3g}× for digital SGD and "
             f"{s['tt_drop_ratio']:.3g}× for Tiki-Taka (the curves show which way each moves).")
    at_min = (f"* At α = {s['min_alpha']:g}: Analog SGD / digital = "
              f"{s['analog_over_digital_at_min_alpha']:.3g}, Tiki-Taka / digital = "
              f"{s['tt_over_digital_at_min_alpha']:.3g}, Analog SGD plateau / ALD fixed point = "
              f"{s['analog_floor_over_closed_form']:.3g}, measured ‖∇f‖² / Theorem 2's 4σ²S_K = "
              f"{s['floor_measured_over_predicted']:.3g}.")
    example = curve_column("analog_sgd", "alpha", cfg.alphas[0])
    columns = f"Curve columns are named `<algorithm>_<parameter>=<value>`, e.g. `{example}`."
    lines = [
        "# ls-asymptotic", "", setup, "", plateau, "",
        "Sweeps (each as replicas of one batched run):",
        f"* α ∈ {values(cfg.alphas)} at {_fixed(cfg, 'alpha_sweep')} (`curves/alpha_sweep_loss.csv`);",
        f"* τ ∈ {values(cfg.taus)} at {_fixed(cfg, 'tau_sweep')} (`curves/tau_sweep_loss.csv`);",
        f"* σ² ∈ {values(cfg.sigma_sqs)} at {_fixed(cfg, 'sigma_sweep')} (`curves/sigma_sweep_loss.csv`).",
        "",
        columns, "", "## Reading", "", drops, at_min, "",
        "## Summary", "", "| quantity | value |", "|---|---|",
    ]
    lines += [f"| {k} | {v:.4g} |" for k, v in s.items()]
    for key, xs, name in _sweeps(cfg):
        sweep = metrics[key]
        lines += ["", f"## Plateau error against {name} ({_fixed(cfg, key)})", "",
                  f"| {name} | Digital SGD | Analog SGD | Tiki-Taka | ALD closed form | Analog ‖∇f‖² | 4σ²S_K |",
                  "|---|---|---|---|---|---|---|"]
        for i, x in enumerate(xs):
            lines.append(
                f"| {x:g} | {sweep['digital_sgd']['final_loss'][i]:.3e} | "
                f"{sweep['analog_sgd']['final_loss'][i]:.3e} | {sweep['tiki_taka']['final_loss'][i]:.3e} | "
                f"{sweep['ald_closed_form_loss'][i]:.3e} | {sweep['analog_sgd']['final_grad_sq'][i]:.3e} | "
                f"{sweep['analog_sgd']['predicted_floor_grad_sq'][i]:.3e} |")
    figures = (f"Figures: `figures/fig1_alpha_curves.png` (loss curves, {_fixed(cfg, 'alpha_sweep')}), "
               "`figures/fig4_sweeps.png` (plateaus; each panel's fixed parameters in its title).")
    lines += ["", figures, ""]
    return "\n".join(lines)
