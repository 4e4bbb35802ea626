"""``ls-asymptotic``: the asymptotic error of Analog SGD vs Tiki-Taka on least squares.

Reproduces Fig. 1 and Fig. 4 of Wu, Gokmen, Rasch, Chen, "Towards Exact Gradient-based Training
on Analog In-memory Computing" (NeurIPS 2024): on asymmetric linear devices (ALD), Analog SGD
stalls at an error floor that no learning rate removes (Theorem 2: 4σ²S_K), while Tiki-Taka
keeps converging like digital SGD (Theorem 4). Each sweep runs its points as replicas of one
batched simulation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from ..config import POSITIVE, POSITIVE_INT, Config, Interval, NumberList, OneOf, param
from ..crossbar.replicas import stack_device_arrays
from ..crossbar.tile import AnalogTile, TileConfig, UpdateConfig
from ..devices.linear_step import asymmetric_linear_device
from ..devices.variation import DeviceArray
from ..errors import ConfigError
from ..optim import LearningRule, registry
from ..problems import LeastSquares, run_least_squares
from ..rng import child_seeds, torch_generator
from .base import Experiment, RunContext

#: the rules the paper compares (labels and colours from the registry)
ALGORITHMS = ("digital_sgd", "analog_sgd", "tiki_taka")
POS_LIST = NumberList(Interval(0.0, None, low_open=True), distinct=True)


@dataclass(frozen=True)
class LsAsymptoticConfig(Config):
    """Settings of the least-squares study (defaults: the paper's D = 40, D_out = 100)."""

    d_in: int = param(40, "D: number of inputs (columns of W)", POSITIVE_INT)
    d_out: int = param(100, "D_out: number of outputs (rows of W)", POSITIVE_INT)
    n_samples: int = param(400, "N: rows of the data matrix X behind H = XᵀX/N", POSITIVE_INT)
    w_star_max: float = param(0.4, "|W*| bound: W* uniform in ±w_star_max", POSITIVE)
    steps: int = param(10000, "K: iterations per run", POSITIVE_INT)
    record_every: int = param(10, "record the curves every this many steps", POSITIVE_INT)
    tail_fraction: float = param(0.1, "fraction of the recorded curve averaged as the plateau",
                                 Interval(0.0, 1.0, low_open=True))
    alphas: tuple = param((0.2, 0.1, 0.05, 0.02, 0.01), "α sweep (Fig. 1): learning rate / transfer lr", POS_LIST)
    tau: float = param(0.8, "τ of the ALD in the α and σ² sweeps", POSITIVE)
    sigma_sq: float = param(0.01, "σ²: per-entry gradient-noise variance in the α and τ sweeps", POSITIVE)
    sweep_alpha: float = param(0.05, "α used in the τ and σ² sweeps (Fig. 4)", POSITIVE)
    taus: tuple = param((0.6, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0), "τ sweep (Fig. 4 left)", POS_LIST)
    sigma_sqs: tuple = param((0.001, 0.01, 0.1, 1.0), "σ² sweep (Fig. 4 right)", POS_LIST)
    fast_lr: float = param(0.1, "β: Tiki-Taka fast-array learning rate", POSITIVE)
    tt_columns: str = param("one", "Tiki-Taka: 'all' columns per transfer (Eq. TT-W) or 'one' (cyclic)",
                            OneOf(("all", "one")))
    dw_min: float = param(1e-4, "Δw_min of the devices (Fig. 1: 1e-4)", POSITIVE)
    max_pulses: int = param(800, "max pulses per element per update and BL of the transfer "
                             "(Fig. 1: BL 800)", POSITIVE_INT)
    mode: str = param("pulsed", "tile update mode", OneOf(("pulsed", "expected")))

    def check_invariants(self) -> None:
        if self.n_samples < self.d_in:
            raise ConfigError("LsAsymptoticConfig.n_samples", self.n_samples,
                              f">= d_in = {self.d_in}",
                              "With fewer samples than inputs H = XᵀX/N is singular (μ = 0).")
        if self.record_every > self.steps:
            raise ConfigError("LsAsymptoticConfig.record_every", self.record_every,
                              f"<= steps = {self.steps}", "Otherwise only W_0 and W_K are recorded.")
        if self.w_star_max >= min(self.taus + (self.tau,)):
            raise ConfigError("LsAsymptoticConfig.w_star_max", self.w_star_max,
                              f"< the smallest τ = {min(self.taus + (self.tau,))}",
                              "The optimum must lie inside the device bounds.")


def quick_config() -> LsAsymptoticConfig:
    return LsAsymptoticConfig(steps=3000, alphas=(0.2, 0.1, 0.05, 0.02), taus=(0.6, 1.0, 2.0, 5.0),
                              sigma_sqs=(0.001, 0.01, 0.1))


#: peak bytes per replica and weight element of one sweep (three algorithms in turn, Tiki-Taka
#: holding two tiles, the pulsed update's temporaries), measured: peak RSS of 20-step runs with
#: 7 replicas at D × D_out = 200 × 500 and 400 × 1000 rose by 595 B per replica-element
#: between the two; 700 B leaves a margin
BYTES_PER_REPLICA_ELEMENT = 700
#: the interpreter with torch, numba and matplotlib loaded (measured: 310 MB)
BASE_BYTES = 400 * 2**20
#: per recorded step, algorithm and replica: loss and ‖∇f‖² tensors and the curves' floats
BYTES_PER_RECORD = 200


def memory_estimate(cfg: LsAsymptoticConfig) -> int:
    """Estimated peak memory of a run in bytes: the largest sweep's tiles and temporaries, the
    recorded curves of all three sweeps, the problem's data and the interpreter."""
    replicas = max(len(cfg.alphas), len(cfg.taus), len(cfg.sigma_sqs))
    sweep_values = len(cfg.alphas) + len(cfg.taus) + len(cfg.sigma_sqs)
    records = cfg.steps // cfg.record_every + 1
    data = 8 * (cfg.n_samples * cfg.d_in + cfg.d_in ** 2 + 2 * cfg.d_out * cfg.d_in)
    return (BASE_BYTES + BYTES_PER_REPLICA_ELEMENT * replicas * cfg.d_out * cfg.d_in + data
            + BYTES_PER_RECORD * records * len(ALGORITHMS) * sweep_values)


def available_memory() -> int | None:
    """Bytes the machine can give a new process now (Linux ``MemAvailable``), or None if unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check(cfg: LsAsymptoticConfig) -> None:
    """Before the run folder is made: refuse a configuration whose estimated peak memory
    (:func:`memory_estimate`) exceeds the machine's available memory."""
    need, have = memory_estimate(cfg), available_memory()
    if have is not None and need > have:
        replicas = max(len(cfg.alphas), len(cfg.taus), len(cfg.sigma_sqs))
        raise ConfigError("LsAsymptoticConfig (d_out × d_in × replicas)",
                          f"{cfg.d_out} × {cfg.d_in} × {replicas}, about {need / 2**30:.3g} GiB",
                          f"at most the available memory, {have / 2**30:.3g} GiB",
                          "Reduce d_in, d_out or the number of values per sweep.")


def _rule(algorithm: str, cfg: LsAsymptoticConfig, taus: list[float], lrs: torch.Tensor,
          generator: torch.Generator) -> tuple[LearningRule, float | torch.Tensor]:
    """(the rule over replicas (α_r, τ_r), its gradient-write rate). The swept α is the
    gradient rate of Digital and Analog SGD and Tiki-Taka's transfer rate (its fast rate β is
    ``fast_lr``), as in the paper."""
    shape = (cfg.d_out, cfg.d_in)
    replicas = len(taus)
    rule_cfg = registry.config(algorithm, **(
        {"transfer_every": 1, "columns_per_transfer": cfg.tt_columns} if algorithm == "tiki_taka"
        else {}))
    if not rule_cfg.roles():
        return rule_cfg.build((), weight=torch.zeros((replicas,) + shape, dtype=torch.float64)), lrs
    tile_cfg = TileConfig(device=asymmetric_linear_device(taus[0], cfg.dw_min),
                          update=UpdateConfig(mode=cfg.mode, max_pulses=cfg.max_pulses,
                                               desired_bl=cfg.max_pulses))

    def tile() -> AnalogTile:
        arrays = [DeviceArray.realise(asymmetric_linear_device(t, cfg.dw_min), shape, None, generator,
                                      dtype=torch.float64) for t in taus]
        return AnalogTile((replicas,) + shape, tile_cfg, generator, dtype=torch.float64,
                          devices=stack_device_arrays(arrays))

    rule = rule_cfg.build(tuple(tile() for _ in rule_cfg.roles()))
    if type(rule_cfg).fast_tile:
        rule.transfer_lr = lrs
        return rule, cfg.fast_lr
    return rule, lrs


#: the parameter each sweep varies (the other two are fixed), as named in the config
SWEPT = {"alpha_sweep": "alpha", "tau_sweep": "tau", "sigma_sweep": "sigma_sq"}


def curve_column(algorithm: str, parameter: str, value: float) -> str:
    """Name of a loss-curve column in ``curves/<sweep>_loss.csv``, e.g. ``analog_sgd_alpha=0.1``
    (the swept value written as Python's shortest round-trip float)."""
    return f"{algorithm}_{parameter}={float(value)!r}"


def _sweep(name: str, cfg: LsAsymptoticConfig, problem: LeastSquares, alphas, taus, sigma_sqs,
           seed: int, ctx: RunContext) -> dict:
    """Run the three algorithms over replicas (α_r, τ_r, σ²_r); return per-replica results."""
    lrs = torch.tensor(alphas, dtype=torch.float64)
    sigmas = torch.tensor(sigma_sqs, dtype=torch.float64).sqrt()
    out: dict = {"alpha": list(alphas), "tau": list(taus), "sigma_sq": list(sigma_sqs)}
    curves: dict = {}
    for algorithm, s in zip(ALGORITHMS, child_seeds(seed, len(ALGORITHMS))):
        gen = torch_generator(s)
        rule, lr = _rule(algorithm, cfg, list(taus), lrs, gen)
        traj = run_least_squares(rule, problem, cfg.steps, sigmas, gen, cfg.record_every,
                                 tau=torch.tensor(taus), progress=ctx.progress,
                                 description=f"{name}: {registry.labels()[algorithm]}", lr=lr)
        loss_tail = traj.tail_mean(traj.loss, cfg.tail_fraction)
        grad_tail = traj.tail_mean(traj.grad_sq, cfg.tail_fraction)
        total_sigma_sq = torch.tensor(sigma_sqs, dtype=torch.float64) * cfg.d_in * cfg.d_out
        out[algorithm] = {
            "final_loss": loss_tail.tolist(),
            "final_grad_sq": grad_tail.tolist(),
            "saturation_S_K": traj.saturation.tolist(),
            "predicted_floor_grad_sq": (4 * total_sigma_sq * traj.saturation).tolist(),
        }
        curves["step"] = traj.steps
        losses = torch.stack(traj.loss)
        swept = out[SWEPT[name]]
        for r in range(losses.shape[1]):
            curves[curve_column(algorithm, SWEPT[name], swept[r])] = losses[:, r].tolist()
    out["ald_closed_form_loss"] = [
        float(problem.loss(problem.ald_stationary_point(float(sq) ** 0.5, float(t))))
        for t, sq in zip(taus, sigma_sqs)]
    ctx.out.write_curves(f"{name}_loss", curves)
    return out


def run(cfg: LsAsymptoticConfig, ctx: RunContext) -> dict:
    seeds = child_seeds(ctx.seed, 4)
    problem = LeastSquares.random(cfg.d_in, cfg.d_out, cfg.n_samples, cfg.w_star_max,
                                  torch_generator(seeds[0]))
    n_a, n_t, n_s = len(cfg.alphas), len(cfg.taus), len(cfg.sigma_sqs)
    alpha = _sweep("alpha_sweep", cfg, problem, cfg.alphas, [cfg.tau] * n_a, [cfg.sigma_sq] * n_a,
                   seeds[1], ctx)
    tau = _sweep("tau_sweep", cfg, problem, [cfg.sweep_alpha] * n_t, cfg.taus,
                 [cfg.sigma_sq] * n_t, seeds[2], ctx)
    sigma = _sweep("sigma_sweep", cfg, problem, [cfg.sweep_alpha] * n_s, [cfg.tau] * n_s,
                   cfg.sigma_sqs, seeds[3], ctx)

    a_loss = {alg: alpha[alg]["final_loss"] for alg in ALGORITHMS}
    i_min = min(range(n_a), key=lambda i: cfg.alphas[i])
    analog = alpha["analog_sgd"]
    summary = {
        "analog_sgd_floor_ratio": max(a_loss["analog_sgd"]) / min(a_loss["analog_sgd"]),
        "digital_drop_ratio": max(a_loss["digital_sgd"]) / min(a_loss["digital_sgd"]),
        "tt_drop_ratio": max(a_loss["tiki_taka"]) / min(a_loss["tiki_taka"]),
        "analog_over_digital_at_min_alpha": a_loss["analog_sgd"][i_min] / a_loss["digital_sgd"][i_min],
        "tt_over_digital_at_min_alpha": a_loss["tiki_taka"][i_min] / a_loss["digital_sgd"][i_min],
        "tt_over_analog_at_min_alpha": a_loss["tiki_taka"][i_min] / a_loss["analog_sgd"][i_min],
        "floor_measured_over_predicted":
            analog["final_grad_sq"][i_min] / analog["predicted_floor_grad_sq"][i_min],
        "analog_floor_over_closed_form": a_loss["analog_sgd"][i_min] / alpha["ald_closed_form_loss"][i_min],
        "min_alpha": cfg.alphas[i_min],
        "L": problem.smoothness,
        "mu": problem.strong_convexity,
    }
    metrics = {"summary": summary, "alpha_sweep": alpha, "tau_sweep": tau, "sigma_sweep": sigma}
    from ._ls_report import write_figures_and_report

    write_figures_and_report(cfg, metrics, ctx.out)
    return metrics


EXPERIMENT = Experiment(
    name="ls-asymptotic",
    description="Analog SGD's error floor vs Tiki-Taka on least squares (Wu et al. 2024, Fig. 1 & 4)",
    full=LsAsymptoticConfig,
    quick=quick_config,
    run=run,
    check=check,
    references=(("Z. Wu, T. Gokmen, M. J. Rasch, T. Chen. Towards Exact Gradient-based Training on "
                 "Analog In-memory Computing. NeurIPS 2024, arXiv:2406.12774."),),
)
