"""A network study run end to end, and the factory of the network experiments.

Settings follow §5 of Wu et al. (NeurIPS 2024), see :class:`~._network_common.NetworkConfig`;
the analog layers, tiles and optimizer come from :mod:`analogsgd.nn`.
"""

from __future__ import annotations

import math

from ..checkpoint import check_checkpoint_path
from ._network_common import NetworkConfig
from ._network_data import check_data, load_data
from ._network_summary import summarise
from ._network_train import checkpoint_path, train_unit
from ._network_units import Unit, long_curves, plan_units, unit_timings
from .base import Experiment, RunContext

#: the paper whose network results (Fig. 5) the network experiments reproduce
WU_2024 = ("Z. Wu, T. Gokmen, M. J. Rasch, T. Chen. Towards Exact Gradient-based Training on "
           "Analog In-memory Computing. NeurIPS 2024, arXiv:2406.12774")
FASHION_MNIST = "H. Xiao, K. Rasul, R. Vollgraf. Fashion-MNIST. arXiv:1708.07747, 2017."


def _curves(units: list[Unit], histories: dict[str, dict]) -> dict[str, list]:
    return long_curves(units, lambda u: histories[u.key],
                       {"algorithm": lambda u: u.algorithm,
                        "tau": lambda u: "" if u.tau is None else u.tau,
                        "seed": lambda u: u.seed_index},
                       ("epoch", "train_loss", "test_loss", "test_acc"))


def run_study(cfg: NetworkConfig, ctx: RunContext, paper: dict | None = None,
              title: str = "") -> dict:
    """Run every unit (or read it back when resuming), write curves, figures and the report."""
    data = load_data(cfg)  # a missing dataset stops here, before any training
    units = plan_units(cfg, ctx.seed)
    batches = math.ceil(data.train_x.shape[0] / cfg.batch_size)
    histories: dict[str, dict] = {}
    for unit in units:  # before any training: a checkpoint path that cannot be written
        check_checkpoint_path(checkpoint_path(ctx, unit))
    for unit in units:  # one progress task per unit: each algorithm has its own rate
        with ctx.progress.task(cfg.epochs * batches, f"{title or 'training'}: {unit.label}") as task:
            histories[unit.key] = train_unit(cfg, unit, data, ctx, task)
    ctx.out.write_curves("learning_curves", _curves(units, histories))
    ctx.out.write_json("timings.json", {"units": unit_timings(units, histories),
                                        "note": "wall-clock seconds per epoch (training and test "
                                                "evaluation); not part of metrics"})
    summary = summarise(cfg, units, histories)
    metrics = {"summary": summary, "dataset": {"name": data.name, "n_train": data.train_x.shape[0],
                                               "n_test": data.test_x.shape[0]},
               "final_test_accuracy_pct": {u.key: histories[u.key]["test_acc"][-1] for u in units}}
    from ._network_report import write_figures_and_report

    write_figures_and_report(cfg, units, histories, metrics, ctx.out, paper or {}, title)
    return metrics


def network_experiment(name: str, description: str, full, quick, *, title: str,
                       references: tuple[str, ...], paper: dict | None = None) -> Experiment:
    """A network experiment: :func:`run_study` on the ``full()`` or ``quick()`` config, with
    :func:`~._network_data.check_data` run before the run folder is made; ``paper`` is the table
    the report compares with."""
    def run(cfg: NetworkConfig, ctx: RunContext) -> dict:
        return run_study(cfg, ctx, paper=paper, title=title)

    return Experiment(name=name, description=description, full=full, quick=quick, run=run,
                      check=check_data, references=references, checkpoints=True)
