"""logdomain-precision: effective precision of the trained weights in bits.

Two definitions (docs/logdomain.md §8):

* **matched-error bits** (headline ``effective_bits``): the bit width b* at which b-bit
  fixed-point digital SGDr, fed the same 8-bit (``design.dac_bits``) quantised inputs and labels
  as the circuit and compared with float discrete SGDr on the unquantised stream, has the same
  trajectory error (``nmse_pct``) as the circuit has against the ideal CT ODE; log-linear
  interpolation between integer widths. Where the circuit's error lies outside the digital curve
  over [bits_min, bits_max], b* is None and ``effective_bits_status`` says on which side
  ("above_bits_max": more precise than the widest digital run; "below_bits_min"). The digital
  weights use the tightest range ±max|w| and stochastic rounding (the stronger digital
  baseline; round-to-nearest is reported too); the minimum over the learning rates is reported.
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
from ..logdomain.blocks.sample_hold import quantise
from ..logdomain.simulate import SolverConfig
from ..rng import child_seeds, numpy_generator
from . import _logdomain_common as common
from .base import Experiment, RunContext


@dataclass(frozen=True)
class PrecisionConfig(Config):
    dataset: str = param("diabetes", "dataset: synthetic-<N>f or diabetes", Text(non_empty=True))
    etas: list = param([0.05, 0.1], "learning rates η (discrete SGDr, the digital baseline, diverges "
                       "on diabetes above ~0.2)", NumberList(Interval(0.0, None, low_open=True), distinct=True))
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


@dataclass(frozen=True)
class MatchedBits:
    """Where a digital error-vs-bits curve crosses a target error.

    ``bits`` is the crossing (log-linear between integer widths) or None when the target lies
    outside the curve; ``status`` is "within", "above_bits_max" (the target is below the error of
    the widest run: more precise than ``bits_max``), "below_bits_min" (above the error of the
    narrowest run) or "non_finite" (a NaN or infinite target).
    """

    bits: float | None
    status: str


def matched_bits(bits, errors, target) -> MatchedBits:
    """b where the (decreasing) error curve first crosses ``target``, log-linear between points."""
    if not (math.isfinite(target) and target > 0):
        return MatchedBits(None, "non_finite")
    le, lt = np.log(np.asarray(errors, dtype=float)), math.log(target)
    for k in range(len(bits) - 1):
        if le[k] >= lt >= le[k + 1]:
            frac = (le[k] - lt) / (le[k] - le[k + 1]) if le[k] != le[k + 1] else 0.0
            return MatchedBits(float(bits[k] + frac * (bits[k + 1] - bits[k])), "within")
    return MatchedBits(None, "above_bits_max" if lt < le[-1] else "below_bits_min")


def _least(matches: list[MatchedBits]) -> MatchedBits:
    """The least precise of several matches: "below_bits_min" < any crossing < "above_bits_max"."""
    rank = {"non_finite": -2, "below_bits_min": -1, "within": 0, "above_bits_max": 1}
    return min(matches, key=lambda m: (rank[m.status], m.bits if m.bits is not None else 0.0))


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
    # the digital baseline sees the circuit's own DAC codes of inputs and labels
    d = config.design
    Xq, Yq = (quantise(a, d.dac_bits, d.x_full_scale)[0] for a in (X, Y))
    m_sr, m_rtn, m_float = [], [], []
    for i, eta in enumerate(config.etas):
        sl = slice(i * R, (i + 1) * R)
        e_c = float(res.vs_ideal[sl].mean())
        disc = res.discrete[:, i * R:i * R + 1]
        F = float(np.abs(disc).max())
        e_sr, e_rtn, e_float = [], [], []
        for b in bits:
            # the same baseline on unquantised inputs (what an ideal input path would allow)
            q_fl = ref.quantised_sgdr(X, Y, eta, config.lam, b, F, rng=rng_dig)
            e_float.append(float(mt.nmse_pct(q_fl, disc)[0]))
            q_sr = ref.quantised_sgdr(Xq, Yq, eta, config.lam, b, F, rng=rng_dig)
            q_rn = ref.quantised_sgdr(Xq, Yq, eta, config.lam, b, F)
            e_sr.append(float(mt.nmse_pct(q_sr, disc)[0]))
            e_rtn.append(float(mt.nmse_pct(q_rn, disc)[0]))
        fs = float(np.abs(res.ideal[:, i * R]).max())
        final = res.sim.weights[-1, sl]                      # (R, P)
        sigma_noise = float(np.sqrt(final.var(0, ddof=1).mean()))
        rms_total = float(np.sqrt(((final - res.ideal[-1, sl]) ** 2).mean()))

        def enob(s: float, fs: float = fs) -> float:
            return math.log2(2 * fs / (s * math.sqrt(12))) if s > 0 else float("inf")

        sr, rtn = matched_bits(bits, e_sr, e_c), matched_bits(bits, e_rtn, e_c)
        fl = matched_bits(bits, e_float, e_c)
        m_sr.append(sr)
        m_rtn.append(rtn)
        m_float.append(fl)
        per_eta[f"{eta:g}"] = {
            **mt.both("circuit_vs_ideal", e_c),
            "matched_bits_stochastic_rounding": sr.bits,
            "matched_bits_stochastic_rounding_status": sr.status,
            "matched_bits_round_to_nearest": rtn.bits,
            "matched_bits_round_to_nearest_status": rtn.status,
            "matched_bits_float_inputs": fl.bits, "matched_bits_float_inputs_status": fl.status,
            "enob_noise_only": enob(sigma_noise), "enob_total": enob(rms_total),
            "weight_full_scale": fs, "sigma_noise": sigma_noise, "rms_error_final": rms_total,
        }
        curves[f"digital_sr_eta{eta:g}"] = e_sr
        curves[f"digital_rtn_eta{eta:g}"] = e_rtn
        curves[f"digital_sr_float_inputs_eta{eta:g}"] = e_float
    ctx.out.write_curves("digital_error_vs_bits", curves)
    _plot(ctx.out, config, curves, per_eta)
    eff, eff_rtn, eff_float = _least(m_sr), _least(m_rtn), _least(m_float)
    enob_total = mt.worst(-v["enob_total"] for v in per_eta.values()) * -1.0
    summary = {
        "effective_bits": eff.bits,
        "effective_bits_status": eff.status,
        "effective_bits_definition": "b at which b-bit stochastic-rounding digital SGDr fed the circuit's "
                                     f"{d.dac_bits}-bit inputs, vs float SGDr, has the circuit's nmse_pct "
                                     "vs ideal CT (least over η); None when outside [bits_min, bits_max]",
        "effective_bits_round_to_nearest": eff_rtn.bits,
        "effective_bits_round_to_nearest_status": eff_rtn.status,
        "effective_bits_float_inputs": eff_float.bits,
        "effective_bits_float_inputs_status": eff_float.status,
        "enob_noise_only_min": -mt.worst(-v["enob_noise_only"] for v in per_eta.values()),
        "enob_total_min": enob_total,
        # "at least 8 bits": a crossing at ≥ 8, or more precise than the widest digital run
        "claim_8_bits_holds": bool(eff.status == "above_bits_max"
                                   or (eff.status == "within" and eff.bits >= 8)),
        "etas": config.etas, "lambda": config.lam, "repeats": R, "input_dac_bits": d.dac_bits,
        "bits_range": [config.bits_min, config.bits_max],
    }
    rows = [[k, common.pct2(v["nmse_circuit_vs_ideal_pct"]),
             _bits_text(MatchedBits(v["matched_bits_stochastic_rounding"],
                                    v["matched_bits_stochastic_rounding_status"]), config),
             _bits_text(MatchedBits(v["matched_bits_round_to_nearest"],
                                    v["matched_bits_round_to_nearest_status"]), config),
             _bits_text(MatchedBits(v["matched_bits_float_inputs"],
                                    v["matched_bits_float_inputs_status"]), config),
             v["enob_noise_only"], v["enob_total"]] for k, v in per_eta.items()]
    ctx.out.write_report(
        "# logdomain-precision\n\n" + (__doc__.split("\n\n", 1)[1]) + "\n" +
        f"Fixed: dataset {config.dataset}, λ = {config.lam:g}, {config.epochs} epoch(s), {R} noise "
        f"repeats per η, nominal design (no mismatch), {d.dac_bits}-bit input DACs for circuit and "
        "digital baseline alike.\n\n" +
        common.markdown_table(["η", "circuit vs ideal CT (NMSE % / rms % FS)", "matched bits (SR)",
                               "matched bits (RTN)", "matched bits (SR, float inputs)", "ENOB noise",
                               "ENOB total"], rows) +
        f"\n\nEffective precision: matched-error **{_bits_text(eff, config)} bits** with the circuit's "
        f"{d.dac_bits}-bit inputs ({_bits_text(eff_float, config)} bits against a digital baseline on "
        f"float inputs), beside the stored "
        f"weight's ENOB of **{enob_total:.3g} bits** (all non-idealities, final instant; "
        f"{summary['enob_noise_only_min']:.3g} bits from noise alone); abstract: 8 bits; holds "
        f"(matched-error): {summary['claim_8_bits_holds']}.\n\n{common.METRIC_TEXT}\n")
    return {"summary": summary, "per_eta": per_eta}


def _bits_text(m: MatchedBits, config: PrecisionConfig) -> str:
    if m.status == "within":
        return f"{m.bits:.2f}"
    if m.status == "above_bits_max":
        return f"> {config.bits_max}"
    if m.status == "below_bits_min":
        return f"< {config.bits_min}"
    return "n/a (non-finite error)"


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
        ax.axhline(per_eta[f"{eta:g}"]["nmse_circuit_vs_ideal_pct"], color=c, ls="--", lw=1)
    ax.set_xlabel("digital weight width b (bits)")
    ax.set_ylabel("NMSE vs own ideal (%)  [rms % of FS = 10·√NMSE]", fontsize=8)
    ax.legend(fontsize=7)
    ax.set_title(f"{config.dataset}, λ = {config.lam:g}, {config.design.dac_bits}-bit inputs; "
                 "dashed: circuit vs ideal CT", fontsize=8)
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
