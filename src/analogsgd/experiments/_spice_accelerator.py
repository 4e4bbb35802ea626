"""Accelerator-level comparison for spice-validate: the same stream through ngspice's
transistor-level netlist (:mod:`analogsgd.spice.accelerator`) and through the behavioural
simulator run "as the card", both against ideal continuous-time and discrete SGDr.

"As the card": the behavioural instance is the design's nominal instance (no mismatch, no
noise, gains 1) with n·U_T replaced by the fitted n; the realised learning rate is then
``η_r = T I_τ/(C n_fit U_T)`` (docs/logdomain.md §5), which the ideals use.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from ..logdomain import metrics as mt
from ..logdomain import references as ref
from ..logdomain.accelerator import LogDomainDesign
from ..logdomain.instances import CircuitParams, build_instances
from ..logdomain.simulate import SolverConfig, simulate
from ..logdomain.transistor import thermal_voltage
from ..spice import accelerator as acc
from ..spice.extract import EkvFit
from ..spice.models import ModelCard


@dataclass
class AcceleratorComparison:
    n_features: int
    eta_realised: float
    lam: float
    hold_s: float
    spice: np.ndarray        # (S+1, P) weights, bias last
    behavioural: np.ndarray  # (S+1, P)
    ideal: np.ndarray        # (S+1, P) ideal CT SGDr
    discrete: np.ndarray     # (S+1, P) discrete SGDr
    spice_wall_s: float
    behavioural_wall_s: float

    def summary(self) -> dict:
        def pct(a, b, scale=None):
            return float(mt.nmse_pct(a[:, None], b[:, None], scale)[0])

        fs = mt.full_scale(self.ideal[:, None])
        return {
            **mt.both("behavioural_vs_spice", pct(self.behavioural, self.spice)),
            **mt.both("spice_vs_ideal", pct(self.spice, self.ideal)),
            **mt.both("behavioural_vs_ideal", pct(self.behavioural, self.ideal)),
            **mt.both("spice_vs_discrete", pct(self.spice, self.discrete, fs)),
            **mt.both("final_behavioural_vs_spice", float(mt.final_nmse_pct(
                self.behavioural[:, None], self.spice[:, None])[0])),
            "speedup_vs_spice": self.spice_wall_s / self.behavioural_wall_s,
            "spice_wall_s": self.spice_wall_s,
            "behavioural_wall_s": self.behavioural_wall_s,
            "samples": int(self.spice.shape[0] - 1),
            "eta_realised": self.eta_realised,
            "lambda": self.lam,
            "hold_s": self.hold_s,
        }


def as_the_card(design: LogDomainDesign, n_features: int, eta: float, lam: float,
                fit: EkvFit) -> CircuitParams:
    """The nominal behavioural instance with the card's fitted slope factor."""
    p = build_instances(design, n_features, eta, lam, mismatch=False, noise=False)
    n_ut = fit.params.n * float(thermal_voltage(design.temp_k))
    return replace(p, n_ut=np.full_like(p.n_ut, n_ut))


def compare(design: LogDomainDesign, card: ModelCard, fit: EkvFit, X: np.ndarray, Y: np.ndarray,
            eta: float, lam: float, solver: SolverConfig, timeout_s: float,
            arithmetic: str = "translinear") -> AcceleratorComparison:
    S, N = X.shape
    p = as_the_card(design, N, eta, lam, fit)
    t0 = time.perf_counter()
    sim = simulate(p, X, Y, solver)
    t_beh = time.perf_counter() - t0
    net = acc.accelerator(design, p, fit.params, card, X, Y, arithmetic)
    res = net.run(timeout_s=timeout_s)
    T = float(p.hold_s[0])
    w_spice = acc.weights_at_holds(res, N + 1, p.i_u, T, S)
    eta_r = T * float(p.i_tau[0, 0]) / (float(p.c_f[0, 0]) * float(p.n_ut[0, 0]))
    ideal = ref.ideal_ct_sgdr(X, Y, eta_r, lam)[:, 0]
    disc = ref.discrete_sgdr(X, Y, eta_r, lam)[:, 0]
    return AcceleratorComparison(N, eta_r, lam, T, w_spice, sim.weights[:, 0], ideal, disc,
                                 res.wall_s, t_beh)
