"""``fmnist-fcn``: the paper's 784-256-128-10 sigmoid FCN on Fashion-MNIST, three algorithms × τ.

Reproduces the ordering of Fig. 5 (FCN) of Wu et al. (NeurIPS 2024): Tiki-Taka within about a
point of digital SGD at every τ ∈ {0.70, 0.78, 0.80}, Analog SGD far behind at the smallest τ.
Fashion-MNIST replaces MNIST (not available offline) and the budget is far below the paper's
80 epochs on 60 000 images (see ``docs/networks.md``); compare the ordering, not the numbers.
"""

from __future__ import annotations

from ._network_common import NetworkConfig
from ._network_report import paper_table
from ._network_study import FASHION_MNIST, WU_2024, network_experiment

TITLE = "fmnist-fcn: 784-256-128-10 sigmoid FCN on Fashion-MNIST"

#: Fig. 5 (FCN, MNIST) of Wu et al. 2024: final test accuracy (%), mean ± std over 3 runs
PAPER = paper_table({
    "digital_sgd": {0.70: "98.15", 0.78: "98.15", 0.80: "98.15"},
    "analog_sgd": {0.70: "11.35", 0.78: "97.71", 0.80: "97.78"},
    "tiki_taka": {0.70: "97.64", 0.78: "97.62", 0.80: "97.50"},
})


def full_config() -> NetworkConfig:
    """10 000 training images (a seeded subset), 10 epochs = 10 000 steps of batch 10 at the
    paper's constant rates (the run ends before the paper's StepLR(35) would act), 2 000 test
    images, three seeds: 38 min measured on a loaded 2-core VM, about 20 min on an idle core."""
    return NetworkConfig(dataset="fashion-mnist", hidden=(256, 128), n_train=10000, n_test=2000,
                         epochs=10, lr_step_epochs=0, n_seeds=3, taus=(0.7, 0.78, 0.8))


def quick_config() -> NetworkConfig:
    """3 000 images, 2 epochs (600 steps), two seeds: a smoke run of a minute or two."""
    return full_config().replace(n_train=3000, n_test=1000, epochs=2, n_seeds=2)


EXPERIMENT = network_experiment(
    "fmnist-fcn",
    "Paper's 784-256-128-10 FCN on Fashion-MNIST: digital vs Analog SGD vs Tiki-Taka, τ sweep",
    full_config, quick_config, title=TITLE, paper=PAPER,
    references=(WU_2024 + " (Fig. 5).", FASHION_MNIST),
)
