"""The table, curves, figure and report of residual-cost (the numbers come from the run)."""

from __future__ import annotations

from ..hardware import cost
from ..hardware.cost import ALGORITHMS
from ..hardware.layers import AnalogLayer
from ..runfolder import RunFolder

NAMES = {"tt_v2": "TT-v2", "analog_sgd": "Analog SGD", "mixed_precision": "MP",
         "residual": "residual (N → ∞)"}


def rows(table5: dict, per_net: dict, energy: dict, tile: dict) -> list[dict]:
    """One row per compared number: quantity, network, algorithm, ours, paper, difference."""
    out = [{"quantity": "update time (ns), D = 512", "network": "", "algorithm": NAMES[a],
            **_plain(table5[a])} for a in ALGORITHMS]
    for net, m in per_net.items():
        out += [{"quantity": "runtime (ns)", "network": net, "algorithm": NAMES[a],
                 **_plain(m["runtime_ns"][a])} for a in ALGORITHMS]
    for net, m in per_net.items():
        out += [{"quantity": "storage (KB)", "network": net, "algorithm": NAMES[a],
                 **_plain(m["storage_kb"][a])} for a in ALGORITHMS]
    out += [{"quantity": "area, one tile (mm²)", "network": net, "algorithm": "",
             **_plain(m["area_mm2"])} for net, m in per_net.items()]
    out.append({"quantity": "tile area, D = 4096 (mm²)", "network": "", "algorithm": "",
                **_plain(tile)})
    out.append({"quantity": "energy per image (nJ)", "network": "perceptron 785-250-10",
                "algorithm": "MP", **_plain(energy["mixed_precision"])})
    out.append({"quantity": "tiles from which MP is cheaper", "network": "perceptron 785-250-10",
                "algorithm": "residual", **_plain(energy["crossing_tiles"])})
    return out


def _plain(c: dict) -> dict:
    return {k: c[k] for k in ("ours", "paper", "rel_diff", "reproduced")}


def markdown(table: list[dict]) -> str:
    lines = ["| quantity | network | algorithm | ours | paper | ours/paper − 1 | rounds to paper |",
             "|---|---|---|---|---|---|---|"]
    for r in table:
        lines.append(f"| {r['quantity']} | {r['network']} | {r['algorithm']} | {r['ours']:.6g} | "
                     f"{r['paper']:g} | {r['rel_diff']:+.2%} | {'yes' if r['reproduced'] else 'no'} |")
    return "\n".join(lines)


def write(out: RunFolder, config, metrics: dict, table: list[dict]) -> None:
    out.write_curves("table", {k: [r[k] for r in table] for k in table[0]})
    n = list(config.n_tiles)
    energy = metrics["energy_per_image_nj"]
    mp_nj = energy["mixed_precision"]["ours"]
    out.write_curves("energy_per_image", {
        "n_tiles": n, "residual_nj": [energy["residual"][str(k)]["ours"] for k in n],
        "residual_paper_nj": [energy["residual"][str(k)]["paper"] for k in n],
        "mixed_precision_nj": [mp_nj] * len(n)})
    times = metrics["residual_update_time_ns"]
    layer = AnalogLayer("D", config.d, config.d)
    bound = cost.update_time_ns("residual", layer, config.cost)
    out.write_curves("residual_update_time", {
        "n_tiles": n, "residual_ns": [times[str(k)] for k in n], "bound_ns": [bound] * len(n)})
    _figure(out, config, metrics, bound)
    s = metrics["summary"]
    missed = "".join(f"\n- {m}" for m in s["not_reproduced"]) or " none"
    out.write_report(
        "# residual-cost\n\nHardware cost of four learning rules (hardware/cost.py; formulas and "
        "which terms are inferred: docs/residual-cost.md), against Li et al. (arXiv 2510.02516, "
        f"Tables 5–6).\n\n{markdown(table)}\n\n"
        f"{s['reproduced']} of {s['compared']} numbers round to the paper's. Not reproduced:"
        f"{missed}\n\nEnergy per image: residual learning with N tiles costs "
        f"{config.energy.residual_fixed_nj:g} + N·{config.energy.residual_per_tile_nj:g} nJ "
        f"(the paper's model) against {mp_nj:.4g} nJ for MP: MP is cheaper from N = "
        f"{s['energy_crossing_tiles']} tiles on.\n")


def _figure(out: RunFolder, config, metrics: dict, bound: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = list(config.n_tiles)
    energy = metrics["energy_per_image_nj"]
    fig, (ax_e, ax_t) = plt.subplots(1, 2, figsize=(9.0, 3.4))
    ax_e.plot(n, [energy["residual"][str(k)]["ours"] for k in n], "o-", color="C3", label="residual")
    ax_e.axhline(energy["mixed_precision"]["ours"], color="C0", label="mixed precision")
    ax_e.axvline(metrics["summary"]["energy_crossing_tiles"], color="0.6", ls=":",
                 label="MP cheaper from here")
    ax_e.set_xlabel("tiles N")
    ax_e.set_ylabel("energy per image (nJ)")
    ax_e.set_title("785-250-10 perceptron", fontsize=9)
    ax_e.legend(fontsize=7)
    times = metrics["residual_update_time_ns"]
    ax_t.plot(n, [times[str(k)] for k in n], "o-", color="C3", label="residual, N tiles")
    ax_t.axhline(bound, color="C3", ls="--", label="residual, N → ∞")
    for a, c in (("tt_v2", "C2"), ("analog_sgd", "C1")):
        ax_t.axhline(metrics["update_time_ns"][a], color=c, label=NAMES[a])
    ax_t.set_xlabel("tiles N")
    ax_t.set_ylabel("update time per sample (ns)")
    ax_t.set_title(f"D = {config.d} (MP: {metrics['update_time_ns']['mixed_precision']:.0f} ns)",
                   fontsize=9)
    ax_t.legend(fontsize=7)
    fig.tight_layout()
    out.save_figure(fig, "residual_cost")
