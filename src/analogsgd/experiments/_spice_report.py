"""Figures and report of spice-validate (edge code: matplotlib, Agg)."""

from __future__ import annotations

import math

import numpy as np

from . import _logdomain_common as common

SUMMARY_KEYS = ("nmse_behavioural_vs_spice_pct", "rms_behavioural_vs_spice_pct_of_fs",
                "nmse_spice_vs_ideal_pct", "rms_spice_vs_ideal_pct_of_fs", "speedup_vs_spice")

SCOPE_TEXT = (
    "**What is transistor-level.** Blocks: the translinear loop's four devices, the mirror (2), "
    "the Bernoulli cell (storage, self-discharge diode, copy device) and the leak's storage "
    "device, all card MOSFETs; their input currents, the loop's tail sink (an ideal copy of "
    "I_b + I_c) and the bias levels V_S0, V_OUT are ideal sources. Accelerator (\"translinear\" "
    "arithmetic): the class-AB storage pair of every weight and of the bias on its capacitor C, "
    "the four forward multipliers x·I^±/I_u, the four gradient multiplier/dividers "
    "I_τ(x e^±/I_u)/(I⁺+I⁻) (two cascaded loops each) and the two leak dividers I_λI^±/(I⁺+I⁻) "
    "of every parameter are translinear loops of card MOSFETs; weights are read from the "
    "simulated pair currents. **Idealised in the accelerator**: the antiphase gate drive "
    "V_G0 ± V_C (unity buffers), the unity mirrors that copy currents between blocks and sum "
    "them (KCL), the loops' tail sinks, the class-AB error splitter "
    "e^± = ½(√(e² + 4I_qe²) ± e), and the sample-and-hold DACs (PWL current sources holding the "
    "quantised DAC currents). The \"ideal\" arithmetic variant replaces every loop by the "
    "exact equation (B-sources), leaving only the storage pairs at transistor level.")


def _fig(n, cols=3, w=3.6, h=2.7):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(w * cols, h * rows), squeeze=False)
    for k in range(n, rows * cols):
        axes[k // cols][k % cols].axis("off")
    return fig, axes


def plot_blocks(out, blocks) -> None:
    """One panel per block: ngspice, behavioural (fitted EKV) and ideal overlaid."""
    fig, axes = _fig(len(blocks))
    for k, b in enumerate(blocks):
        ax = axes[k // 3][k % 3]
        ax.plot(b.x, b.spice, color="k", lw=1.6, label="ngspice")
        ax.plot(b.x, b.behavioural, color="C3", lw=1.0, ls="--", label="behavioural (fitted EKV)")
        if b.ideal is not None:
            ax.text(0.02, 0.95, f"behav. vs ngspice {common.pct2(b.summary()['nmse_behavioural_vs_spice_pct'])}"
                    " (NMSE % / rms %)", transform=ax.transAxes, fontsize=6, va="top")
        ax.plot(b.x, b.ideal, color="C0", lw=1.0, ls=":", label="ideal")
        if b.ratio_metric:
            ax.set_yscale("log")
            if b.name != "transistor":
                ax.set_xscale("log")
        ax.set_title(b.name, fontsize=9)
        ax.set_xlabel(b.x_label, fontsize=8)
        ax.set_ylabel(b.y_label, fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    out.save_figure(fig, "blocks")


def plot_accelerator(out, c, tag: str, variant: str) -> None:
    """Weight trajectories: ngspice, behavioural, ideal CT and discrete SGDr."""
    P = c.spice.shape[1]
    fig, axes = _fig(P, cols=min(P, 3))
    k = np.arange(c.spice.shape[0])
    for j in range(P):
        ax = axes[j // 3][j % 3]
        ax.plot(k, c.discrete[:, j], color="0.6", lw=1.0, label="discrete SGDr")
        ax.plot(k, c.ideal[:, j], color="C0", lw=1.6, label="ideal CT SGDr")
        ax.plot(k, c.spice[:, j], color="k", lw=1.0, label="ngspice")
        ax.plot(k, c.behavioural[:, j], color="C3", lw=0.9, ls="--", label="behavioural")
        ax.set_title("bias" if j == P - 1 else f"w{j + 1}", fontsize=9)
        ax.set_xlabel("sample", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0][0].legend(fontsize=7)
    s = c.summary()
    fig.suptitle(f"{c.n_features}-feature accelerator ({variant} arithmetic), "
                 f"η = {c.eta_realised:.4g}, λ = {c.lam:g}, T = {c.hold_s:.3g} s; behavioural vs "
                 f"ngspice NMSE {common.pct2(s['nmse_behavioural_vs_spice_pct']).replace(' / ', ' % / rms ')} % FS",
                 fontsize=9)
    fig.tight_layout()
    out.save_figure(fig, f"accelerator_{tag}")


def _acc_table(accel: dict) -> str:
    rows = [[name, v["samples"], v["hold_s"]]
            + [common.pct2(v[f"nmse_{w}_pct"]) for w in ("behavioural_vs_spice", "spice_vs_ideal",
                                                           "behavioural_vs_ideal", "spice_vs_discrete")]
            + [v["spice_wall_s"], v["behavioural_wall_s"], v["speedup_vs_spice"]]
            for name, v in accel.items()]
    return common.markdown_table(
        ["size", "samples", "hold T (s)", "behavioural vs ngspice", "ngspice vs ideal CT",
         "behavioural vs ideal CT", "ngspice vs discrete", "ngspice wall (s)",
         "behavioural wall (s)", "speed-up"], rows)


def markdown(config, card, fit, validation: dict, blocks: dict, accel: dict, ideal_arith: dict,
             bandwidth: dict) -> str:
    f = fit.as_dict()
    rows = [[name, common.pct2(v["nmse_behavioural_vs_spice_pct"]), common.pct2(v["nmse_spice_vs_ideal_pct"]),
             v["max_rel_behavioural_vs_spice_pct"], v["max_rel_spice_vs_ideal_pct"],
             v["speedup_vs_spice"]] for name, v in blocks.items()]
    block_table = common.markdown_table(
        ["block", "behavioural vs ngspice (NMSE % / rms %)", "ngspice vs ideal (NMSE % / rms %)",
         "max rel. behav. vs ngspice (%)", "max rel. ngspice vs ideal (%)", "speed-up"], rows)
    held = "; ".join(f"{k.replace('_', ' ')}: {v['max_rel_err_pct']:.2f} % max, "
                     f"{v['rms_rel_err_pct']:.2f} % rms ({v['points']} points)"
                     for k, v in validation.items())
    d = config.design
    bw = ""
    if bandwidth:
        first = next(iter(bandwidth.values()))
        bw = f"""### Short-hold study: I_τ = {config.bandwidth_i_tau_a:g} A

The same stream with I_τ raised {config.bandwidth_i_tau_a / d.i_tau_a:g}×, so that the hold at the
same η is {first['hold_s']:.3g} s, below the design's shortest realisable hold
(settle_factor·C_node nU_T/I_loop,min = {d.t_hold_min_s:.3g} s, with I_loop,min =
{d.i_loop_min_a:.3g} A; the rule is relaxed for this run only). The behavioural model treats every
block as instantaneous, while a translinear node settles with C_node nU_T/I: this run measures what
that assumption costs below the realisable range.

{_acc_table(bandwidth)}
"""
    return f"""# spice-validate

Card: **{card.name}** ({card.description}); design: {d.technology} preset for the ideals,
W/L storage {d.w_storage_um:g}/{d.l_storage_um:g} µm, translinear {d.w_tl_um:g}/{d.l_tl_um:g} µm,
C = {d.c_w_f:g} F, I_u = {d.i_u_a:g} A, I_qw = {d.i_qw_a:g} A, I_τ = {d.i_tau_a:g} A, V_DD = {d.vdd_v:g} V,
{d.temp_c:g} °C.

## EKV fit to the card

Fitted on the even gate-voltage points of ngspice's DC sweep of the {f['w_um']:g}/{f['l_um']:g} µm
test transistor (channel current read in the source lead, V_DS = 0.3 V): **n = {f['n']:.4f}**,
**V_T0 = {f['vt0_v']:.4f} V**, **I_spec = {f['i_spec_a']:.4g} A**. In-sample residual of the
weak-inversion law the behavioural simulator uses: {f['max_rel_err_pct']:.2f} % (max),
{f['rms_rel_err_pct']:.2f} % (rms) over {f['decades']:.2f} decades ({f['weak_range_a'][0]:.3g} A to
{f['weak_range_a'][1]:.3g} A). **Held out** (the validation): {held}.

## Blocks

{block_table}

*Behavioural*: the transistor's is the fitted law on the held-out gate voltages; the translinear
loop's and the mirror's is their EKV-level block model (all-region law, fitted n and I_spec); the
Bernoulli cell's and the leak's integrate the fitted device. *Ideal*: the transistor's is the
design's nominal `{d.technology}` parameter set; the loop's and the mirror's the exact function
(I_a I_b/I_c, I_in) — for the mirror the EKV-level model differs from it by e^(−V_DS/U_T) ≈ 10⁻⁵
only, so those two columns agree by construction; the Bernoulli cell's and the leak's ideal is
the closed form with the nominal n. Sweeps over decades (transistor, translinear,
mirror) use the metric on the ratio to the reference (full scale 1), transients the plain one.
The behavioural speed-up of closed-form blocks compares a NumPy evaluation with a whole ngspice
process (start-up included), so it mostly measures ngspice's start-up.

## Accelerator

One epoch of a synthetic set streamed from reset, η = {config.eta:g} (realised with the fitted n,
column below), λ = {config.lam:g}; the behavioural simulator integrates with
`{config.solver.integrator}`. Speed-up: wall time of the ngspice process over the behavioural
simulator on the same transient, both measured in this run.

Errors: NMSE % / rms % of full scale. Worst behavioural vs ngspice over every accelerator run
below, the short hold included: see the summary's `worst_accelerator_*` keys.

### Transistor-level translinear arithmetic (the summary's `accelerator`)

{_acc_table(accel)}

### Storage pairs only (ideal arithmetic)

{_acc_table(ideal_arith)}

{bw}
{SCOPE_TEXT}

{common.METRIC_TEXT}
"""
