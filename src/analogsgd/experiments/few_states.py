"""``few-states``: every registered learning rule on devices with few conductance states.

Li et al. (2025) train on soft-bounds devices with bounds τ = ±1 whose number of states is
n_states = (τ_max − τ_min)/Δw_min, down to 4 (their Table 1: at 4 states Tiki-Taka v1 falls to
chance while TT-v2 and mixed precision keep learning). This study runs every rule of
:mod:`analogsgd.optim.registry` (``rules``; by default every registered kind, so rules added
later are picked up here without an edit) on ``SoftBounds(τ_min=−1, τ_max=1, Δw_min=2/n)``
for n in ``n_states`` and several seeds, on

(a) the least-squares problem of Wu et al. (2024) (:mod:`._few_states_ls`): the final loss
    f(W) − f* of each rule divided by digital SGD's at the same α and seed,
    ``ls_error_over_digital[rule][n]``;
(b) a network (:mod:`._few_states_net`), by default the digits FCN 64-32-10 of ``digits-fcn``
    (``network='fmnist-cnn'``: the Fashion-MNIST CNN of ``fmnist-cnn``), with exact reads
    (``periphery='ideal'``, as Li et al.'s LeNet runs): the final test accuracy
    ``accuracy_pct[rule][n]``.

Both are mean, sample std and per-seed values over ``n_seeds`` seeds. Digital SGD does not see
the devices; its numbers repeat under every n. The full run does not include the Fashion-MNIST
CNN: measured here, an analog CNN step costs 15–35 ms against 3–6 ms for the FCN, and the
rules × n_states × seeds grid of the FCN already fills the hour once the seven rules are
registered; ``--set network=fmnist-cnn`` (with a smaller ``net_epochs`` and ``net_n_train``)
runs the CNN instead of the FCN.

Rates: α is the gradient-write rate of Digital and Analog SGD and the transfer rate of the
fast-tile rules, whose gradient write runs at β (``fast_lr``); every other field of a rule is
its registered default (:func:`._network_analog.rule_config`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import (
    POSITIVE,
    POSITIVE_INT,
    Config,
    Constraint,
    Interval,
    NumberList,
    OneOf,
    Text,
    param,
    tuple_fields,
)
from ..devices.linear_step import SoftBounds
from ..errors import ConfigError
from ..optim import registry
from .base import Experiment, RunContext

#: the device bounds τ_min = −TAU, τ_max = TAU of the study (Li et al. 2025)
TAU = 1.0
#: Li et al. 2025, Table 1 (LeNet-5, exact reads): test accuracy (%) by (dataset, n_states)
LI_2025 = {("F-MNIST", 4): {"tiki_taka": 10.01, "tiki_taka_v2": 47.51, "mixed_precision": 75.61},
           ("MNIST", 10): {"tiki_taka": 78.65, "tiki_taka_v2": 95.43, "mixed_precision": 99.13}}
LI_2025_REF = ("Li, Wu, Liu, Gokmen, Chen. In-memory Training on Analog Devices "
               "with Limited Conductance States via Multi-tile Residual Learning. "
               "arXiv:2510.02516, 2025 (Table 1)")
STATE_COUNTS = NumberList(Interval(2, None, integer=True), distinct=True)


def few_state_device(n_states: int) -> SoftBounds:
    """Soft bounds on ±τ (τ = 1) with n_states = (τ_max − τ_min)/Δw_min, i.e. Δw_min = 2/n
    (Li et al. 2025; the device field ``n_states`` sets Δw_min, as
    :func:`~analogsgd.devices.presets.li2025_device` does for Table 3's devices)."""
    return SoftBounds(n_states=n_states, tau_min=-TAU, tau_max=TAU, w_sym=0.0)


@dataclass(frozen=True)
class RuleKinds(Constraint):
    """Distinct registered rule kinds, read from the registry when checked (so a rule
    registered after import counts); empty means every registered kind."""

    def ok(self, value: Any) -> bool:
        return (isinstance(value, (list, tuple)) and len(set(value)) == len(value)
                and all(isinstance(v, str) and v in registry.RULES for v in value))

    def describe(self) -> str:
        return ("a list of distinct registered rules (" + ", ".join(registry.kinds())
                + "), or empty for all of them")

    def invalid_example(self) -> Any:
        return ("__no_such_rule__",)


@dataclass(frozen=True)
class FewStatesConfig(Config):
    """The study: rules × n_states × seeds on (a) least squares and (b) a network.

    Defaults are the full run. Its cost grows with the analog rules: each takes 15 network
    runs of 4 050 steps (3–6 ms a step measured) and 15 least-squares runs of 3 000 steps
    (1–6 ms), about 6–10 minutes on 2 cores; with six analog rules about an hour.
    """

    rules: tuple = param((), "learning rules (registry kinds) to run; () = every registered "
                         "rule; digital_sgd, the reference, is always run", RuleKinds())
    n_states: tuple = param((4, 10, 20, 100, 1000), "n_states = (τ_max − τ_min)/Δw_min of the "
                            "devices (τ = ±1, so Δw_min = 2/n)", STATE_COUNTS)
    n_seeds: int = param(3, "independent seeds per rule and n_states", POSITIVE_INT)
    # (a) least squares, Wu et al. 2024 §5
    ls_d_in: int = param(20, "least squares: D inputs (columns of W)", POSITIVE_INT)
    ls_d_out: int = param(50, "least squares: D_out outputs (rows of W)", POSITIVE_INT)
    ls_n_samples: int = param(200, "least squares: N samples behind H = XᵀX/N", POSITIVE_INT)
    ls_w_star_max: float = param(0.4, "least squares: W* uniform in ±w_star_max (inside ±τ)",
                                 Interval(0.0, TAU, low_open=True, high_open=True))
    ls_steps: int = param(3000, "least squares: K iterations per run", POSITIVE_INT)
    ls_record_every: int = param(10, "least squares: record f(W_k) − f* every this many steps",
                                 POSITIVE_INT)
    ls_tail_fraction: float = param(0.1, "least squares: fraction of the recorded curve averaged "
                                    "as the final loss", Interval(0.0, 1.0, low_open=True))
    ls_sigma_sq: float = param(0.01, "least squares: σ², per-entry gradient-noise variance",
                               POSITIVE)
    ls_alpha: float = param(0.05, "least squares: α (gradient rate; transfer rate of the "
                            "fast-tile rules)", POSITIVE)
    ls_fast_lr: float = param(0.1, "least squares: β, gradient rate of the fast-tile rules",
                              POSITIVE)
    ls_max_pulses: int = param(800, "least squares: max pulses per element and update",
                               POSITIVE_INT)
    # (b) the network
    network: str = param("digits-fcn", "network and data: 'digits-fcn' (64-32-10 sigmoid FCN, "
                         "built-in digits) or 'fmnist-cnn' (the paper's CNN on Fashion-MNIST), "
                         "at that experiment's rates", OneOf(("digits-fcn", "fmnist-cnn")))
    net_epochs: int = param(30, "network: training epochs", POSITIVE_INT)
    net_n_train: int = param(0, "network: training images (0 = the base experiment's full "
                             "config's)", Interval(0, None, integer=True))
    net_n_test: int = param(0, "network: test images (0 = the base experiment's full config's)",
                            Interval(0, None, integer=True))
    net_periphery: str = param("ideal", "network: read periphery ('ideal' = exact reads, as Li "
                               "et al.'s LeNet runs; see NetworkConfig.periphery)",
                               OneOf(("paper", "aihwkit", "aihwkit-preset", "ideal")))
    net_weight_scaling_omega: float = param(0.0, "network: ω > 0 programs each analog layer's "
                                            "initial weights scaled to max|W| = ω (aihwkit's "
                                            "weight scaling, with a learnable output scale); "
                                            "0: as initialised. Measured on the quick budget, "
                                            "ω = 0.5 lowered the accuracy of the four rules tried (one seed, 4 and 1000 states)",
                                            Interval(0.0, TAU))
    net_update_mode: str = param("pulsed", "network: tile update, 'pulsed' or 'expected'",
                                 OneOf(("pulsed", "expected")))
    data_path: str = param("", "network: dataset folder ('' = the default)", Text())
    # (c) the Fashion-MNIST CNN of fmnist-cnn, the full run's second network
    cnn_epochs: int = param(0, "CNN part: epochs of fmnist-cnn's network on a Fashion-MNIST "
                            "subset with the network part's periphery and update (0: no CNN "
                            "part); metric accuracy_pct_cnn", Interval(0, None, integer=True))
    cnn_n_train: int = param(1000, "CNN part: training images (a seeded subset; c-TTv2 and "
                             "AGAD transfer once per mat-vec, i.e. per image patch of a "
                             "convolution: about 1 s per CNN step on 2 cores)", POSITIVE_INT)
    cnn_n_test: int = param(1000, "CNN part: test images (a seeded subset)", POSITIVE_INT)
    cnn_data_path: str = param("", "CNN part: Fashion-MNIST folder ('' = the Debian package)",
                               Text())

    def __post_init__(self) -> None:
        tuple_fields(self, ("rules", "n_states"))  # JSON/CLI lists and single values
        super().__post_init__()

    def check_invariants(self) -> None:
        if self.ls_n_samples < self.ls_d_in:
            raise ConfigError("FewStatesConfig.ls_n_samples", self.ls_n_samples,
                              f">= ls_d_in = {self.ls_d_in}",
                              "With fewer samples than inputs H = XᵀX/N is singular.")
        if self.ls_record_every > self.ls_steps:
            raise ConfigError("FewStatesConfig.ls_record_every", self.ls_record_every,
                              f"<= ls_steps = {self.ls_steps}")

    @property
    def cnn(self) -> FewStatesConfig | None:
        """The study of the CNN part as a network study of ``fmnist-cnn`` (None: no CNN part)."""
        if not self.cnn_epochs:
            return None
        return self.replace(network="fmnist-cnn", net_epochs=self.cnn_epochs,
                            net_n_train=self.cnn_n_train, net_n_test=self.cnn_n_test,
                            data_path=self.cnn_data_path)

    @property
    def kinds(self) -> tuple[str, ...]:
        """The rules run: digital SGD first, then the chosen (or every registered) rule."""
        chosen = self.rules or registry.kinds()
        return ("digital_sgd",) + tuple(k for k in chosen if k != "digital_sgd")


def full_config() -> FewStatesConfig:
    """5 n_states × 3 seeds: least squares 50 × 20 for 3 000 steps, the digits FCN for 30
    epochs (4 050 steps: ``digits-fcn --quick``'s budget, after which Tiki-Taka has caught up
    with digital SGD there, at τ = 0.7–0.8 and Δw_min = 1e-3) at constant rates, and the
    Fashion-MNIST CNN for one epoch of 1 000 images (125 steps of batch 8: c-TTv2 and AGAD
    transfer once per mat-vec as aihwkit does, 4 608 per step in the first convolution, which
    makes their CNN step about 1 s here)."""
    return FewStatesConfig(cnn_epochs=1)


def quick_config() -> FewStatesConfig:
    """n_states 4, 20, 1000 and 2 seeds: least squares 10 × 20 for 2 000 steps, the digits FCN
    on 1 000 images for 10 epochs (1 000 steps; at 300 steps digital SGD is at 59 % and every
    rule but the single-tile ones near chance)."""
    return FewStatesConfig(n_states=(4, 20, 1000), n_seeds=2, ls_d_in=10, ls_d_out=20,
                           ls_n_samples=100, ls_steps=2000, net_epochs=10, net_n_train=1000)


def check(cfg: FewStatesConfig) -> None:
    """Before the run folder is made: the network's data load."""
    from ._few_states_net import network_config
    from ._network_data import check_data

    for study in (cfg, cfg.cnn):
        if study is not None:
            check_data(network_config(study, study.n_states[0]))


def run(cfg: FewStatesConfig, ctx: RunContext) -> dict:
    from ..rng import child_seeds
    from ._few_states_ls import ls_study
    from ._few_states_net import network_study
    from ._few_states_report import write_figures_and_report

    ls_seed, net_seed, cnn_seed = child_seeds(ctx.seed, 3)
    ls = ls_study(cfg, ctx, ls_seed)
    net = network_study(cfg, ctx, net_seed)
    cnn = network_study(cfg.cnn, ctx, cnn_seed, part="cnn") if cfg.cnn else None
    metrics = {"ls_error_over_digital": ls["ratio"], "accuracy_pct": net["accuracy"],
               **({"accuracy_pct_cnn": cnn["accuracy"]} if cnn else {}),
               "summary": {"rules": list(cfg.kinds), "n_states": list(cfg.n_states),
                           "dw_min": {f"{n}": 2 * TAU / n for n in cfg.n_states},
                           "n_seeds": cfg.n_seeds, "network": cfg.network,
                           "network_data": net["data"],
                           **({"cnn_data": cnn["data"]} if cnn else {}),
                           "ls_digital_final_loss": ls["digital_loss"]}}
    write_figures_and_report(cfg, metrics, ctx.out)
    return metrics


EXPERIMENT = Experiment(
    name="few-states",
    description="Every learning rule on soft-bounds devices with 4 to 1000 states: least squares "
                "and the digits FCN (Li et al. 2025, Table 1)",
    full=full_config,
    quick=quick_config,
    run=run,
    check=check,
    checkpoints=True,
    references=(LI_2025_REF + ".",
                ("Z. Wu, T. Gokmen, M. J. Rasch, T. Chen. Towards Exact Gradient-based Training on "
                 "Analog In-memory Computing. NeurIPS 2024, arXiv:2406.12774.")),
)
