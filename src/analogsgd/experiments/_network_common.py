"""The config of the network experiments (``digits-fcn``, ``fmnist-fcn``, ``fmnist-cnn``).

:class:`NetworkConfig` holds the study (data, network, algorithms × τ × seeds, rates, device
and periphery) and checks it before any work starts. Its ``preset`` names where the analog
settings come from: ``'paper'``, the prose of §5 of Wu et al. (NeurIPS 2024), or ``'authors'``,
the code that produced the paper's Fig. 5 (see :data:`AUTHORS`). The rest of the trainer:
:mod:`._network_data` (loading), :mod:`._network_model` (the digital network),
:mod:`._network_analog` (its analog twin), :mod:`._network_units` (the runs of a study),
:mod:`._network_train` (training and checkpoints), :mod:`._network_summary` (the numbers),
:mod:`._network_study` (the experiment) and :mod:`._network_report` (figures, report).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import (
    NON_NEGATIVE,
    NON_NEGATIVE_INT,
    POSITIVE,
    POSITIVE_INT,
    Config,
    Constraint,
    Interval,
    IsBool,
    NumberList,
    OneOf,
    Text,
    param,
    tuple_fields,
)
from ..datasets import DATASETS, IMAGE_SHAPES
from ..errors import ConfigError
from ..optim import registry
from ._network_model import cnn_feature_map

#: the rules of the paper's networks (any registered rule can be chosen)
ALGORITHMS = ("digital_sgd", "analog_sgd", "tiki_taka")
LABELS = registry.labels()
POS_LIST = NumberList(Interval(0.0, None, low_open=True), distinct=True)
WIDTHS = NumberList(Interval(1, None, integer=True))


@dataclass(frozen=True)
class ChoiceList(Constraint):
    """A non-empty list of distinct items, each one of ``choices``."""

    choices: tuple

    def ok(self, value: Any) -> bool:
        return (isinstance(value, (list, tuple)) and len(value) >= 1
                and all(v in self.choices for v in value) and len(set(value)) == len(value))

    def describe(self) -> str:
        return "a non-empty list of distinct items from " + ", ".join(repr(c) for c in self.choices)

    def invalid_example(self) -> Any:
        return ()


@dataclass(frozen=True)
class NetworkConfig(Config):
    """A network-training study: data, network, algorithms × τ × seeds, and the paper's rates.

    Defaults are the FCN of §5 of Wu et al. (NeurIPS 2024) (784-256-128-10, sigmoid, batch 10,
    digital lr 0.1, analog α = 0.05, β = 0.01, StepLR(35, 0.1), soft bounds ±τ with
    Δw_min = 1e-3, the paper's IO) on Fashion-MNIST; each experiment shortens the budget.
    ``preset='authors'`` replaces the fields of :data:`AUTHORS` that still hold their
    :data:`PAPER` value by the authors' code's; a field set to a third value is refused.
    """

    dataset: str = param("fashion-mnist", "dataset name", OneOf(DATASETS))
    data_path: str = param("", "folder (or archive) of the dataset's files; '' = the default "
                           "(built in for digits, the Debian package for fashion-mnist)", Text())
    arch: str = param("fcn", "'fcn' (fully connected) or 'cnn' (conv5(16)-pool-conv5(32)-pool-FC)",
                      OneOf(("fcn", "cnn")))
    hidden: tuple = param((256, 128), "hidden-layer widths (FCN; the CNN's FC layer after the "
                          "convolutions is the first entry)", WIDTHS)
    activation: str = param("sigmoid", "activation of the hidden layers",
                            OneOf(("sigmoid", "tanh", "relu")))
    n_train: int = param(0, "training images used (a seeded subset; 0 = all)", NON_NEGATIVE_INT)
    n_test: int = param(0, "test images used (a seeded subset; 0 = all)", NON_NEGATIVE_INT)
    subset_seed: int = param(0, "seed of the train/test subsets (the same for every run seed)",
                             NON_NEGATIVE_INT)
    epochs: int = param(80, "training epochs per run", POSITIVE_INT)
    batch_size: int = param(10, "mini-batch size B", POSITIVE_INT)
    algorithms: tuple = param(ALGORITHMS, "learning rules to run (registry kinds)",
                              ChoiceList(registry.kinds()))
    taus: tuple = param((0.7, 0.78, 0.8), "τ: device bounds ±τ of the analog runs", POS_LIST)
    n_seeds: int = param(3, "independent runs (seeds) per algorithm and τ", POSITIVE_INT)
    digital_lr: float = param(0.1, "learning rate of digital SGD", POSITIVE)
    analog_lr: float = param(0.05, "α: Analog SGD learning rate and Tiki-Taka transfer lr", POSITIVE)
    fast_lr: float = param(0.01, "β: Tiki-Taka fast-array learning rate", POSITIVE)
    lr_step_epochs: int = param(35, "StepLR step (epochs) of the learning rates; 0 = constant",
                                NON_NEGATIVE_INT)
    lr_gamma: float = param(0.1, "StepLR factor", Interval(0.0, 1.0, low_open=True))
    preset: str = param("paper", "where the analog settings come from: 'paper' (the prose of "
                        "§5) or 'authors' (the authors' aihwkit script: device='authors', "
                        "periphery='aihwkit', digital_lr=0.05; each of these still at its paper "
                        "value, an explicit one included, takes the authors' value, and a third "
                        "value is refused)", OneOf(("paper", "authors")))
    device: str = param("paper", "'paper': soft bounds ±τ without spread (the ALD); 'authors': "
                        "aihwkit's SoftBoundsReferenceDevice(w_max=τ, w_min=−τ) with its default "
                        "device-to-device and cycle-to-cycle spread", OneOf(("paper", "authors")))
    dw_min: float = param(1e-3, "Δw_min of the soft-bounds devices", POSITIVE)
    update_mode: str = param("pulsed", "tile update: 'pulsed' or 'expected'",
                             OneOf(("pulsed", "expected")))
    periphery: str = param("paper", "'paper' IO (output noise 0.1, bound 20, 8 bit, noise and "
                           "bound management), 'aihwkit' (aihwkit's default IOParameters: 7-bit "
                           "DAC, 9-bit ADC, output noise 0.06, bound 12), 'aihwkit-preset' (7-bit "
                           "DAC, 9-bit ADC, noise 0.1, bound 20) or 'ideal' (exact reads)",
                           OneOf(("paper", "aihwkit", "aihwkit-preset", "ideal")))
    learn_out_scale: bool = param(True, "learnable digital output scale per analog layer", IsBool())
    weight_scaling_omega: float = param(0.0, "ω > 0: program each analog layer's weights scaled to "
                                        "max |W| = ω, the output scale undoing it (aihwkit's weight "
                                        "scaling; needs learn_out_scale); 0: as initialised",
                                        NON_NEGATIVE)
    transfer_every: int = param(1, "Tiki-Taka: mini-batches between one-column transfers",
                                POSITIVE_INT)
    eval_batch_size: int = param(1000, "test-set batch size (no effect on the results' meaning)",
                                 POSITIVE_INT)

    def __post_init__(self) -> None:
        tuple_fields(self, ("hidden", "taus", "algorithms"))  # JSON/CLI lists and single values
        if self.preset == "authors":
            self._apply_authors_preset()
        super().__post_init__()

    def _apply_authors_preset(self) -> None:
        for name, theirs in AUTHORS.items():
            value = getattr(self, name)
            if value == PAPER[name]:
                object.__setattr__(self, name, theirs)
            elif value != theirs:
                raise ConfigError(f"NetworkConfig.{name}", value,
                                  f"{theirs!r} with preset='authors' (or the paper's {PAPER[name]!r})",
                                  f"preset='authors' sets {name}; use preset='paper' to choose it.")

    def check_invariants(self) -> None:
        if self.dataset in ("mnist", "cifar10") and not self.data_path:
            raise ConfigError("NetworkConfig.data_path", self.data_path,
                              f"the folder of the {self.dataset} files",
                              f"{self.dataset} is not shipped; e.g. --set data_path=/data/{self.dataset}")
        if self.weight_scaling_omega > 0 and not self.learn_out_scale:
            raise ConfigError("NetworkConfig.weight_scaling_omega", self.weight_scaling_omega,
                              "0 when learn_out_scale is False",
                              "The output scale carries the factor; set learn_out_scale=True.")
        if self.arch == "cnn" and cnn_feature_map(IMAGE_SHAPES[self.dataset]) is None:
            _, h, w = IMAGE_SHAPES[self.dataset]
            raise ConfigError("NetworkConfig.arch", self.arch,
                              f"'fcn' for {self.dataset}'s {h}×{w} images",
                              "The CNN's two conv5-pool2 stages need images of at least 16×16.")


#: the fields ``preset='paper'`` leaves at these values (the defaults) ...
PAPER = {"device": "paper", "periphery": "paper", "digital_lr": 0.1}
#: ... and ``preset='authors'`` sets, after the authors' code (Zhaoxian-Wu/analog-training,
#: NeurIPS-2024/S4.1-mnist-FCN.py and S4.2-mnist-CNN.py, aihwkit 0.9.0): the device
#: SoftBoundsReferenceDevice(w_max=τ, w_min=−τ) with aihwkit's default spread, aihwkit's default
#: IOParameters forward and backward, and lr 0.05 for the "FP SGD" baseline too (the script's
#: lr is 0.1 only for a setting whose name contains "digital"). learn_out_scaling=True is the
#: paper's setting already; weight_scaling_columnwise=True has no effect there, since
#: weight_scaling_omega stays at aihwkit's default 0 (no remapping).
AUTHORS = {"device": "authors", "periphery": "aihwkit", "digital_lr": 0.05}


