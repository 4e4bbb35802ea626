"""Part (a) of ``few-states``: every rule on least squares with few-state devices.

The problem is that of Wu et al. (NeurIPS 2024), §5: f(W) = ½ tr((W − W*) H (W − W*)ᵀ) with
noisy gradients ∇f(W) + ε, ε ~ N(0, σ²) per entry (:func:`~analogsgd.problems.run_least_squares`).
Each seed draws its own problem and runs digital SGD once and every analog rule at every
n_states; a rule's number is its final loss (the mean of f(W_k) − f* over the last
``ls_tail_fraction`` of the recorded curve) divided by digital SGD's of the same seed, so
digital SGD's ratio is 1 by construction.
"""

from __future__ import annotations

import torch

from ..crossbar.tile import AnalogTile, TileConfig, UpdateConfig
from ..optim import LearningRule, registry
from ..problems import LeastSquares, run_least_squares
from ..rng import child_seeds, torch_generator
from ._network_analog import rule_config
from ._network_summary import _stats
from .base import RunContext
from .few_states import FewStatesConfig, few_state_device


def ls_rule(kind: str, cfg: FewStatesConfig, n_states: int,
            generator: torch.Generator) -> tuple[LearningRule, float]:
    """(the rule ``kind`` on D_out × D few-state tiles, its gradient-write rate).

    The rule config is the registered one with the study's rates (:func:`rule_config`: a
    fast-tile rule transfers at α every step, where it has ``transfer_every``); its gradient is
    written at β = ``ls_fast_lr`` if it has a fast tile, else at α. Each tile role gets the
    config :meth:`~analogsgd.optim.registry.RuleConfig.tile_config` derives from the base one.
    """
    rule_cfg = rule_config(kind, cfg.ls_alpha, transfer_every=1).without_epochs()
    cls = type(rule_cfg)
    shape = (cfg.ls_d_out, cfg.ls_d_in)
    if not rule_cfg.roles():
        return rule_cfg.build((), weight=torch.zeros(shape, dtype=torch.float64)), cfg.ls_alpha
    base = TileConfig(device=few_state_device(n_states),
                      update=UpdateConfig(mode="pulsed", max_pulses=cfg.ls_max_pulses,
                                          desired_bl=cfg.ls_max_pulses))
    tiles = tuple(AnalogTile(shape, rule_cfg.tile_config(role, base), generator,
                             dtype=torch.float64) for role in rule_cfg.roles())
    rule = rule_cfg.build(tiles, generator=generator)
    return rule, (cfg.ls_fast_lr if cls.fast_tile else cfg.ls_alpha)


def final_loss(kind: str, cfg: FewStatesConfig, problem: LeastSquares, n_states: int, seed: int,
               ctx: RunContext) -> tuple[float, list[int], list[float]]:
    """(final loss, recorded steps, loss curve) of one run."""
    gen = torch_generator(seed)
    rule, lr = ls_rule(kind, cfg, n_states, gen)
    label = registry.labels()[kind] + ("" if kind == "digital_sgd" else f", {n_states} states")
    traj = run_least_squares(rule, problem, cfg.ls_steps, cfg.ls_sigma_sq ** 0.5, gen,
                             cfg.ls_record_every, progress=ctx.progress,
                             description=f"least squares: {label}", lr=lr)
    return (float(traj.tail_mean(traj.loss, cfg.ls_tail_fraction)), traj.steps,
            [float(v) for v in traj.loss])


def ls_study(cfg: FewStatesConfig, ctx: RunContext, seed: int) -> dict:
    """``{"ratio": {rule: {n: stats}}, "digital_loss": stats}``; writes ``curves/ls_loss.csv``
    (one column ``<rule>_n<n>_seed<i>`` per run, digital's ``digital_sgd_seed<i>``)."""
    kinds = cfg.kinds
    ratios: dict[str, dict[str, list[float]]] = {k: {f"{n}": [] for n in cfg.n_states} for k in kinds}
    digital: list[float] = []
    curves: dict[str, list] = {}
    for i, s in enumerate(child_seeds(seed, cfg.n_seeds)):
        problem_seed, *run_seeds = child_seeds(s, 1 + len(kinds) * len(cfg.n_states))
        problem = LeastSquares.random(cfg.ls_d_in, cfg.ls_d_out, cfg.ls_n_samples,
                                      cfg.ls_w_star_max, torch_generator(problem_seed))
        ref, curves["step"], curves[f"digital_sgd_seed{i}"] = final_loss(
            "digital_sgd", cfg, problem, cfg.n_states[0], run_seeds[0], ctx)
        digital.append(ref)
        for j, kind in enumerate(kinds):
            for m, n in enumerate(cfg.n_states):
                if kind == "digital_sgd":  # does not see the devices: 1 by construction
                    ratios[kind][f"{n}"].append(1.0)
                    continue
                loss, _, curve = final_loss(kind, cfg, problem, n,
                                            run_seeds[j * len(cfg.n_states) + m], ctx)
                curves[f"{kind}_n{n}_seed{i}"] = curve
                ratios[kind][f"{n}"].append(loss / ref)
    ctx.out.write_curves("ls_loss", curves)
    return {"ratio": {k: {n: _stats(v) for n, v in by_n.items()} for k, by_n in ratios.items()},
            "digital_loss": _stats(digital)}
