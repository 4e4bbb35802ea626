"""spice-validate: the log-domain blocks and the 1- and 2-feature accelerator at transistor level
in ngspice, against the behavioural simulator run "as the card" and against the ideals
(docs/spice.md).

Steps: (1) DC sweep of the card's test transistor and EKV fit (n, I_spec, V_T0) on its even
gate-voltage points, validated on the odd ones and on a second sweep at another drain voltage; (2) each
block's netlist next to its behavioural model with the fitted parameters and its ideal;
(3) each accelerator size streaming one epoch of a synthetic set from reset, ngspice's transient
against the behavioural trajectory and ideal CT / discrete SGDr; wall times of both simulators
measured on the same transient in the same run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from ..config import Config, InstanceOf, Interval, NumberList, OneOf, param
from ..errors import ConfigError
from ..logdomain import datasets as ds
from ..logdomain import metrics as mt
from ..logdomain.accelerator import MIN_SETTLE_FACTOR, LogDomainDesign
from ..logdomain.simulate import SolverConfig
from ..rng import child_seeds, numpy_generator
from ..spice import extract
from ..spice.models import CARDS, get_card
from ..spice.runner import find_ngspice
from . import _logdomain_common as common
from . import _spice_blocks as sb
from . import _spice_report as report
from ._spice_accelerator import compare
from .base import Experiment, RunContext

#: the behavioural model's non-idealities that the netlist does not contain are switched off
#: (off-current floor, junction leakage of the storage node) and the gradient is not chopped
#: (all gains are 1 in the nominal instance; chopping would only rotate equal paths)
SPICE_DESIGN = LogDomainDesign(technology="generic-bsim3", i_floor_a=0.0, i_leak_a=0.0,
                               chop_gradient=False)


@dataclass(frozen=True)
class SpiceValidateConfig(Config):
    card: str = param("generic-bsim3", "model card of the transistor-level netlists",
                      OneOf(tuple(CARDS)))
    feature_counts: list = param([1, 2], "accelerator sizes N (features) to validate",
                                 NumberList(Interval(1, 16, integer=True), distinct=True))
    n_samples: int = param(200, "samples streamed through each accelerator (one epoch, from reset)",
                           Interval(2, 20000, integer=True))
    eta: float = param(0.05, "learning rate η of the accelerator runs",
                       Interval(0.0, 1.0, low_open=True))
    lam: float = param(1e-2, "L2 regularisation λ of the accelerator runs", Interval(0.0, 1.0))
    timeout_s: float = param(300.0, "time limit of one ngspice run, s", Interval(1.0, 3600.0))
    block_points: int = param(21, "points of each block's DC sweep (two decades)",
                              Interval(3, 1001, integer=True))
    bandwidth_i_tau_a: float = param(500e-12, "I_τ of the short-hold study: the smallest accelerator "
                                     "again with a hold shorter by i_tau_a/bandwidth_i_tau_a, "
                                     "below the design's shortest realisable one (0: skip), A",
                                     Interval(0.0, 1e-6))
    validation_vds_v: float = param(0.6, "drain voltage of the held-out sweep the EKV fit is "
                                    "validated on, V", Interval(0.05, 5.0))
    design: LogDomainDesign = param(SPICE_DESIGN, "the accelerator design (one source of truth "
                                    "for sizes, currents, capacitors and supply)",
                                    InstanceOf(LogDomainDesign))
    solver: SolverConfig = param(SolverConfig(), "behavioural integrator settings",
                                 InstanceOf(SolverConfig))

    def check_invariants(self) -> None:
        from ..logdomain.mapping import circuit_values

        circuit_values(self.design, self.eta, self.lam)
        if self.bandwidth_i_tau_a > 0:
            i_tau, factor = self.design.i_tau_a, self.design.settle_factor
            lo, hi = i_tau * (1.0 + 1e-12), i_tau * factor / MIN_SETTLE_FACTOR
            if not lo <= self.bandwidth_i_tau_a <= hi:
                raise ConfigError("SpiceValidateConfig.bandwidth_i_tau_a", self.bandwidth_i_tau_a,
                                  f"0 (no short-hold study) or within ({i_tau:.3g}, {hi:.3g}] A",
                                  "The study shortens the hold by bandwidth_i_tau_a / i_tau_a > 1, "
                                  "and relaxes the settling rule by the same factor, down to "
                                  f"settle_factor = {MIN_SETTLE_FACTOR:g}.")
            circuit_values(short_hold_design(self), self.eta, self.lam)


def short_hold_design(config: SpiceValidateConfig) -> LogDomainDesign:
    """The short-hold study's design: I_τ raised to ``bandwidth_i_tau_a`` (a hold shorter by the
    same factor at the same η) with the settling rule relaxed by that factor, so that the run
    measures what a hold below the realisable range costs (docs/spice.md §6)."""
    d = config.design
    k = config.bandwidth_i_tau_a / d.i_tau_a
    return replace(d, i_tau_a=config.bandwidth_i_tau_a, settle_factor=d.settle_factor / k)


def check(config: SpiceValidateConfig) -> None:
    """Before the run folder is made: ngspice present and the card found (one-line errors)."""
    find_ngspice()
    get_card(config.card)


def run(config: SpiceValidateConfig, ctx: RunContext) -> dict:
    find_ngspice()  # also when run() is called directly, not through the command line
    card = get_card(config.card)
    d = config.design
    to = config.timeout_s
    sweep = extract.measure(card, d.w_storage_um, d.l_storage_um, temp_c=d.temp_c, timeout_s=to)
    fit_points, held_out = extract.interleaved(sweep)
    fit = extract.fit_ekv(fit_points, d.w_storage_um, d.l_storage_um, d.temp_c)
    other_vds = extract.measure(card, d.w_storage_um, d.l_storage_um, vd_v=config.validation_vds_v,
                                temp_c=d.temp_c, timeout_s=to)
    validation = {"interleaved_gate_voltages": extract.validate(fit, held_out),
                  f"vds_{config.validation_vds_v:g}_v": extract.validate(fit, other_vds)}

    block_list = [sb.transistor(d, fit, held_out),
                  sb.translinear(d, card, fit, to, config.block_points),
                  sb.mirror(d, card, fit, to, config.block_points), sb.bernoulli(d, card, fit, to),
                  sb.leak(d, card, fit, to)]
    blocks = {b.name: b.summary() for b in block_list}
    for b in block_list:
        ctx.out.write_curves(f"block_{b.name}", {b.x_label: b.x, "spice": b.spice,
                                                 "behavioural": b.behavioural, "ideal": b.ideal})
    report.plot_blocks(ctx.out, block_list)

    accel, ideal_arith, bandwidth = {}, {}, {}
    seeds = child_seeds(ctx.seed, len(config.feature_counts))
    runs = len(config.feature_counts) * 2 + (config.bandwidth_i_tau_a > 0)
    with ctx.progress.task(runs, "accelerator (ngspice)") as task:
        for n, seed in zip(config.feature_counts, seeds):
            rng = numpy_generator(seed)
            data = ds.synthetic(config.n_samples, n, rng)
            X, Y = ds.stream(data, 1, rng)
            key = f"{n}-feature"
            for arith, store in (("translinear", accel), ("ideal", ideal_arith)):
                c = compare(d, card, fit, X, Y, config.eta, config.lam, config.solver, to, arith)
                store[key] = c.summary()
                tag = f"{n}f" + ("" if arith == "translinear" else "_ideal_arithmetic")
                _write_trajectories(ctx, tag, c)
                report.plot_accelerator(ctx.out, c, tag, arith)
                task.advance()
            if n == min(config.feature_counts) and config.bandwidth_i_tau_a > 0:
                fast = short_hold_design(config)
                c = compare(fast, card, fit, X, Y, config.eta, config.lam, config.solver, to)
                bandwidth[key] = c.summary()
                _write_trajectories(ctx, f"{n}f_bandwidth", c)
                report.plot_accelerator(ctx.out, c, f"{n}f_bandwidth", "translinear")
                task.advance()

    summary = {
        "card": card.name,
        "ekv_fit": {**fit.as_dict(), "fitted_on": "even gate-voltage points of the sweep",
                    "held_out": validation},
        "blocks": {k: {kk: v[kk] for kk in report.SUMMARY_KEYS} for k, v in blocks.items()},
        "accelerator": {k: {kk: v[kk] for kk in report.SUMMARY_KEYS} for k, v in accel.items()},
        "accelerator_ideal_arithmetic": {k: {kk: v[kk] for kk in report.SUMMARY_KEYS}
                                         for k, v in ideal_arith.items()},
        "accelerator_bandwidth_study": {k: {kk: v[kk] for kk in report.SUMMARY_KEYS}
                                        for k, v in bandwidth.items()},
        **worst_runs(accel, ideal_arith, bandwidth),
    }
    ctx.out.write_report(report.markdown(config, card, fit, validation, blocks, accel, ideal_arith,
                                         bandwidth))
    return {"summary": summary, "blocks": blocks, "accelerator": accel,
            "accelerator_ideal_arithmetic": ideal_arith, "accelerator_bandwidth_study": bandwidth}


def worst_runs(accel: dict, ideal_arith: dict, short_hold: dict) -> dict:
    """The worst behavioural-vs-ngspice error over every accelerator run, the short hold (below
    the realisable range) included, with its run name; and the worst over the realisable runs.
    A NaN error is the worst."""
    runs = {**{f"{k}/translinear": v for k, v in accel.items()},
            **{f"{k}/ideal_arithmetic": v for k, v in ideal_arith.items()},
            **{f"{k}/short_hold": v for k, v in short_hold.items()}}
    key = "nmse_behavioural_vs_spice_pct"
    realisable = [v[key] for k, v in runs.items() if not k.endswith("/short_hold")]
    worst_name = max(runs, key=lambda k: math.inf if math.isnan(runs[k][key]) else runs[k][key])
    return {**mt.both("worst_accelerator_behavioural_vs_spice", mt.worst(v[key] for v in runs.values())),
            "worst_accelerator_run": worst_name,
            **mt.both("worst_realisable_accelerator_behavioural_vs_spice", mt.worst(realisable))}


def _write_trajectories(ctx: RunContext, tag: str, c) -> None:
    n = c.n_features
    cols = {"sample": np.arange(c.spice.shape[0])}
    for j in range(n + 1):
        lab = "b" if j == n else f"w{j + 1}"
        for name, arr in (("spice", c.spice), ("behavioural", c.behavioural),
                          ("ideal_ct", c.ideal), ("discrete", c.discrete)):
            cols[f"{lab}_{name}"] = arr[:, j]
    ctx.out.write_curves(f"accelerator_{tag}", cols)


def full() -> SpiceValidateConfig:
    return SpiceValidateConfig(feature_counts=[1, 2, 4], n_samples=400)


def quick() -> SpiceValidateConfig:
    return SpiceValidateConfig(feature_counts=[1, 2], n_samples=60)


EXPERIMENT = Experiment(
    name="spice-validate",
    description="log-domain blocks and 1-/2-feature accelerator in ngspice vs the behavioural "
                "simulator (fitted EKV) vs ideal SGDr; error and speed-up",
    full=full, quick=quick, run=run, check=check,
    references=common.REFERENCES + (
        "Nagel, Pederson: SPICE (Simulation Program with Integrated Circuit Emphasis), UCB ERL-M382 (1973); ngspice",
        "Cheng, Hu et al.: BSIM3v3 MOSFET model, UC Berkeley (1996)",
        "Vittoz: analog VLSI signal processing, why, where and how; translinear loops in weak inversion (1994)",
    ))
