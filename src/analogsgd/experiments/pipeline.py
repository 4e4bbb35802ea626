"""``pipeline``: synchronous against asynchronous pipeline training across analog accelerators.

Wu, Xiao, Gokmen, Tsai, El Maghraoui, Chen (arXiv 2410.15155) split a network into stages on
separate analog accelerators, since copying weights between tiles (data parallelism) is slow and
inexact, and show that an asynchronous pipeline, whose stages update with stale weights, keeps
the iteration complexity of synchronous training (O(ε⁻²) + O(ε⁻¹)) while wasting no clock cycle.
Only the abstract is public; the schedules and the cycle accounting here are built from first
principles (:mod:`analogsgd.pipeline`, docs/pipeline.md).

The study: an L-stage tanh FCN (one analog layer per stage by default) on digits and on
Fashion-MNIST, each rule of ``rules`` (Analog SGD and Tiki-Taka by default, any registered rule)
under both schedules and several seeds, on the same weights and micro-batches per seed. It
reports, per dataset, schedule and rule, the final test accuracy, the clock cycles and samples
to reach a target accuracy, and per rule ``async_cycle_speedup``, the synchronous schedule's
cycles to the target over the asynchronous one's. The target of a dataset and rule is
``target_fraction`` of the lower of the two schedules' final accuracies (mean over seeds), so
both reach it. ``multiprocess_matches_single_process`` reruns ``check_steps`` steps of every
schedule and rule with one process per stage (torch.distributed, gloo on 127.0.0.1) and is true
only when every tile weight, hidden array and digital parameter equals the single-process run's.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import POSITIVE, POSITIVE_INT, Config, Interval, IsBool, OneOf, param, tuple_fields
from ..errors import ConfigError
from ._network_common import WIDTHS, ChoiceList
from .base import Experiment, RunContext

WU_PIPELINE = ("Z. Wu, Q. Xiao, T. Gokmen, H. Tsai, K. El Maghraoui, T. Chen. Pipeline "
               "Gradient-based Model Training on Analog In-memory Accelerators. arXiv:2410.15155, "
               "2024 (abstract only)")
DATASETS = ("digits", "fashion-mnist")


@dataclass(frozen=True)
class PipelineConfig(Config):
    """The study: datasets × rules × schedules × seeds on an L-stage analog FCN.

    Rates and devices are those of the network experiments (§5 of Wu et al., NeurIPS 2024):
    α = 0.05, β = 0.01, soft bounds ±τ with Δw_min = 1e-3, the paper's periphery, pulsed
    updates; the micro-batch of 10 is the paper's batch.
    """

    datasets: tuple = param(DATASETS, "datasets ('digits': scikit-learn's 8×8 digits; "
                            "'fashion-mnist': the Debian package's files)", ChoiceList(DATASETS))
    rules: tuple = param(("analog_sgd", "tiki_taka"), "learning rules (analog registry kinds)",
                         ChoiceList(("analog_sgd", "tiki_taka", "tiki_taka_v2",
                                     "chopped_tiki_taka", "agad", "mixed_precision")))
    schedules: tuple = param(("sync", "async"), "pipeline schedules",
                             ChoiceList(("sync", "async")))
    n_seeds: int = param(3, "independent runs (seeds) per dataset, rule and schedule",
                         POSITIVE_INT)
    n_stages: int = param(4, "L: pipeline stages (accelerators); at most the analog layers, "
                          "len(hidden) + 1", Interval(1, None, integer=True))
    hidden: tuple = param((32, 32, 32), "hidden-layer widths of the FCN", WIDTHS)
    activation: str = param("tanh", "activation of the hidden layers (a 4-layer sigmoid FCN "
                            "barely trains in this budget)", OneOf(("sigmoid", "tanh", "relu")))
    micro_batches: int = param(4, "M: micro-batches per synchronous step", POSITIVE_INT)
    micro_batch_size: int = param(10, "b: samples per micro-batch", POSITIVE_INT)
    digits_epochs: int = param(30, "digits: training epochs (1 348 images)", POSITIVE_INT)
    fmnist_epochs: int = param(10, "Fashion-MNIST: training epochs", POSITIVE_INT)
    fmnist_n_train: int = param(10000, "Fashion-MNIST: training images (a seeded subset)",
                                POSITIVE_INT)
    fmnist_n_test: int = param(2000, "Fashion-MNIST: test images (a seeded subset)",
                               POSITIVE_INT)
    tau: float = param(0.8, "τ: device bounds ±τ", POSITIVE)
    analog_lr: float = param(0.05, "α: Analog SGD's rate, Tiki-Taka's transfer rate and the "
                             "digital parameters' rate", POSITIVE)
    fast_lr: float = param(0.01, "β: the fast-tile rules' gradient-write rate", POSITIVE)
    transfer_every: int = param(1, "Tiki-Taka: updates between one-column transfers",
                                POSITIVE_INT)
    dw_min: float = param(1e-3, "Δw_min of the soft-bounds devices", POSITIVE)
    periphery: str = param("paper", "read periphery (see NetworkConfig.periphery)",
                           OneOf(("paper", "aihwkit", "aihwkit-preset", "ideal")))
    update_mode: str = param("pulsed", "tile update: 'pulsed' or 'expected'",
                             OneOf(("pulsed", "expected")))
    eval_every_steps: int = param(4, "test accuracy every this many synchronous steps' worth "
                                  "of cycles (the same cycles under both schedules)",
                                  POSITIVE_INT)
    target_fraction: float = param(0.9, "the target accuracy of a dataset and rule, as a "
                                   "fraction of the lower of the schedules' final accuracies",
                                   Interval(0.0, 1.0, low_open=True))
    check_steps: int = param(3, "steps of the multi-process check (every schedule and rule)",
                             POSITIVE_INT)
    multiprocess_check: bool = param(True, "run the multi-process check", IsBool())
    eval_batch_size: int = param(1000, "test-set batch size (no effect on the results)",
                                 POSITIVE_INT)

    def __post_init__(self) -> None:
        tuple_fields(self, ("datasets", "rules", "schedules", "hidden"))  # JSON/CLI lists and single values
        super().__post_init__()

    def check_invariants(self) -> None:
        if self.n_stages > len(self.hidden) + 1:
            raise ConfigError("PipelineConfig.n_stages", self.n_stages,
                              f"<= len(hidden) + 1 = {len(self.hidden) + 1} (one analog layer "
                              "at least per stage)", "Add hidden layers or use fewer stages.")

    def network(self, dataset: str):
        """The :class:`~._network_common.NetworkConfig` of ``dataset``'s network and devices."""
        from ._network_common import NetworkConfig

        size = {"n_train": self.fmnist_n_train, "n_test": self.fmnist_n_test,
                "epochs": self.fmnist_epochs} if dataset == "fashion-mnist" else {
                    "epochs": self.digits_epochs}
        return NetworkConfig(dataset=dataset, hidden=self.hidden, activation=self.activation,
                             batch_size=self.micro_batch_size, algorithms=self.rules,
                             taus=(self.tau,), n_seeds=self.n_seeds, digital_lr=self.analog_lr,
                             analog_lr=self.analog_lr, fast_lr=self.fast_lr, lr_step_epochs=0,
                             dw_min=self.dw_min, periphery=self.periphery,
                             update_mode=self.update_mode, transfer_every=self.transfer_every,
                             eval_batch_size=self.eval_batch_size, **size)

    def steps(self, dataset: str, n_train: int) -> int:
        """Synchronous steps of ``dataset``'s budget on ``n_train`` training images: whole steps
        of M micro-batches in its epochs."""
        epochs = self.fmnist_epochs if dataset == "fashion-mnist" else self.digits_epochs
        per_epoch = n_train // self.micro_batch_size
        return max(1, epochs * per_epoch // self.micro_batches)


def full_config() -> PipelineConfig:
    """Digits for 30 epochs (1 005 steps), Fashion-MNIST on 10 000 images for 10 epochs
    (2 500 steps), 3 seeds."""
    return PipelineConfig()


def quick_config() -> PipelineConfig:
    """Digits for 10 epochs, Fashion-MNIST on 2 000 images for 10 epochs (Tiki-Taka's fast tile
    needs about 5 of them to fill), 2 seeds."""
    return PipelineConfig(n_seeds=2, digits_epochs=10, fmnist_epochs=10, fmnist_n_train=2000,
                          fmnist_n_test=1000)


def check(cfg: PipelineConfig) -> None:
    """Before the run folder is made: every dataset loads."""
    from ._network_data import check_data

    for name in cfg.datasets:
        check_data(cfg.network(name))


def run(cfg: PipelineConfig, ctx: RunContext) -> dict:
    from ._pipeline_report import write_figures_and_report
    from ._pipeline_study import pipeline_study

    metrics, curves = pipeline_study(cfg, ctx)
    write_figures_and_report(cfg, metrics, curves, ctx.out)
    return metrics


EXPERIMENT = Experiment(
    name="pipeline",
    description="Synchronous vs asynchronous pipeline training of a 4-stage analog FCN on "
                "digits and Fashion-MNIST: accuracy against clock cycles and samples, one "
                "process or one per stage (Wu et al. 2024, arXiv 2410.15155)",
    full=full_config,
    quick=quick_config,
    run=run,
    check=check,
    references=(WU_PIPELINE + ".",),
)
