"""AnalogOptimizer: the analog update against closed forms, and its step/zero_grad semantics."""

import math

import pytest
import torch
from torch import nn
from torch.optim.optimizer import (
    register_optimizer_step_post_hook,
    register_optimizer_step_pre_hook,
)

from analogsgd.crossbar import TileConfig, UpdateConfig
from analogsgd.devices import IdealDevice
from analogsgd.errors import ConfigError
from analogsgd.nn import AnalogLayerConfig, AnalogLinear, AnalogOptimizer, AnalogSequential
from analogsgd.optim import TikiTakaConfig

F64 = torch.float64


def ideal(mode="expected", **kw) -> AnalogLayerConfig:
    return AnalogLayerConfig(tile=TileConfig(device=IdealDevice(dw_min=1e-3),
                                             update=UpdateConfig(mode=mode)), **kw)


def backward_with(layer, x, g):
    """A backward pass whose output gradient is exactly g (loss = Σ g ⊙ y)."""
    (layer(x) * g).sum().backward()


def data(b=4, n_in=6, n_out=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(b, n_in, generator=gen, dtype=F64), torch.randn(b, n_out, generator=gen, dtype=F64)


def test_expected_mode_on_ideal_device_is_digital_sgd():
    """F ≡ 1, G ≡ 0: W ← W − lr gᵀx exactly as torch.optim.SGD (weights and digital bias)."""
    layer = AnalogLinear(6, 3, config=ideal(), generator=0, dtype=F64)
    w0, b0 = layer.get_weights()
    lin = nn.Linear(6, 3, dtype=F64)
    with torch.no_grad():
        lin.weight.copy_(w0)
        lin.bias.copy_(b0)
    opt_a = AnalogOptimizer(layer.parameters(), lr=0.1)
    opt_d = torch.optim.SGD(lin.parameters(), lr=0.1)
    for seed in range(3):
        x, g = data(seed=seed)
        for model, opt in ((layer, opt_a), (lin, opt_d)):
            opt.zero_grad()
            backward_with(model, x, g)
            opt.step()
    w, b = layer.get_weights()
    torch.testing.assert_close(w, lin.weight.detach(), rtol=0, atol=1e-14)
    torch.testing.assert_close(b, lin.bias.detach(), rtol=0, atol=1e-14)


def test_pulsed_mean_update_matches_the_gradient():
    """Ideal device, pulsed: ΔW_ij = Δw_min (n₊ − n₋) with E[ΔW] = −lr Σ_b g_bi x_bj and
    Var[ΔW_ij] ≤ Δw_min lr Σ_b |g_bi x_bj| (counts are sums of Bernoulli coincidences, variance
    ≤ mean; the 'moments' draw is exact in mean and variance below 3 pulses, as here). The
    standardised total error Σ(ΔW − E)/√(Σ Var) is then within ±5 (|Z| > 5 has odds < 1e-6),
    and the largest element error within 6 √Var_max."""
    lr = 0.002
    layer = AnalogLinear(40, 30, bias=False, config=ideal("pulsed"), generator=1)
    opt = AnalogOptimizer(layer.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(2)
    x = torch.rand(8, 40, generator=gen) - 0.5
    g = torch.rand(8, 30, generator=gen) - 0.5
    assert lr * float(x.abs().max() * g.abs().max()) / 1e-3 < 31     # probabilities unclipped
    w0 = layer.rule.weight.double().clone()
    backward_with(layer, x, g)
    opt.step()
    delta = layer.rule.weight.double() - w0
    mean = -lr * (g.T @ x).double()
    var = 1e-3 * lr * (g.abs().T @ x.abs()).double()
    assert float((mean.abs() / 1e-3).max()) < 3
    z = float((delta - mean).sum() / var.sum().sqrt())
    assert abs(z) < 5, z
    assert float(((delta - mean).abs() - 6 * var.sqrt() - 1e-6).max()) <= 0


def test_tiki_taka_layer_lr_convention():
    """Optimizer lr = β writes A ← A − β gᵀx; transfer_lr = α moves one column: C ← C + α A[:, 0]."""
    cfg = ideal(rule=TikiTakaConfig(transfer_lr=0.3, columns_per_transfer="one"))
    layer = AnalogLinear(5, 4, bias=False, config=cfg, generator=3, dtype=F64)
    c0 = layer.rule.slow.weight.clone()
    x, g = data(3, 5, 4, seed=4)
    opt = AnalogOptimizer(layer.parameters(), lr=0.05)
    backward_with(layer, x, g)
    opt.step()
    a = -0.05 * g.T @ x
    torch.testing.assert_close(layer.rule.fast.weight, a, rtol=0, atol=1e-14)
    want = c0.clone()
    want[:, 0] += 0.3 * a[:, 0]
    torch.testing.assert_close(layer.rule.slow.weight, want, rtol=0, atol=1e-14)
    assert layer.rule.cursor.count == 1 and layer.rule.cursor.next_column == 1


def test_step_consumes_rows_and_zero_grad_drops_them():
    layer = AnalogLinear(6, 3, bias=False, config=ideal(), generator=5, dtype=F64)
    opt = AnalogOptimizer(layer.parameters(), lr=0.1)
    x1, g1 = data(seed=6)
    x2, g2 = data(seed=7)
    w0 = layer.rule.weight.clone()

    opt.step()                                   # nothing recorded: nothing happens
    assert torch.equal(layer.rule.weight, w0)
    backward_with(layer, x1, g1)
    opt.zero_grad()                              # drops the rows of x1
    backward_with(layer, x2, g2)
    opt.step()
    w1 = w0 - 0.1 * g2.T @ x2
    torch.testing.assert_close(layer.rule.weight, w1, rtol=0, atol=1e-14)
    w1 = layer.rule.weight.clone()
    opt.step()                                   # a second step without backward: no stale update
    assert torch.equal(layer.rule.weight, w1)

    opt.zero_grad()
    backward_with(layer, x1, g1)                 # two backward passes accumulate, like grads
    backward_with(layer, x2, g2)
    assert len(layer._rows) == 2 and float(layer.analog_ctx.grad) == 0   # neutral to clipping
    opt.step()
    torch.testing.assert_close(layer.rule.weight, w1 - 0.1 * (g1.T @ x1 + g2.T @ x2),
                               rtol=0, atol=1e-14)

    opt.zero_grad(set_to_none=False)             # zeroed (not None) grads drop the rows too
    backward_with(layer, x1, g1)
    opt.zero_grad(set_to_none=False)
    before = layer.rule.weight.clone()
    opt.step()
    assert torch.equal(layer.rule.weight, before)

    backward_with(layer, x1, g1)                 # Module.zero_grad: the rows go at the step
    layer.zero_grad()
    opt.step()
    assert torch.equal(layer.rule.weight, before)


def test_gradient_clipping_sees_only_digital_gradients():
    layer = AnalogLinear(6, 3, config=ideal(), generator=5, dtype=F64)
    x, g = data(seed=6)
    backward_with(layer, x, g)
    digital_norm = layer.bias.grad.norm()
    norm = torch.nn.utils.clip_grad_norm_(layer.parameters(), max_norm=1e-3)
    torch.testing.assert_close(norm, digital_norm)
    w0 = layer.rule.weight.clone()
    AnalogOptimizer(layer.parameters(), lr=0.1).step()
    torch.testing.assert_close(layer.rule.weight, w0 - 0.1 * g.T @ x, rtol=0, atol=1e-14)


def test_rows_do_not_pile_up_without_steps():
    layer = AnalogLinear(6, 3, config=ideal(), generator=5, dtype=F64)
    opt = AnalogOptimizer(layer.parameters(), lr=0.1)
    x, g = data(seed=6)
    for _ in range(3):
        opt.zero_grad()
        backward_with(layer, x, g)
    assert len(layer._rows) == 1


def test_layer_used_twice_in_one_graph_applies_both_rows():
    layer = AnalogLinear(4, 4, bias=False, config=ideal(), generator=8, dtype=F64)
    opt = AnalogOptimizer(layer.parameters(), lr=0.1)
    x = torch.randn(2, 4, generator=torch.Generator().manual_seed(9), dtype=F64)
    w0 = layer.rule.weight.clone()
    h = layer(x)
    y = layer(h)
    y.sum().backward()
    opt.step()
    d2 = torch.ones(2, 4, dtype=F64)
    d1 = d2 @ w0
    torch.testing.assert_close(layer.rule.weight, w0 - 0.1 * (d2.T @ h.detach() + d1.T @ x),
                               rtol=0, atol=1e-14)


def test_param_groups_scheduler_and_state_dict():
    model = AnalogSequential(AnalogLinear(6, 5, config=ideal(), generator=10, dtype=F64), nn.Tanh(),
                             nn.Linear(5, 3, dtype=F64))
    opt = AnalogOptimizer([{"params": model[0].parameters(), "lr": 0.2},
                           {"params": model[2].parameters()}], lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    x, _ = data(4, 6, 3, seed=11)
    for _ in range(2):
        opt.zero_grad()
        model(x).square().sum().backward()
        w_before = model[0].rule.weight.clone()
        lr = opt.param_groups[0]["lr"]
        d_rows = model[0]._rows[0]
        opt.step()
        sched.step()
        want = w_before - lr * d_rows[1].T @ d_rows[0]
        torch.testing.assert_close(model[0].rule.weight, want, rtol=0, atol=1e-14)
    assert [g["lr"] for g in opt.param_groups] == [0.05, 0.025]
    state = opt.state_dict()
    assert len(state["param_groups"]) == 2 and state["state"]     # momentum buffers kept


def test_step_and_zero_grad_keep_torch_optimizer_conventions():
    """What torch.optim's step wrapper gives every optimizer, kept without its per-call profiler
    record: global and per-optimizer pre and post hooks in torch's order, a pre hook's new
    arguments reaching the step, the profiler labels while a profiler runs, the updates without
    autograd and the caller's grad mode restored; zero_grad(set_to_none=False) zeroes."""
    layer = AnalogLinear(6, 3, config=ideal(), generator=5, dtype=F64)
    opt = AnalogOptimizer(layer.parameters(), lr=0.1)
    calls = []
    losses = []

    def closure():
        assert torch.is_grad_enabled()
        losses.append(torch.tensor(1.0))
        return losses[-1]

    def pre(o, args, kwargs):
        calls.append(("pre", o is opt, len(args), dict(kwargs)))
        return (args[0],), {"closure": closure}            # the step runs with this closure

    handles = [register_optimizer_step_pre_hook(
                   lambda o, a, k: calls.append(("global pre",))),
               opt.register_step_pre_hook(pre),
               opt.register_step_post_hook(lambda o, a, k: calls.append(("post", dict(k)))),
               register_optimizer_step_post_hook(
                   lambda o, a, k: calls.append(("global post",)))]
    try:
        x, g = data(seed=6)
        backward_with(layer, x, g)
        w0 = layer.rule.weight.clone()
        with torch.enable_grad():     # (an in-place step of the leaf bias would raise here)
            assert opt.step() is losses[0]
            assert torch.is_grad_enabled()
        assert calls == [("global pre",), ("pre", True, 1, {}), ("post", {"closure": closure}),
                         ("global post",)]
        torch.testing.assert_close(layer.rule.weight, w0 - 0.1 * g.T @ x, rtol=0, atol=1e-14)
    finally:
        for handle in handles:
            handle.remove()

    with torch.no_grad():
        opt.step()
        assert not torch.is_grad_enabled()                 # the caller's mode is restored
    with torch.profiler.profile() as prof:
        opt.zero_grad()
        opt.step()
    names = {e.name for e in prof.events()}
    assert {"Optimizer.step#AnalogOptimizer.step",
            "Optimizer.zero_grad#AnalogOptimizer.zero_grad"} <= names

    backward_with(layer, x, g)
    opt.zero_grad(set_to_none=False)
    assert torch.equal(layer.bias.grad, torch.zeros_like(layer.bias)) and not layer._rows
    assert type(opt).step.hooked                           # torch leaves it unwrapped


def test_bad_optimizer_arguments():
    layer = AnalogLinear(2, 2, generator=0)
    with pytest.raises(ConfigError, match="AnalogOptimizer.lr"):
        AnalogOptimizer(layer.parameters(), lr=-1.0)
    with pytest.raises(ConfigError, match="AnalogOptimizer.momentum"):
        AnalogOptimizer(layer.parameters(), lr=0.1, momentum=math.nan)


@pytest.mark.parametrize("grad_follows, transfer_follows", [(True, False), (False, True)])
def test_schedule_scales_the_gradient_or_the_transfer_rate(grad_follows, transfer_follows):
    """Second step at lr_1 = lr_0/2: A gains −η g₂ᵀx₂ with η = lr_1 (default) or lr_0 (aihwkit's
    fixed fast_lr); column 1 of C gains α_1 A[:, 1] with α_1 = α (default) or α/2
    (aihwkit's scale_transfer_lr)."""
    cfg = ideal(rule=TikiTakaConfig(transfer_lr=0.3, schedule_gradient_lr=grad_follows,
                                    schedule_transfer_lr=transfer_follows))
    layer = AnalogLinear(5, 4, bias=False, config=cfg, generator=3, dtype=F64)
    opt = AnalogOptimizer(layer.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    x1, g1 = data(3, 5, 4, seed=4)
    x2, g2 = data(3, 5, 4, seed=5)
    c0 = layer.rule.slow.weight.clone()
    for x, g in ((x1, g1), (x2, g2)):
        opt.zero_grad()
        backward_with(layer, x, g)
        opt.step()
        sched.step()
    eta = 0.05 if grad_follows else 0.1
    a = -0.1 * g1.T @ x1 - eta * g2.T @ x2
    torch.testing.assert_close(layer.rule.fast.weight, a, rtol=0, atol=1e-14)
    alpha = 0.15 if transfer_follows else 0.3
    torch.testing.assert_close(layer.rule.slow.weight[:, 1], c0[:, 1] + alpha * a[:, 1],
                               rtol=0, atol=1e-14)
