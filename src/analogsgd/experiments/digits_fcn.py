"""``digits-fcn``: digital SGD, Analog SGD and Tiki-Taka on scikit-learn's 8×8 digits.

The small sibling of ``fmnist-fcn``: a 64-32-10 sigmoid network trained with the settings of §5
of Wu et al. (NeurIPS 2024) (batch 10, digital lr 0.1, α = 0.05, β = 0.01, soft bounds ±τ with
Δw_min = 1e-3, the paper's IO) on data that ship with scikit-learn, so it runs anywhere.
"""

from __future__ import annotations

from ._network_common import NetworkConfig
from ._network_study import WU_2024, network_experiment

TITLE = "digits-fcn: 64-32-10 sigmoid FCN on scikit-learn digits"


def full_config() -> NetworkConfig:
    """100 epochs of the 1348 training digits (13 500 steps), StepLR at 35/80 of the run as in
    the paper (epoch 44), three seeds."""
    return NetworkConfig(dataset="digits", hidden=(32,), epochs=100, lr_step_epochs=44, n_seeds=3)


def quick_config() -> NetworkConfig:
    """30 epochs (4 050 steps) at constant rates, two seeds: Tiki-Taka, whose fast array first
    has to fill, catches up with digital SGD after about 25 epochs."""
    return full_config().replace(epochs=30, lr_step_epochs=0, n_seeds=2)


EXPERIMENT = network_experiment(
    "digits-fcn",
    "Digital SGD vs Analog SGD vs Tiki-Taka, 64-32-10 FCN on sklearn digits, τ sweep",
    full_config, quick_config, title=TITLE,
    references=(WU_2024 + ".",),
)
