"""Figure, curves and report of ``residual-toy`` (edge code: plots and text only)."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from ..runfolder import RunFolder
from .residual_toy import ResidualToyConfig

STYLE = {"pulsed": ("tab:brown", "o", "pulsed (hardware)"),
         "expected": ("tab:blue", "s", "expected + ζ (Lemma 1)"),
         "expected_noiseless": ("0.4", "^", "expected, no ζ (control)")}


def write_report(cfg: ResidualToyConfig, metrics: dict, results: dict, out: RunFolder) -> None:
    columns: dict[str, list] = {"model": [], "n_tiles": [], "step": [], "mse": []}
    for mode, by_n in results.items():
        for n, r in by_n.items():
            for step, value in zip(r["steps"], r["curve"], strict=True):
                for key, v in (("model", mode), ("n_tiles", int(n)), ("step", step), ("mse", value)):
                    columns[key].append(v)
    out.write_curves("error_curves", columns)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.5, 3.8))
    ns = cfg.n_tiles
    for mode in cfg.modes:
        colour, marker, label = STYLE[mode]
        floors = [metrics["floor_by_tiles_by_model"][mode][str(n)] for n in ns]
        se = [metrics["floor_se_by_tiles_by_model"][mode][str(n)] for n in ns]
        left.errorbar(ns, floors, se, color=colour, marker=marker, capsize=3, label=label)
        for n in (ns[0], ns[-1]):
            r = results[mode][str(n)]
            right.plot(r["steps"], r["curve"], color=colour,
                       ls="-" if n == ns[-1] else ":", label=f"{label}, N = {n}")
    anchor_mode = cfg.modes[0]
    first = metrics["floor_by_tiles_by_model"][anchor_mode][str(ns[0])]
    slope = metrics["predicted_log_floor_slope_vs_N"]
    left.plot(ns, [first * math.exp(slope * (n - ns[0])) for n in ns], "k--", lw=1,
              label=f"γ^(2N/3) from N = {ns[0]} (Corollary 1)")
    left.set_yscale("log")
    left.set_xlabel("number of tiles N")
    left.set_ylabel("floor: mean (w̄ − b)² over the last steps")
    left.set_title(f"{cfg.n_states}-state tiles, γ = {cfg.gamma:g}, σ = {cfg.sigma:g}, "
                   f"{cfg.n_targets} targets", fontsize=9)
    right.set_yscale("log")
    right.set_xlabel("step")
    right.set_ylabel("(w̄ − b)², mean over targets")
    for ax in (left, right):
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.tight_layout()
    out.save_figure(fig, "residual_toy")
    out.write_report(report_text(cfg, metrics))


def report_text(cfg: ResidualToyConfig, metrics: dict) -> str:
    lines = ["# residual-toy", "",
             (f"(w̄ − b)² with {cfg.n_targets} {cfg.target_bits}-bit targets |b| < "
             f"{cfg.target_range:g} on N tiles of {cfg.n_states} states, γ = {cfg.gamma:g}, "
             f"α = {cfg.lr:g}, β = {cfg.beta:g}, T_i = {cfg.first_period}·{cfg.period_ratio}ⁱ, "
             f"σ = {cfg.sigma:g}, {cfg.steps} steps; floor = mean (w̄ − b)² over the last "
             f"{cfg.tail:g} of the steps (± its standard error over targets)."), "",
             "| N | " + " | ".join(cfg.modes) + " |", "|---|" + "---|" * len(cfg.modes)]
    for n in cfg.n_tiles:
        cells = [f"{metrics['floor_by_tiles_by_model'][m][str(n)]:.3g} ± "
                 f"{metrics['floor_se_by_tiles_by_model'][m][str(n)]:.2g}" for m in cfg.modes]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    slopes = metrics["log_floor_slope_vs_N_by_model"]
    if slopes:
        lines += ["", "Slope of ln floor on N: " + ", ".join(f"{m} {s:+.3f}" for m, s in slopes.items())
                  + f"; Corollary 1's bound: {metrics['predicted_log_floor_slope_vs_N']:+.3f} "
                  "((2/3) ln γ)."]
    return "\n".join(lines) + "\n"
