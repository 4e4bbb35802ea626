"""The optimizer of a network with analog layers: the analog update, explicit and visible.

:class:`AnalogOptimizer` follows ``torch.optim.Optimizer``'s conventions (param groups,
``zero_grad``, ``step``, ``state_dict``, learning-rate schedulers). In :meth:`AnalogOptimizer.step`

* every digital parameter (biases, output scales, digital layers) takes an SGD step,
  p ← p − lr (g + λ p) (with momentum μ: v ← μ v + g + λ p, p ← p − lr v);
* every analog layer, represented by its :class:`~analogsgd.nn.function.AnalogContext`
  parameter, has its learning rule called with the rows (x, d) recorded by the backward pass
  and the group's lr as the gradient-write rate: ``layer.rule.step(x, d)``, i.e.
  ΔW = −lr Σ_b d_bᵀ x_b through the device response (Analog SGD's α, Tiki-Taka's β; see
  :mod:`analogsgd.nn.config` for the convention). Momentum and weight decay do not apply to
  analog weights: the rule writes exactly the recorded gradient.

:meth:`AnalogOptimizer.end_epoch` passes an epoch's training loss to every analog layer's rule
(residual learning's warm start moves on when it plateaus), as a scheduler's ``step`` once
per epoch.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from itertools import chain

import torch
from torch.autograd.profiler import record_function
from torch.optim.optimizer import _global_optimizer_post_hooks, _global_optimizer_pre_hooks

from ..config import NON_NEGATIVE, POSITIVE
from ..errors import ConfigError
from .function import AnalogContext


def _profiling() -> bool:
    """Whether a torch profiler records now (then the optimizer's calls carry their labels)."""
    return torch._C._autograd._profiler_enabled()


def _with_step_hooks(step):
    """``step`` with what ``torch.optim.Optimizer`` wraps every ``step`` in: the global and the
    optimizer's pre hooks (which may replace the arguments), the profiler's entry point
    ``_optimizer_step_code``, the post hooks, and the profiler label
    ``Optimizer.step#<class>.step``, recorded only while a profiler runs. torch's own wrapper
    records the label on every call: a ``record_function`` costs about 10 µs, and with
    ``zero_grad``'s label and ``no_grad``'s decorator (3.5 µs against 1.8 for a ``with``) about
    25 µs a step, 4 % of a batch-1 step of the benchmark network. Marked ``hooked`` so that
    torch leaves it as it is."""

    def run(self, args, kwargs):
        for pre_hook in chain(_global_optimizer_pre_hooks.values(),
                              self._optimizer_step_pre_hooks.values()):
            result = pre_hook(self, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(f"{step} must return None or a tuple of (new_args, "
                                       f"new_kwargs), but got {result}.")
                args, kwargs = result
        out = step(*args, **kwargs)
        self._optimizer_step_code()
        for post_hook in chain(self._optimizer_step_post_hooks.values(),
                               _global_optimizer_post_hooks.values()):
            post_hook(self, args, kwargs)
        return out

    @functools.wraps(step)
    def wrapper(*args, **kwargs):
        self = args[0]
        if _profiling():
            with record_function(f"Optimizer.step#{type(self).__name__}.step"):
                return run(self, args, kwargs)
        return run(self, args, kwargs)

    wrapper.hooked = True
    return wrapper


class AnalogOptimizer(torch.optim.Optimizer):
    """SGD for digital parameters and the learning rule's pulsed write for analog layers.

    Args:
        params: ``model.parameters()`` or param groups (dicts), as for any torch optimizer.
        lr: learning rate of the digital parameters and gradient-write rate of analog layers.
        momentum: μ, digital parameters only.
        weight_decay: λ (L2), digital parameters only.
    """

    def __init__(self, params: Iterable, lr: float, momentum: float = 0.0,
                 weight_decay: float = 0.0):
        for name, value, check in (("lr", lr, POSITIVE), ("momentum", momentum, NON_NEGATIVE),
                                   ("weight_decay", weight_decay, NON_NEGATIVE)):
            if not check.ok(value):
                raise ConfigError(f"AnalogOptimizer.{name}", value, check.describe())
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay})

    @torch._disable_dynamo
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Zero (or drop) the digital gradients and drop the analog layers' recorded rows.

        ``torch.optim.Optimizer.zero_grad``'s effect on every gradient, its profiler label
        ``Optimizer.zero_grad#<class>.zero_grad`` recorded only while a profiler runs (see
        :func:`_with_step_hooks`)."""
        if _profiling():
            with record_function(f"Optimizer.zero_grad#{type(self).__name__}.zero_grad"):
                return self._zero_grad(set_to_none)
        return self._zero_grad(set_to_none)

    def _zero_grad(self, set_to_none: bool) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    if set_to_none:
                        p.grad = None
                    else:
                        if p.grad.grad_fn is not None:
                            p.grad.detach_()
                        else:
                            p.grad.requires_grad_(False)
                        p.grad.zero_()
        for layer in self._analog_layers():
            layer.discard_rows()

    def _analog_layers(self):
        for group in self.param_groups:
            for p in group["params"]:
                if isinstance(p, AnalogContext) and p.analog_layer is not None:
                    yield p.analog_layer

    def end_epoch(self, loss: float) -> None:
        """The end of an epoch whose training loss was ``loss``: every analog layer's rule
        hears it (:meth:`~analogsgd.optim.base.LearningRule.end_epoch`), in layer order."""
        for layer in self._analog_layers():
            layer.rule.end_epoch(float(loss))

    @_with_step_hooks
    def step(self, closure: Callable[[], torch.Tensor] | None = None):
        """One step: SGD on digital parameters, the learning rule on each analog layer."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        with torch.no_grad():
            self._update()
        return loss

    def _update(self) -> None:
        for group in self.param_groups:
            lr, momentum, decay = group["lr"], group["momentum"], group["weight_decay"]
            for p in group["params"]:
                if isinstance(p, AnalogContext):
                    layer = p.analog_layer
                    if layer is not None:
                        # layer.rule.step(x, d) at the gradient-write rate lr
                        layer.analog_update(lr, group.get("initial_lr"))
                    continue
                if p.grad is None:
                    continue
                g = p.grad if decay == 0 else p.grad.add(p, alpha=decay)
                if momentum:
                    buf = self.state[p].get("momentum_buffer")
                    if buf is None:
                        buf = self.state[p]["momentum_buffer"] = g.clone()
                    else:
                        buf.mul_(momentum).add_(g)
                    g = buf
                p.add_(g, alpha=-lr)
