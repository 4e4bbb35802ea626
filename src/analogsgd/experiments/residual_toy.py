"""``residual-toy``: the error floor of residual learning against the number of tiles.

The scalar problem of Li et al. (2025, ablations): f(w̄) = (w̄ − b)² with a 16-bit target
b = k·2⁻¹⁵·``target_range`` (k a random 16-bit signed integer) learned on N tiles of 2 bits
(n_states = 4: soft bounds on ±1 with Δw_min = 0.5, :func:`~.few_states.few_state_device`)
combined as w̄ = Σ_n γⁿ w⁽ⁿ⁾ (:mod:`analogsgd.optim.residual`; N = 1 is Analog SGD on one
tile). The stochastic gradient is 2(w̄ − b) + ε with ε ~ N(0, σ²). Many targets run at once as
replicas of one 1×1 tile, each with its own devices and draws.

The *floor* is the mean of (w̄ − b)² over the last ``tail`` fraction of the steps and over the
targets. Corollary 1 bounds it by Θ(γ^(2N/3)(σΔw_min)^(2/3)): ln floor falls with slope
(2/3) ln γ per tile at most. The run reports the measured slope (least squares of ln floor on
N) beside that one, for each update model in ``modes``:

* ``pulsed``: stochastic pulse trains of Δw_min (the hardware);
* ``expected``: the compact update of the paper's eq. (2) with Lemma 1's write noise ζ
  (Var = |ΔW| Δw_min (1 − |ΔW|/(BL Δw_min)));
* ``expected_noiseless``: the compact update without ζ (a control: the few states' write
  noise removed, the gradient noise kept).

Rates follow the theory's scalings (Theorem 3: α = Θ(1), β = Θ(γ²), T_n = Θ(1/γ)): a constant
gradient rate α, one transfer rate β for every transfer and periods T_i = T_0·n_sⁱ with
n_s ≈ 1/γ (tile n is written n_s times less often than tile n + 1); the chained transfers run
from the first step (the warm start needs epochs, which this problem has not).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..config import POSITIVE, POSITIVE_INT, Config, Interval, NumberList, OrNone, param
from ..errors import ConfigError
from ._network_common import ChoiceList
from .base import Experiment, RunContext
from .few_states import LI_2025_REF

MODES = ("pulsed", "expected", "expected_noiseless")


@dataclass(frozen=True)
class ResidualToyConfig(Config):
    n_tiles: list = param([1, 2, 3, 4, 5, 6, 7, 8], "numbers of tiles N (1: Analog SGD on one "
                          "tile)", NumberList(Interval(1, 12, integer=True), distinct=True,
                                             increasing=True))
    n_states: int = param(4, "states per tile (2 bits: 4); Δw_min = 2/n_states on ±1",
                          Interval(2, None, integer=True))
    gamma: float = param(0.3, "γ: tile n is read with gain γⁿ (just above 1/n_states)",
                         Interval(0.0, 1.0, low_open=True, high_open=True))
    target_bits: int = param(16, "bits of the target b (signed fixed point)",
                             Interval(2, 30, integer=True))
    target_range: float = param(0.5, "|b| < target_range", Interval(0.0, 1.0, low_open=True))
    n_targets: int = param(32, "targets run at once (replicas of a 1×1 tile)", POSITIVE_INT)
    steps: int = param(40000, "SGD steps", POSITIVE_INT)
    tail: float = param(0.25, "fraction of the last steps the floor averages over",
                        Interval(0.0, 1.0, low_open=True))
    sigma: float = param(0.05, "σ: standard deviation of the gradient noise ε", POSITIVE)
    lr: float = param(0.1, "α: the gradient-write rate", POSITIVE)
    transfer_lr: float | None = param(0.01, "β, the rate of every transfer (None: γ²; the "
                                      "theory asks Θ(γ²): 0.01 ≈ γ²/9 keeps the noiseless chain "
                                      "stable to N = 4 where γ² = 0.09 did not)", OrNone(POSITIVE))
    first_period: int = param(2, "T_0: steps between two transfers of the gradient tile",
                              POSITIVE_INT)
    period_ratio: int = param(4, "n_s: T_i = T_0·n_sⁱ (the theory's T_n = Θ(1/γ))", POSITIVE_INT)
    modes: list = param(list(MODES), "update models run (see the module docstring)",
                       ChoiceList(MODES))
    update_bl: int = param(31, "BL of a pulse train (pulsed) and of ζ (expected)", POSITIVE_INT)
    record_every: int = param(100, "steps between two points of the error curves", POSITIVE_INT)

    def check_invariants(self) -> None:
        if self.tail * self.steps < 1:
            raise ConfigError("ResidualToyConfig.tail", self.tail,
                              f"a fraction that keeps at least one of the {self.steps} steps")

    @property
    def beta(self) -> float:
        return self.gamma**2 if self.transfer_lr is None else self.transfer_lr

    @property
    def predicted_log_slope(self) -> float:
        """(2/3) ln γ: the slope of ln floor against N in Corollary 1's bound."""
        return 2.0 / 3.0 * math.log(self.gamma)


def rule_config(cfg: ResidualToyConfig, n: int):
    """Analog SGD for N = 1, else residual learning with the study's rates, no warm start."""
    from ..optim import registry

    if n == 1:
        return registry.config("analog_sgd")
    return registry.config("residual", n_tiles=n, gamma=cfg.gamma, warm_start=False,
                           transfer_every=[cfg.first_period * cfg.period_ratio**i
                                           for i in range(n - 1)],
                           transfer_lr=[cfg.beta] * (n - 1))


def tile_config(cfg: ResidualToyConfig, mode: str):
    from ..crossbar.tile import TileConfig, UpdateConfig
    from .few_states import few_state_device

    kind = "pulsed" if mode == "pulsed" else "expected"
    return TileConfig(device=few_state_device(cfg.n_states),
                      update=UpdateConfig(mode=kind, desired_bl=cfg.update_bl,
                                          max_pulses=cfg.update_bl,
                                          quantisation_noise=mode == "expected"))


def targets(cfg: ResidualToyConfig, generator: torch.Generator) -> torch.Tensor:
    """b = k·2^(1−bits)·range, k uniform over the signed ``target_bits``-bit integers."""
    half = 2 ** (cfg.target_bits - 1)
    k = torch.randint(-half, half, (cfg.n_targets, 1, 1), generator=generator)
    return k.to(torch.float64) / half * cfg.target_range


def run_one(cfg: ResidualToyConfig, n: int, mode: str, seed: int, task=None) -> dict:
    """One N and update model: the floor, its standard error over targets and the curve."""
    from ..crossbar.tile import AnalogTile
    from ..rng import child_seeds, torch_generator

    target_seed, tile_seed, noise_seed = child_seeds(seed, 3)
    b = targets(cfg, torch_generator(target_seed))
    rule_cfg = rule_config(cfg, n)
    tiles_gen, noise = torch_generator(tile_seed), torch_generator(noise_seed)
    tile_cfg = tile_config(cfg, mode)
    tiles = tuple(AnalogTile((cfg.n_targets, 1, 1), tile_cfg, tiles_gen, dtype=torch.float64)
                  for _ in rule_cfg.roles())
    rule = rule_cfg.build(tiles)
    rule.program(torch.zeros_like(b))
    start = cfg.steps - max(1, round(cfg.tail * cfg.steps))
    tail_sum = torch.zeros_like(b)
    curve_steps, curve = [], []
    for k in range(cfg.steps):
        err = rule.weight - b
        grad = 2.0 * err + cfg.sigma * torch.randn(b.shape, generator=noise, dtype=b.dtype)
        rule.step_dense(grad, cfg.lr)
        if k >= start:
            tail_sum += err**2
        if k % cfg.record_every == 0:
            curve_steps.append(k)
            curve.append(float((err**2).mean()))
        if task is not None:
            task.advance()
    per_target = (tail_sum / (cfg.steps - start)).flatten()
    return {"floor": float(per_target.mean()),
            "floor_se": float(per_target.std() / math.sqrt(per_target.numel())),
            "steps": curve_steps, "curve": curve}


def log_slope(ns: list[int], floors: list[float]) -> float:
    """Least-squares slope of ln floor on N."""
    x = torch.tensor(ns, dtype=torch.float64)
    y = torch.log(torch.tensor(floors, dtype=torch.float64))
    xc = x - x.mean()
    return float((xc * (y - y.mean())).sum() / (xc**2).sum())


def run(cfg: ResidualToyConfig, ctx: RunContext) -> dict:
    from ..rng import child_seeds
    from ._residual_toy_report import write_report

    results: dict[str, dict[str, dict]] = {}
    seeds = child_seeds(ctx.seed, len(cfg.n_tiles))       # one per N, shared across models
    for mode in cfg.modes:
        results[mode] = {}
        for n, seed in zip(cfg.n_tiles, seeds, strict=True):
            with ctx.progress.task(cfg.steps, f"residual-toy: {mode}, N = {n}") as task:
                results[mode][str(n)] = run_one(cfg, n, mode, seed, task)
    floors = {m: {n: r["floor"] for n, r in results[m].items()} for m in cfg.modes}
    slopes = ({m: log_slope(cfg.n_tiles, list(floors[m].values())) for m in cfg.modes}
              if len(cfg.n_tiles) > 1 else {})
    primary = cfg.modes[0]
    metrics = {
        "floor_by_tiles": floors[primary],
        "log_floor_slope_vs_N": slopes.get(primary),
        "predicted_log_floor_slope_vs_N": cfg.predicted_log_slope,
        "update_model": primary,
        "floor_by_tiles_by_model": floors,
        "floor_se_by_tiles_by_model": {m: {n: r["floor_se"] for n, r in results[m].items()}
                                       for m in cfg.modes},
        "log_floor_slope_vs_N_by_model": slopes,
        "summary": {"gamma": cfg.gamma, "n_states": cfg.n_states, "dw_min": 2.0 / cfg.n_states,
                    "transfer_lr": cfg.beta,
                    "transfer_every": [cfg.first_period * cfg.period_ratio**i
                                       for i in range(max(cfg.n_tiles) - 1)],
                    "target_resolution": 2.0 ** (1 - cfg.target_bits) * cfg.target_range,
                    "metric": "mean over the last tail·steps steps and the targets of (w̄ − b)²"},
    }
    write_report(cfg, metrics, results, ctx.out)
    return metrics


def full_config() -> ResidualToyConfig:
    """N = 1 … 8, 32 targets, 50 000 steps (at N = 8 the most significant tile is written
    every 2·4⁶ = 8 192 steps, 6 times), all three update models."""
    return ResidualToyConfig(steps=50000)


def quick_config() -> ResidualToyConfig:
    """N = 1 … 4, 16 targets, 20 000 steps."""
    return ResidualToyConfig(n_tiles=[1, 2, 3, 4], n_targets=16, steps=20000)


EXPERIMENT = Experiment(
    name="residual-toy",
    description="the error floor of (w − b)² with a 16-bit target on N 2-bit tiles against the "
                "number of tiles, set against Corollary 1's γ^(2N/3) (Li et al. 2025)",
    full=full_config,
    quick=quick_config,
    run=run,
    references=(LI_2025_REF + ".",),
)
