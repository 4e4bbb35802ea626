"""``fmnist-cnn``: the paper's small CNN on Fashion-MNIST, three algorithms × τ ∈ {0.6, 0.7, 0.8}.

conv5(16)-tanh-pool-conv5(32)-tanh-pool-FC512→128-tanh-FC→10, batch 8 (Fig. 5, CNN, of Wu et
al., NeurIPS 2024), all four layers analog. Fashion-MNIST replaces MNIST and the budget is far
below the paper's (see ``docs/networks.md``); compare the ordering, not the numbers.
"""

from __future__ import annotations

from ._network_common import NetworkConfig
from ._network_report import paper_table
from ._network_study import FASHION_MNIST, WU_2024, network_experiment

TITLE = "fmnist-cnn: conv5(16)-conv5(32)-512-128-10 tanh CNN on Fashion-MNIST"

#: Fig. 5 (CNN, MNIST) of Wu et al. 2024: final test accuracy (%), mean over 3 runs
PAPER = paper_table({
    "digital_sgd": {0.6: "99.16", 0.7: "99.16", 0.8: "99.16"},
    "analog_sgd": {0.6: "88.99", 0.7: "92.15", 0.8: "93.45"},
    "tiki_taka": {0.6: "98.84", 0.7: "98.87", 0.8: "98.86"},
})


def full_config() -> NetworkConfig:
    """4 000 training images, 4 epochs = 2 000 steps of batch 8 at the paper's constant rates,
    1 000 test images, three seeds: 18 min measured on a loaded 2-core VM (an analog CNN step
    costs 15–75 ms there with the paper's IO)."""
    return NetworkConfig(dataset="fashion-mnist", arch="cnn", hidden=(128,), activation="tanh",
                         batch_size=8, n_train=4000, n_test=1000, epochs=4, lr_step_epochs=0,
                         n_seeds=3, taus=(0.6, 0.7, 0.8))


def quick_config() -> NetworkConfig:
    """2 400 images, 1 epoch (300 steps), two seeds: a smoke run of a few minutes, long enough
    for Analog SGD under the paper's IO to leave chance (after 100 steps it is barely above)."""
    return full_config().replace(n_train=2400, n_test=500, epochs=1, n_seeds=2)


EXPERIMENT = network_experiment(
    "fmnist-cnn",
    "Paper's small CNN on Fashion-MNIST: digital vs Analog SGD vs Tiki-Taka, τ sweep",
    full_config, quick_config, title=TITLE, paper=PAPER,
    references=(WU_2024 + " (Fig. 5).", FASHION_MNIST),
)
