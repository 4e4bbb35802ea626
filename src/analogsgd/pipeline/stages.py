"""A sequential analog network split into pipeline stages, and one stage's three operations.

:func:`split_stages` cuts an ``nn.Sequential`` into L consecutive groups of modules with the
analog layers shared out evenly (modules without an analog layer, e.g. activations, go with the
analog layer before them). A :class:`Stage` runs on explicit tensors:

* :meth:`Stage.forward` (F): the stage's modules on a micro-batch's input activations, through
  the tiles' forward read; the input and output are kept for the backward pass (the activation
  stash every pipeline needs). The last stage also evaluates the loss (cross-entropy, mean over
  the micro-batch) and its error.
* :meth:`Stage.backward` (B): the error of the stage's output back to its input, through the
  tiles' backward read *as the tiles are on that cycle*; the rows (x, d) of each analog layer and
  the gradients of the digital parameters (biases, output scales) are kept for the update.
* :meth:`Stage.update` (U): each analog layer's learning rule writes ΔW = −η Σ_b d_bᵀ x_b of that
  micro-batch (``rule.step(x, d, η)``), the digital parameters take p ← p − α g (a backward
  pass still to come reads an output scale as it is then, like the tiles).

A stage cannot stash old weights on analog hardware (PipeDream's weight stashing would need a
second copy of every tile): the backward read and the update use the tiles as they are when they
run. Each analog layer owns its tiles' generators, so a stage that runs the same operations in
the same order draws the same numbers wherever it runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from ..nn.convert import analog_layers
from ..nn.function import AnalogContext


def _analog_count(module: nn.Module) -> int:
    return sum(1 for _ in analog_layers(module))


def split_stages(model: nn.Sequential, n_stages: int) -> list[nn.Sequential]:
    """``model``'s modules in ``n_stages`` consecutive groups holding ⌊K/L⌋ or ⌈K/L⌉ of its K
    analog layers each (the larger groups first); a group starts at an analog module, except the
    first, which also holds the modules before the first analog one."""
    if not isinstance(model, nn.Sequential):
        raise ConfigError("split_stages.model", type(model).__name__, "an nn.Sequential")
    counts = [_analog_count(m) for m in model]
    total = sum(counts)
    if isinstance(n_stages, bool) or not isinstance(n_stages, int) or not 1 <= n_stages <= total:
        raise ConfigError("split_stages.n_stages", n_stages,
                          f"an integer from 1 to the model's {total} analog layers")
    want = [total // n_stages + (1 if i < total % n_stages else 0) for i in range(n_stages)]
    groups: list[list[nn.Module]] = [[] for _ in range(n_stages)]
    stage, held = 0, 0
    for module, count in zip(model, counts):
        if count and held >= want[stage]:
            stage, held = stage + 1, 0
        if held + count > want[stage] and held:
            raise ConfigError("split_stages.model", f"a module with {count} analog layers",
                              f"modules that fit the {want} analog layers per stage",
                              "Flatten nested containers into the top-level Sequential.")
        groups[stage].append(module)
        held += count
    if not all(any(_analog_count(m) for m in g) for g in groups):
        raise ConfigError("split_stages.model", f"{total} analog layers in nested containers",
                          f"a model that splits into {n_stages} stages of analog layers",
                          "Flatten nested containers into the top-level Sequential.")
    return [nn.Sequential(*g) for g in groups]


def digital_parameters(module: nn.Module) -> list[nn.Parameter]:
    """The parameters of ``module`` that are not analog weights (biases, output scales)."""
    return [p for p in module.parameters() if not isinstance(p, AnalogContext)]


@dataclass
class _Pending:
    """What a micro-batch left on a stage between two operations."""

    x: Tensor | None = None        # the stage's input (requires grad except on stage 0)
    out: Tensor | None = None      # the stage's output (the loss on the last stage)
    rows: list | None = None       # per analog layer: (x, d) or None
    grads: list | None = None      # per digital parameter: its gradient (or None)


class Stage:
    """Stage ``index`` of ``n_stages``: its modules and its forward, backward and update.

    Args:
        index: the stage's position (0 = input side).
        n_stages: L.
        modules: the stage's part of the network (:func:`split_stages`).
        write_lr: η, the gradient-write rate of the analog layers' rules (Analog SGD's α, the
            Tiki-Taka family's β; their transfer rate is in the rule config).
        digital_lr: α of the digital parameters.
    """

    def __init__(self, index: int, n_stages: int, modules: nn.Module, write_lr: float,
                 digital_lr: float):
        self.index, self.n_stages = index, n_stages
        self.modules = modules
        self.layers = [layer for _, layer in analog_layers(modules)]
        self.params = digital_parameters(modules)
        self.write_lr, self.digital_lr = float(write_lr), float(digital_lr)
        self.version = 0                      # updates applied so far
        self._pending: dict[int, _Pending] = {}

    @property
    def is_first(self) -> bool:
        return self.index == 0

    @property
    def is_last(self) -> bool:
        return self.index == self.n_stages - 1

    def forward(self, m: int, x: Tensor, y: Tensor | None = None) -> Tensor:
        """F of micro-batch ``m`` on input ``x``: the output activations (detached), or, on the
        last stage with labels ``y``, the loss (a 0-d tensor, detached)."""
        if m in self._pending:
            raise RuntimeError(f"stage {self.index}: micro-batch {m} is already in flight")
        x = x.detach()
        if not self.is_first:
            x.requires_grad_(True)
        with torch.enable_grad():
            out = self.modules(x)
            if self.is_last:
                if y is None:
                    raise ValueError(f"stage {self.index} (the last) needs the labels")
                out = nn.functional.cross_entropy(out, y)
        self._pending[m] = _Pending(x=x, out=out)
        return out.detach()

    def backward(self, m: int, grad: Tensor | None = None) -> Tensor | None:
        """B of micro-batch ``m`` with the error ``grad`` of the stage's output (None on the last
        stage, whose output is the loss): the error of the stage's input (None on stage 0)."""
        p = self._pending.get(m)
        if p is None or p.out is None:
            raise RuntimeError(f"stage {self.index}: backward of micro-batch {m} before its forward")
        for layer in self.layers:           # rows of this pass only
            layer.analog_ctx.grad = None
        for q in self.params:
            q.grad = None
        torch.autograd.backward(p.out, None if self.is_last else grad)
        p.rows = []
        for layer in self.layers:
            p.rows.append(layer.take_rows())
            layer.analog_ctx.grad = None
        p.grads = [None if q.grad is None else q.grad.detach().clone() for q in self.params]
        for q in self.params:
            q.grad = None
        grad_in = None if self.is_first else p.x.grad.detach()
        p.x = p.out = None
        return grad_in

    @torch.no_grad()
    def update(self, m: int) -> None:
        """U of micro-batch ``m``: each analog layer's rule writes that micro-batch's gradient at
        rate η, each digital parameter takes p ← p − α g."""
        p = self._pending.pop(m, None)
        if p is None or p.rows is None:
            raise RuntimeError(f"stage {self.index}: update of micro-batch {m} before its backward")
        for layer, rows in zip(self.layers, p.rows):
            if rows is not None:
                layer.rule.step(*rows, self.write_lr)
        for q, g in zip(self.params, p.grads):
            if g is not None:
                # in place on the storage that micro-batches still in flight saved for their
                # backward pass (an output scale): like the tiles, they read it as it is then
                q.data.add_(g, alpha=-self.digital_lr)
        self.version += 1

    def in_flight(self) -> list[int]:
        """Micro-batches forwarded on this stage and not yet updated."""
        return sorted(self._pending)


def stage_tensors(stage_modules: nn.Module) -> dict[str, Tensor]:
    """Every array of a stage that training changes, by name: each analog layer's rule arrays
    (tile weights, hidden state) and every digital parameter (for exact comparisons)."""
    out: dict[str, Tensor] = {}
    for name, module in analog_layers(stage_modules):
        for key, value in module.rule.arrays().items():
            out[f"{name}.{key}"] = value
    for name, q in stage_modules.named_parameters():
        if not isinstance(q, AnalogContext):
            out[name] = q.detach().clone()
    return out
