"""The configuration of one analog layer: learning rule, tile, output scale and bias.

Learning-rate convention (one for every rule, :class:`~analogsgd.optim.registry.RuleConfig`): the
optimizer's ``lr`` (and so its schedule) is the learning rate of the *gradient write*, the one
that multiplies Σ_b d_bᵀ x_b:

* Analog SGD: α of Eq. (3) of Wu et al. (NeurIPS 2024), W ← W − α∇f through the device response;
* Tiki-Taka and its family: β of (TT-P), A ← A − β∇f, the fast array's rate (aihwkit's ``fast_lr``).

A compound rule's transfer rate α of (TT-W), C ← C + α A[:, j] e_jᵀ, is its config's
``transfer_lr``. By default a learning-rate scheduler scales the gradient write and not the
transfer. aihwkit does the opposite (fixed ``fast_lr``, transfer rate scaled with the optimizer's
lr); set the rule's ``schedule_gradient_lr=False, schedule_transfer_lr=True`` for that. The
paper's MNIST values β = 0.01, α = 0.05 map to ``lr=0.01`` and ``TikiTakaConfig(transfer_lr=0.05)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import NON_NEGATIVE, Config, InstanceOf, IsBool, param
from ..crossbar.tile import TileConfig
from ..errors import ConfigError
from ..optim.registry import RuleConfig
from ..optim.sgd import AnalogSGDConfig


@dataclass(frozen=True)
class AnalogLayerConfig(Config):
    """One analog layer (a :class:`~analogsgd.nn.AnalogLinear` or :class:`~analogsgd.nn.AnalogConv2d`)."""

    rule: RuleConfig = param(AnalogSGDConfig(), "learning rule (a registered rule config, see "
                             "analogsgd.optim.registry; default Analog SGD on one tile)",
                             InstanceOf(RuleConfig))
    tile: TileConfig = param(TileConfig(), "device, variation, update and periphery of every tile "
                             "of the layer (the rule may derive a role's tile from it, e.g. a "
                             "transfer's update settings)", InstanceOf(TileConfig))
    out_scaling: bool = param(False, "learnable digital output scale s: y = s · (x W̄ᵀ) (aihwkit "
                              "learn_out_scaling; the paper's MNIST setting)", IsBool())
    out_scaling_columnwise: bool = param(False, "one output scale per output (column) instead of "
                                         "one per layer", IsBool())
    weight_scaling_omega: float = param(0.0, "ω: when > 0, a weight W is programmed as W/s with "
                                        "s = max|W|/ω (per column if columnwise) and the output "
                                        "scale starts at s; 0: programmed as is", NON_NEGATIVE)
    analog_bias: bool = param(False, "bias on the tile (an extra input of constant 1, updated "
                              "like the weights); False: a digital parameter trained by SGD",
                              IsBool())

    def check_invariants(self) -> None:
        if self.out_scaling_columnwise and not self.out_scaling:
            raise ConfigError("AnalogLayerConfig.out_scaling_columnwise", True,
                              "False when out_scaling is False", "Set out_scaling=True as well.")
        if self.weight_scaling_omega > 0 and not self.out_scaling:
            raise ConfigError("AnalogLayerConfig.weight_scaling_omega", self.weight_scaling_omega,
                              "0 when out_scaling is False",
                              "Set out_scaling=True: the output scale carries the factor s.")


#: the default layer config (frozen, so one shared instance serves every default argument)
DEFAULT_CONFIG = AnalogLayerConfig()
