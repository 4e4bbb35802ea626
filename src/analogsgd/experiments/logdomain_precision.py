"""logdomain-precision: effective precision of the trained weights in bits.

Two definitions (docs/logdomain.md §8):

* **matched-error bits** (headline ``effective_bits``): the bit width b* at which b-bit
  fixed-point digital SGDr, compared with float discrete SGDr, has the same trajectory error
  (``mse_pct``) as the circuit has against the ideal CT ODE; log-linear interpolation between
  integer widths. The digital weights use the tightest range ±max|w| and stochastic rounding
  (the stronger digital baseline; round-to-nearest is reported too); the minimum over the
  learning rates is reported.
* **ENOB of the stored weight**: ``log2(2F/(σ√12))`` with F the weights' full scale and σ the
  rms deviation of the final weights, either across noise repeats (noise only) or from the
  ideal CT weights (all non-idealities).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..config import POSITIVE_INT, Config, InstanceOf, Interval, NumberList, Text, param
from ..logdomain import datasets as ds
from ..logdomain import metrics as mt
from ..logdomain import references as ref
from ..logdomain.accelerator import LogDomainDesign
from ..logdomain.simulate import SolverConfig
from ..rng import child_seeds, numpy_generator
from . import _logdomain_common as common
from .base import Experiment, RunContext


@dataclass(frozen=True)
class PrecisionConfig(Config):
    dataset: str = param("diabetes", "dataset: synthetic-<N>f or diabetes", Text(non_empty=True))
    etas: list = param([0.01, 0.05], "learning rates η",
                       NumberList(Interval(0.0, None, low_open=True), distinct=True))
    lam: float = param(1e-3, "λ", Interval(0.0, None))
    epochs: int = param(2, "passes over the data", POSITIVE_INT)
    repeats: int = param(16, "noise repeats per η (circuit instances)", Interval(2, 10000, integer=True))
    bits_min: int = param(4, "smallest digital width", Interval(2, 32, integer=True))
    bits_max: int = param(16, "largest digital width", Interval(2, 32, integer=True))
    design: LogDomainDesign = param(LogDomainDesign(), "the accelerator design",
                                     InstanceOf(LogDomainDesign))
    solver: SolverConfig = param(SolverConfig(), "integrator settings", InstanceOf(SolverConfig))

    def check_invariants(self) -> None:
        from ..errors import ConfigError
        from ..logdomain.datasets import check_name
        from ..logdomain.mapping import circuit_values

        check_name(self.dataset, "PrecisionConfig.dataset")
        if self.bits_min >= self.bits_max:
            raise ConfigError("PrecisionConfig.bits_min", self.bits_min,
                              f"< bits_max = {self.bits_max}",
                              "The error-versus-width curve needs at least two widths.")

        for eta in self.etas:  # every point must be realisable by the design, before any work
            for lam in [self.lam]:
                circuit_values(self.design, eta, lam)


def matched_bits(bits, errors, target) -> float:
    """b where the (decreasing) error curve crosses ``target``, log-linear between points."""
    le, lt = np.log(np.asarray(errors)), math.log(target)
    for k in range(len(bits) - 1):
        if le[k] >= lt >= le[k + 1]:
            frac = (le[k] - lt) / (le[k] - le[k + 1]) if le[k] != le[k + 1] else 0.0
            return float(bits[k] + frac * (bits[k + 1] - bits[k]))
    return float(bits[-1]) if lt < le[-1] else float(bits[0])


def run(config: PrecisionConfig, ctx: RunContext) -> dict:
    s_data, s_circ, s_dig = child_seeds(ctx.seed, 3)
    rng = numpy_generator(s_data)
    data = ds.make(config.dataset, rng, 300)
    X, Y = ds.stream(data, config.epochs, rng)
    R = config.repeats
    etas = np.repeat(config.etas, R)
    res = common.run_batch(config.design, X, Y, etas, config.lam, noise=True,
                           rng=numpy_generator(s_circ), solver=config.solver,
                           progress=ctx.progress, description="circuit repeats")
    bits = list(range(config.bits_min, config.bits_max + 1))
    per_eta, curves = {}, {"bits": bits}
    rng_dig = numpy_generator(s_dig)
    for i, eta in enumerate(config.etas):
        sl = slice(i * R, (i + 1) * R)
        e_c = float(res.vs_ideal[sl].mean())
        disc = res.discrete[:, i * R:i * R + 1]
        F = float(np.abs(disc).max())
        e_sr, e_rtn = [], []
        for b in bits:
            q_sr = ref.quantised_sgdr(X, Y, eta, config.lam, b, F, rng=rng_dig)
            q_rn = ref.quantised_sgdr(X, Y, eta, config.lam, b, F)
            e_sr.append(float(mt.mse_pct(q_sr, disc)[0]))
            e_rtn.append(float(mt.mse_pct(q_rn, disc)[0]))
        fs = float(np.abs(res.ideal[:, i * R]).max())
        final = res.sim.weights[-1, sl]                      # (R, P)
        sigma_noise = float(np.sqrt(final.var(0, ddof=1).mean()))
        rms_total = float(np.sqrt(((final - res.ideal[-1, sl]) ** 2).mean()))
        enob = lambda s: math.log2(2 * fs / (s * math.sqrt(12))) if s > 0 else float("inf")
        per_eta[f"{eta:g}"] = {
            "circuit_mse_vs_ideal_pct": e_c,
            "matched_bits_stochastic_rounding": matched_bits(bits, e_sr, e_c),
            "matched_bits_round_to_nearest": matched_bits(bits, e_rtn, e_c),
            "enob_noise_only": enob(sigma_noise), "enob_total": enob(rms_total),
            "weight_full_scale": fs, "sigma_noise": sigma_noise, "rms_error_final": rms_total,
        }
        curves[f"digital_sr_eta{eta:g}"] = e_sr
        curves[f"digital_rtn_eta{eta:g}"] = e_rtn
    ctx.out.write_curves("digital_error_vs_bits", curves)
    _plot(ctx.out, config, curves, per_eta)
    eff = min(v["matched_bits_stochastic_rounding"] for v in per_eta.values())
    summary = {
        "effective_bits": eff,
        "effective_bits_definition": "b at which b-bit stochastic-rounding digital SGDr vs float SGDr "
                                     "has the circuit's mse_pct vs ideal CT (min over η)",
        "effective_bits_round_to_nearest": min(v["matched_bits_round_to_nearest"] for v in per_eta.values()),
        "enob_noise_only_min": min(v["enob_noise_only"] for v in per_eta.values()),
        "enob_total_min": min(v["enob_total"] for v in per_eta.values()),
        "claim_8_bits_holds": bool(eff >= 8),
        "etas": config.etas, "lambda": config.lam, "repeats": R,
    }
    rows = [[k, v["circuit_mse_vs_ideal_pct"], v["matched_bits_stochastic_rounding"],
             v["matched_bits_round_to_nearest"], v["enob_noise_only"], v["enob_total"]]
            for k, v in per_eta.items()]
    ctx.out.write_report(
        "# logdomain-precision\n\n" + (__doc__.split("\n\n", 1)[1]) + "\n" +
        common.markdown_table(["η", "circuit vs ideal CT (%)", "matched bits (SR)", "matched bits (RTN)",
                               "ENOB noise", "ENOB total"], rows) +
        f"\n\nEffective precision: **{eff:.2f} bits** (claim: 8 bits).\n\n{common.METRIC_TEXT}\n")
    return {"summary": summary, "per_eta": per_eta}


def _plot(out, config, curves, per_eta):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for i, eta in enumerate(config.etas):
        c = f"C{i}"
        ax.semilogy(curves["bits"], curves[f"digital_sr_eta{eta:g}"], "o-", color=c, ms=3,
                    label=f"digital SR, η={eta:g}")
        ax.semilogy(curves["bits"], curves[f"digital_rtn_eta{eta:g}"], "x:", color=c, ms=3,
                    label=f"digital RTN, η={eta:g}")
        ax.axhline(per_eta[f"{eta:g}"]["circuit_mse_vs_ideal_pct"], color=c, ls="--", lw=1)
    ax.set_xlabel("digital weight width b (bits)")
    ax.set_ylabel("mse_pct vs own ideal (%)")
    ax.legend(fontsize=7)
    ax.set_title("dashed: circuit vs ideal CT", fontsize=9)
    fig.tight_layout()
    out.save_figure(fig, "precision_matched_bits")


def full() -> PrecisionConfig:
    return PrecisionConfig()


def quick() -> PrecisionConfig:
    return PrecisionConfig(epochs=1, repeats=6)


EXPERIMENT = Experiment(
    name="logdomain-precision",
    description="effective bits of the log-domain SGDr circuit's weights (matched digital width, ENOB)",
    full=full, quick=quick, run=run, references=common.REFERENCES)
