"""The registry of learning rules: each rule is a frozen, registered config.

A :class:`RuleConfig` says everything about a rule that is not a tile: its ``kind`` (registry
name, also its key in ``config.json``), its ``label`` and ``colour`` for reports, the roles of the
tiles it needs (``tile_roles``, e.g. ``("fast", "slow")``), how each role's tile config derives
from the layer's (:meth:`RuleConfig.tile_config`), its own rates and how they follow a learning-rate
schedule, and :meth:`RuleConfig.build`, which makes the rule object over given tiles.

Every list of rules, label and colour in the code comes from :data:`RULES`::

    >>> from analogsgd.optim import registry
    >>> registry.kinds()[:3]
    ('digital_sgd', 'analog_sgd', 'tiki_taka')
    >>> registry.config("tiki_taka", transfer_every=2).label
    'Tiki-Taka'

Adding a rule: one module under :mod:`analogsgd.optim` with its config (decorated with
:func:`register`) and its rule class, and one import line in ``optim/__init__.py``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ..config import Config, IsBool, param
from ..errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ..crossbar.tile import AnalogTile, TileConfig
    from .base import LearningRule

#: every registered rule config class by kind, in registration order
RULES: dict[str, type[RuleConfig]] = {}


@dataclass(frozen=True)
class RuleConfig(Config, ABC):
    """A learning rule's configuration (abstract; subclasses are registered with :func:`register`).

    Learning-rate convention (one for every rule): the rate ``lr`` given to
    :meth:`~analogsgd.optim.base.LearningRule.step` (an optimizer's lr) is the rate of the
    *gradient write*, the one that multiplies Σ_b d_bᵀ x_b (Analog SGD's α, the fast tile's β
    of the Tiki-Taka family, the digital accumulator's rate of mixed precision). A rule's other
    rates (transfers) are fields of its config, absolute unless their ``schedule_*`` flag makes
    them follow the schedule as rate·lr/lr₀.
    """

    #: display name in reports and figures
    label: ClassVar[str] = ""
    #: matplotlib colour in figures
    colour: ClassVar[str] = "0.5"
    #: the roles of the tiles the rule is built on, in build order (empty: a digital rule)
    tile_roles: ClassVar[tuple[str, ...]] = ()
    #: True when the gradient is written onto a fast tile whose content is then transferred
    #: (the gradient-write rate is β, not α)
    fast_tile: ClassVar[bool] = False

    schedule_gradient_lr: bool = param(True, "the gradient-write rate follows the optimizer's "
                                       "schedule (False: it stays at the group's initial lr, "
                                       "like aihwkit's fixed fast_lr)", IsBool())

    def gradient_rate(self, lr, initial_lr=None):
        """The gradient-write rate at optimizer rate ``lr`` (lr₀ = ``initial_lr``, None: lr)."""
        return lr if self.schedule_gradient_lr or initial_lr is None else initial_lr

    def roles(self) -> tuple[str, ...]:
        """The roles of this config's tiles, in build order (default: :attr:`tile_roles`; a rule
        whose number of tiles is a field, residual learning, derives them)."""
        return type(self).tile_roles

    def without_epochs(self) -> RuleConfig:
        """This config for a training loop that has no epochs (a least-squares run): a rule
        whose schedule follows the epoch loss (:meth:`~analogsgd.optim.base.LearningRule.end_epoch`)
        runs without that schedule; default: itself."""
        return self

    def tile_config(self, role: str, base: TileConfig) -> TileConfig:
        """The tile config of the tile in ``role``, from the layer's ``base`` (default: base)."""
        return base

    @abstractmethod
    def build(self, tiles: tuple[AnalogTile, ...], weight: torch.Tensor | None = None,
              generator: torch.Generator | None = None) -> LearningRule:
        """The rule over ``tiles`` (one per :attr:`tile_roles`, in order); a digital rule takes
        its initial ``weight`` instead; ``generator`` seeds the rule's own draws (chopper signs),
        for the rules that make any."""


def scheduled_rate(rate, lr, initial_lr=None, follow: bool = True):
    """A rule's own rate (a transfer rate) at optimizer rate ``lr``: rate·lr/lr₀ when it
    ``follow``s the schedule (lr₀ = ``initial_lr``, None: lr), else ``rate``."""
    if follow:
        return rate * lr / (lr if initial_lr is None else initial_lr)
    return rate


def register(cls: type[RuleConfig]) -> type[RuleConfig]:
    """Class decorator: add a rule config to :data:`RULES` under its ``kind``."""
    kind = cls.__dict__.get("kind")
    if not kind or kind in RULES:
        raise TypeError(f"{cls.__name__}: a rule needs a kind not yet registered (got {kind!r})")
    RULES[kind] = cls
    return cls


def kinds() -> tuple[str, ...]:
    """Every registered rule, in registration order."""
    return tuple(RULES)


def analog_kinds() -> tuple[str, ...]:
    """The rules that write onto tiles."""
    return tuple(k for k, c in RULES.items() if c.tile_roles)


def config(kind: str, **fields: Any) -> RuleConfig:
    """The rule config of ``kind`` with ``fields`` set (validated)."""
    if kind not in RULES:
        raise ConfigError("rule", kind, "one of " + ", ".join(RULES))
    return RULES[kind](**fields)


def labels() -> dict[str, str]:
    """Display name of every rule."""
    return {k: c.label for k, c in RULES.items()}


def colours() -> dict[str, str]:
    """Figure colour of every rule."""
    return {k: c.colour for k, c in RULES.items()}
