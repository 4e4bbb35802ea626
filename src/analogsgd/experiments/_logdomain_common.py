"""Shared pieces of the log-domain experiments: run a batch of circuit instances next to the
two ideals, operating-region reports, and figures (edge code: matplotlib, Agg)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..logdomain import metrics as mt
from ..logdomain import references as ref
from ..logdomain.accelerator import LogDomainDesign
from ..logdomain.instances import build_instances
from ..logdomain.simulate import SimResult, SolverConfig, simulate
from ..logdomain.transistor import check_weak_inversion

REFERENCES = (
    "Tageldeen, Belgaid, Mohan, Wang, Drakakis: analog log-domain SGDr accelerator, arXiv 2501.13181 (2025)",
    "Enz, Krummenacher, Vittoz: the EKV MOS model, Analog Integr. Circ. Sig. Process. 8 (1995)",
    "Pelgrom, Duinmaijer, Welbers: matching properties of MOS transistors, IEEE JSSC 24(5) (1989)",
    "Verwer, Spee, Blom, Hundsdorfer: a second-order Rosenbrock method, SIAM J. Sci. Comput. 20 (1999)",
)

METRIC_TEXT = (
    "**Error metric.** `nmse_pct(a, ref) = 100 · mean_{k,j}(a_kj − ref_kj)² / max_{k,j}|ref_kj|²` over "
    "every sample instant k (end of each hold) and every parameter j (weights and bias): the "
    "mean *squared* error of the weight trajectory normalised to the square of the reference's full "
    "scale (its largest weight magnitude over the run), in percent. `rms_pct_of_fs = 10·√nmse_pct` is "
    "the same error as an rms deviation in percent of the full scale (NMSE 0.87 % ⇔ rms 9.3 % of FS); "
    "tables give both as \"NMSE % / rms % FS\". The paper's own error metric is unknown (only its "
    "abstract is available): its \"0.87 %\" is compared with the NMSE here, the reading most "
    "favourable to it. Comparisons with discrete SGDr are normalised to the ideal CT run's full "
    "scale too, so a diverging discrete run shows as a large error. *vs ideal* compares the circuit "
    "with the ideal continuous-time SGDr ODE (isolates circuit non-idealities); *vs discrete* with "
    "discrete SGDr (adds the continuous/discrete formulation gap); *CT vs discrete* is that gap alone."
)

#: the abstract's bound on the mean square error, read as an NMSE in percent (docs/logdomain.md §7)
CLAIM_NMSE_PCT = 0.87


@dataclass
class BatchResult:
    sim: SimResult
    ideal: np.ndarray      # (S+1, M, P)
    discrete: np.ndarray   # (S+1, M, P)
    vs_ideal: np.ndarray   # (M,) nmse_pct of the circuit vs ideal CT
    vs_discrete: np.ndarray  # (M,) nmse_pct vs discrete SGDr (inf where it diverged)
    ct_vs_discrete: np.ndarray
    final_vs_ideal: np.ndarray  # (M,) final_nmse_pct vs ideal CT
    violations: list


#: the solver settings of a run that names none
DEFAULT_SOLVER = SolverConfig()


def run_batch(design: LogDomainDesign, X, Y, eta, lam, *, temp_c=None, mismatch=False,
              noise=True, rng: np.random.Generator, solver: SolverConfig = DEFAULT_SOLVER,
              progress=None, description="circuit") -> BatchResult:
    """Simulate M instances on the stream (X, Y) and compare with both ideals."""
    p = build_instances(design, X.shape[1], eta, lam, temp_c=temp_c, mismatch=mismatch,
                        noise=noise, rng=rng)
    if progress is not None:
        with progress.task(len(X), description) as task:
            sim = simulate(p, X, Y, solver, rng=rng, progress=task)
    else:
        sim = simulate(p, X, Y, solver, rng=rng)
    # the ideals depend on (η, λ) only: compute each distinct pair once
    pairs, inverse = np.unique(np.stack([p.eta, p.lam], 1), axis=0, return_inverse=True)
    inverse = np.ravel(inverse)
    ideal = ref.ideal_ct_sgdr(X, Y, pairs[:, 0], pairs[:, 1])[:, inverse]
    disc = ref.discrete_sgdr(X, Y, pairs[:, 0], pairs[:, 1])[:, inverse]
    with np.errstate(over="ignore", invalid="ignore"):
        fs = mt.full_scale(ideal)
        vs_disc = mt.nmse_pct(sim.weights, disc, fs)
        ct_disc = mt.nmse_pct(ideal, disc, fs)
    vs_disc = np.where(np.isfinite(vs_disc), vs_disc, np.inf)
    ct_disc = np.where(np.isfinite(ct_disc), ct_disc, np.inf)
    viol = []
    v = check_weak_inversion("storage", float(sim.i_max.max()), design.i_spec("storage"))
    if v:
        viol.append(v.as_dict())
    return BatchResult(sim, ideal, disc, mt.nmse_pct(sim.weights, ideal), vs_disc, ct_disc,
                       mt.final_nmse_pct(sim.weights, ideal), viol)


def decades(values) -> float:
    pos = [v for v in values if v > 0]
    return math.log10(max(pos) / min(pos)) if len(pos) > 1 else 0.0


def finite_or_str(x: float):
    """A number, or a label when discrete SGDr diverged (error above 1e6 % of full scale)."""
    return float(x) if math.isfinite(x) and x < 1e6 else "diverged (discrete SGDr)"


def error_keys(what: str, nmse: float, discrete: bool = False) -> dict:
    """``nmse_<what>_pct`` and ``rms_<what>_pct_of_fs`` of one NMSE; ``discrete``: a diverged
    discrete run is labelled instead of given as a number."""
    return mt.both(what, finite_or_str(nmse) if discrete else nmse)


def pct2(nmse: float) -> str:
    """One error as "NMSE % / rms % of FS" for tables and sentences."""
    if not math.isfinite(nmse) or nmse >= 1e6:
        return "diverged" if nmse >= 1e6 or nmse == math.inf else "NaN"
    return f"{nmse:.3g} / {float(mt.rms_pct_of_fs(nmse)):.3g}"


def plot_trajectories(out, name: str, title: str, circuit, ideal, disc, max_panels: int = 11):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    P = circuit.shape[1]
    cols = min(P, 4)
    rows = math.ceil(min(P, max_panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    k = np.arange(circuit.shape[0])
    for j in range(rows * cols):
        ax = axes[j // cols][j % cols]
        if j >= min(P, max_panels):
            ax.axis("off")
            continue
        ax.plot(k, disc[:, j], color="0.6", lw=1.0, label="discrete SGDr")
        ax.plot(k, ideal[:, j], color="C0", lw=1.6, label="ideal CT SGDr")
        ax.plot(k, circuit[:, j], color="C3", lw=0.9, ls="--", label="circuit")
        ax.set_title("bias" if j == P - 1 else f"w{j + 1}", fontsize=9)
        ax.tick_params(labelsize=7)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.supxlabel("sample", fontsize=9)
    fig.tight_layout()
    out.save_figure(fig, name)


def markdown_table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(c) for c in r) + " |")
    return "\n".join(lines)


def _fmt(c):
    if isinstance(c, float):
        return f"{c:.4g}"
    return str(c)
