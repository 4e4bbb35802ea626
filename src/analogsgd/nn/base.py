"""What every analog layer shares: its learning rule on tiles, the recorded (x, d) rows, the
digital bias and output scale, device moves, and its checkpoint state.

A layer computes y = s · (x W̄ᵀ) + b over rows x of length ``in_size`` (a linear layer's inputs,
a convolution's patches), with W̄ the rule's weight (out_size × in_size) read through the tiles'
periphery, s the optional learnable output scale and b the digital bias. With ``analog_bias``
the tile has one more input, driven by a constant 1, that holds the bias instead.
"""

from __future__ import annotations

import logging
import math
import operator

import torch
from torch import Tensor, nn

from ..crossbar.tile import AnalogTile
from ..errors import ConfigError
from ..optim import LearningRule
from ..rng import child_seeds, torch_generator
from .config import AnalogLayerConfig
from .function import AnalogContext, AnalogMatmul
from .layer_state import layer_state, load_layer_state, state_problems

log = logging.getLogger(__name__)

GeneratorLike = torch.Generator | int | None


def layer_seed(generator: GeneratorLike) -> int:
    """One 62-bit seed from an int seed, a ``torch.Generator``, or (None) torch's default generator.

    None follows ``torch.nn``'s convention (``torch.manual_seed`` makes it reproducible); pass a
    seed or a generator to keep the layer independent of global state.
    """
    if isinstance(generator, bool) or not isinstance(generator, (int, torch.Generator, type(None))):
        raise ConfigError("generator", generator, "None, an int seed or a torch.Generator")
    if isinstance(generator, int):
        return int(generator)
    device = generator.device if generator is not None else "cpu"
    return int(torch.randint(0, 2**62, (1,), generator=generator, device=device).item())


def _size(layer: nn.Module, what: str, value) -> int:
    if not isinstance(value, bool):
        try:
            if operator.index(value) >= 1:
                return operator.index(value)
        except TypeError:
            pass
    raise ConfigError(f"{type(layer).__name__}.{what}", value, "an integer >= 1")


def build_rule(config: AnalogLayerConfig, shape: tuple[int, int], seeds: list[int],
               dtype: torch.dtype, device: torch.device | str) -> LearningRule:
    """The layer's learning rule on fresh tiles, one per role of the rule config, each with its
    own generator (``seeds[1:]``, in role order) and the tile config the rule derives for its
    role; the seed after the tiles' seeds the rule's own draws (chopper signs)."""
    rule_cfg = config.rule
    roles = rule_cfg.roles()
    tiles = tuple(AnalogTile(shape, rule_cfg.tile_config(role, config.tile),
                             torch_generator(seed, device), dtype=dtype, device=device)
                  for role, seed in zip(roles, seeds[1:], strict=False))
    weight = None if roles else torch.zeros(shape, dtype=dtype, device=device)
    return rule_cfg.build(tiles, weight=weight,
                          generator=torch_generator(seeds[1 + len(roles)], device))


def rule_seed_count(config: AnalogLayerConfig) -> int:
    """Seeds a layer draws: its initial weights, one per tile, and the rule's own."""
    return 2 + len(config.rule.roles())


#: the per-step bookkeeping of a layer (recorded rows, fresh-forward flag): plain attributes,
#: set past ``nn.Module.__setattr__``, whose checks for parameters, buffers and modules cost
#: about 9 µs a call, four calls per layer and step (7 % of a batch-1 step)
_BOOKKEEPING = frozenset({"_rows", "_fresh_forward"})


class AnalogLayerBase(nn.Module):
    """Base of the analog layers (abstract: subclasses reshape their input into rows)."""

    def __setattr__(self, name: str, value) -> None:
        if name in _BOOKKEEPING:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def __init__(self, in_size: int, out_size: int, bias: bool, config: AnalogLayerConfig,
                 generator: GeneratorLike, device: torch.device | str | None,
                 dtype: torch.dtype | None):
        super().__init__()
        if not isinstance(config, AnalogLayerConfig):
            raise ConfigError(f"{type(self).__name__}.config", config, "an AnalogLayerConfig")
        self.config = config
        self.in_size, self.out_size = (_size(self, "in_size", in_size), _size(self, "out_size", out_size))
        dtype = dtype or torch.get_default_dtype()
        device = torch.device(device or "cpu")
        self.has_bias = bool(bias)
        # init, one per tile (in the rule's role order), the rule's own draws; a prefix of a
        # longer list is the same, so a rule with more tiles keeps the first tiles' seeds
        seeds = child_seeds(layer_seed(generator), rule_seed_count(config))
        tile_in = self.in_size + (1 if bias and config.analog_bias else 0)
        self.rule = build_rule(config, (self.out_size, tile_in), seeds, dtype, device)
        self.analog_ctx = AnalogContext(torch.zeros((), dtype=dtype, device=device))
        self.bias = (nn.Parameter(torch.zeros(self.out_size, dtype=dtype, device=device))
                     if bias and not config.analog_bias else None)
        scales = self.out_size if config.out_scaling_columnwise else 1
        self.out_scale = (nn.Parameter(torch.ones(scales, dtype=dtype, device=device))
                          if config.out_scaling else None)
        self._rows: list[tuple[Tensor, Tensor]] = []
        self._fresh_forward = False
        self._link_context()
        self._init_weights(torch_generator(seeds[0]), dtype, device)

    def _link_context(self) -> None:
        self.analog_ctx.__dict__["_analog_layer"] = self

    def __setstate__(self, state: dict) -> None:   # copy.deepcopy and pickle
        super().__setstate__(state)
        self._link_context()

    # -- initialisation and programming -------------------------------------------------------
    def _init_weights(self, gen: torch.Generator, dtype: torch.dtype, device: torch.device) -> None:
        """``torch.nn.Linear``'s default: W, b ~ U(−1/√fan_in, 1/√fan_in) (kaiming-uniform with
        a = √5), drawn on the CPU from the layer's seed, then programmed (clipped to the bounds)."""
        bound = 1.0 / math.sqrt(self.in_size)
        w = (torch.rand(self.out_size, self.in_size, generator=gen, dtype=dtype) * 2 - 1) * bound
        b = ((torch.rand(self.out_size, generator=gen, dtype=dtype) * 2 - 1) * bound
             if self.has_bias else None)
        self.set_weights(w.to(device), None if b is None else b.to(device))

    @torch.no_grad()
    def set_weights(self, weight: Tensor, bias: Tensor | None = None) -> None:
        """Program the effective weight s·W̄ (out_size × in_size; a convolution's kernel may keep
        its 4-D shape) and set the bias. With ω > 0 the tile receives W/s, s = max|W|/ω and the
        output scale becomes s; otherwise the tile receives W (s = 1). Values beyond the devices'
        bounds are clipped, and the number clipped is logged."""
        w = weight.detach().reshape(self.out_size, self.in_size).to(self.analog_ctx)
        omega = self.config.weight_scaling_omega
        if self.out_scale is not None:
            if omega > 0:
                dims = 1 if self.config.out_scaling_columnwise else (0, 1)
                s = (w.abs().amax(dim=dims, keepdim=True) / omega).clamp(min=torch.finfo(w.dtype).tiny)
                self.out_scale.copy_(s.reshape(self.out_scale.shape))
                w = w / s
            else:
                self.out_scale.fill_(1.0)
        if self.has_bias and self.config.analog_bias:
            b = torch.zeros(self.out_size, dtype=w.dtype, device=w.device) if bias is None else bias
            scale = 1.0 if self.out_scale is None else self.out_scale.reshape(-1)
            w = torch.cat([w, (b.to(w) / scale).reshape(-1, 1)], dim=1)
        elif bias is not None:
            if self.bias is None:
                raise ConfigError(f"{type(self).__name__}.set_weights.bias", "a tensor",
                                  "None for a layer built with bias=False")
            self.bias.copy_(bias.detach().reshape(-1))
        self.rule.program(w)
        clipped = int(((self.rule.weight - w).abs() > 1e-6 * (1.0 + w.abs())).sum())
        if clipped:
            log.info("%s: %d of %d programmed weights clipped to the device bounds",
                     type(self).__name__, clipped, w.numel())

    @torch.no_grad()
    def get_weights(self) -> tuple[Tensor, Tensor | None]:
        """The effective weight s·W̄ (out_size × in_size) and bias, as a digital layer holds them."""
        w = self.rule.weight.clone()
        if self.out_scale is not None:
            w = w * self.out_scale.reshape(-1, 1)
        if self.has_bias and self.config.analog_bias:
            return w[:, :-1].contiguous(), w[:, -1].contiguous()
        return w, None if self.bias is None else self.bias.detach().clone()

    # -- the forward pass over rows -----------------------------------------------------------
    def analog_rows(self, x: Tensor) -> Tensor:
        """s · (x W̄ᵀ) for rows x (R × in_size), through :class:`AnalogMatmul` (no bias added
        unless it is analog)."""
        if x.shape[-1] != self.in_size:
            raise ValueError(f"{type(self).__name__} expects rows of {self.in_size} inputs, "
                             f"got a tensor of shape {tuple(x.shape)}")
        if self.has_bias and self.config.analog_bias:
            x = torch.cat([x, x.new_ones(x.shape[:-1] + (1,))], dim=-1)
        self._fresh_forward = True
        y = AnalogMatmul.apply(x, self.analog_ctx, self)
        return y if self.out_scale is None else y * self.out_scale

    # -- recorded rows and the update (called by AnalogOptimizer) ------------------------------
    def record(self, x: Tensor, d: Tensor) -> None:
        """Keep the rows (x, d) of one backward pass for the next optimizer step.

        The first record after a new forward, with the context's grad None (``zero_grad``),
        drops the rows recorded before: they could never be applied, and a loop that never
        steps keeps at most one pass's rows. (Several records in one backward pass, from a layer
        used several times in one graph, follow no new forward and are all kept.)"""
        if self._fresh_forward and self.analog_ctx.grad is None:
            self._rows.clear()
        self._fresh_forward = False
        self._rows.append((x.reshape(-1, x.shape[-1]), d.reshape(-1, d.shape[-1])))

    def take_rows(self) -> tuple[Tensor, Tensor] | None:
        """The rows recorded since the last ``zero_grad`` (see :mod:`analogsgd.nn.function`),
        concatenated, or None; all recorded rows are dropped either way."""
        rows, self._rows = self._rows, []
        if self.analog_ctx.grad is None or not rows:
            return None
        if len(rows) == 1:
            return rows[0]
        return torch.cat([r[0] for r in rows]), torch.cat([r[1] for r in rows])

    def discard_rows(self) -> None:
        """Drop the recorded rows (the optimizer's ``zero_grad``)."""
        self._rows = []

    def analog_update(self, lr: float, initial_lr: float | None = None) -> bool:
        """Write the recorded gradient onto the tiles: the rule's step ΔW = −η Σ_b d_bᵀ x_b at
        the gradient-write rate η = ``lr`` (a compound rule then transfers on its schedule).
        With a scheduler, ``initial_lr`` is the group's lr_0, from which the rule's config
        derives its rates (``schedule_gradient_lr``, ``schedule_transfer_lr``). True if rows
        were applied."""
        rows = self.take_rows()
        if rows is None:
            return False
        self.rule.step(*rows, lr, initial_lr)
        return True

    # -- device moves -------------------------------------------------------------------------
    def _apply(self, fn, recurse: bool = True):
        super()._apply(fn, recurse)
        for tile in self.rule.tiles:
            tile.map_arrays(fn)
        self._rows = [(fn(x), fn(d)) for x, d in self._rows]
        return self

    # -- checkpoint state (see analogsgd.nn.layer_state) ----------------------------------------
    def get_extra_state(self) -> dict:
        """Everything the analog weights are: every tile's arrays and generator state, the
        rule's counters, the config (as a dict) and the format version."""
        return layer_state(self)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        self._state_prefix = prefix.rstrip(".")      # names the layer in error messages
        try:
            super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        finally:
            self._state_prefix = None

    def state_problems(self, state) -> tuple[str | None, list[str]]:
        """(a reason the state cannot be read at all, or None; the fields where the saved layer
        differs from this one as ``"path: checkpoint A, model B"``)."""
        return state_problems(self, state)

    def set_extra_state(self, state: dict) -> None:
        where = getattr(self, "_state_prefix", None)
        load_layer_state(self, state, f"{type(self).__name__} {where!r}" if where
                         else type(self).__name__)
        self._rows = []

    def extra_repr(self) -> str:
        cfg = self.config
        parts = [f"rule={self.rule.kind}", f"device={type(cfg.tile.device).__name__}",
                 f"mode={cfg.tile.update.mode}"]
        if cfg.out_scaling:
            parts.append("out_scaling=True")
        return ", ".join(parts)
