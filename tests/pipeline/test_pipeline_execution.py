"""Executing a timeline: the stages' operations, one process against one process per stage.

The single-process and the multi-process runs must give identical tile weights, hidden arrays
and digital parameters (``torch.equal``, no tolerance): each stage runs the same operations in
the same order on the same bits and draws from its own tiles' generators.
"""

import copy
import multiprocessing
import time

import pytest
import torch
from torch import nn

from analogsgd.errors import ConfigError
from analogsgd.nn import AnalogLayerConfig, AnalogLinear
from analogsgd.optim import registry
from analogsgd.pipeline import (
    MicroBatches,
    PipelineJob,
    PipelineStageError,
    Stage,
    micro_batch_stream,
    run_distributed,
    simulate,
    split_stages,
    stage_tensors,
    timeline,
    versions_seen,
)

L, M, STEPS, B = 3, 2, 3, 5
LR = 0.1


def small_model(kind: str, seed: int = 0) -> nn.Sequential:
    cfg = AnalogLayerConfig(rule=registry.config(kind))
    return nn.Sequential(nn.Flatten(), AnalogLinear(8, 6, config=cfg, generator=seed + 1),
                         nn.Sigmoid(), AnalogLinear(6, 5, config=cfg, generator=seed + 2),
                         nn.Sigmoid(), AnalogLinear(5, 3, config=cfg, generator=seed + 3))


def data() -> MicroBatches:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(40, 8, generator=g), torch.randint(0, 3, (40,), generator=g)
    return MicroBatches(x, y, micro_batch_stream(40, B, M * STEPS, torch.Generator().manual_seed(1)))


def stages_of(parts) -> list[Stage]:
    return [Stage(i, len(parts), p, LR, LR) for i, p in enumerate(parts)]


def test_split_stages_shares_out_the_analog_layers():
    parts = split_stages(small_model("analog_sgd"), 3)
    assert [len(p) for p in parts] == [3, 2, 1]        # Flatten goes with the first layer
    assert [type(p[-1]).__name__ for p in parts] == ["Sigmoid", "Sigmoid", "AnalogLinear"]
    assert [len(p) for p in split_stages(small_model("analog_sgd"), 2)] == [5, 1]
    with pytest.raises(ConfigError, match="split_stages.n_stages"):
        split_stages(small_model("analog_sgd"), 4)
    nested = nn.Sequential(nn.Sequential(*list(small_model("analog_sgd"))[:4]),
                           *list(small_model("analog_sgd"))[4:])
    with pytest.raises(ConfigError, match="split_stages.model"):
        split_stages(nested, 3)


def test_a_one_stage_pipeline_is_plain_training():
    """One stage, F-B-U per micro-batch: the same weights as the layers trained by hand."""
    model = small_model("analog_sgd")
    ref = copy.deepcopy(model)
    batches = data()
    simulate(stages_of(split_stages(model, 1)), timeline("async", 1, M, STEPS), batches)
    layers = [m for m in ref if isinstance(m, AnalogLinear)]
    for m in range(M * STEPS):
        loss = nn.functional.cross_entropy(ref(batches.inputs(m)), batches.labels(m))
        for layer in layers:
            layer.analog_ctx.grad = None
            layer.bias.grad = None
        loss.backward()
        with torch.no_grad():
            for layer in layers:
                layer.analog_update(LR)
                layer.bias.add_(layer.bias.grad, alpha=-LR)
                layer.out_scale is None or layer.out_scale.add_(layer.out_scale.grad, alpha=-LR)
    for got, want in zip(stage_tensors(model).values(), stage_tensors(ref).values()):
        assert torch.equal(got, want)


@pytest.mark.parametrize("schedule", ["sync", "async"])
def test_simulation_sees_the_weight_versions_the_schedule_promises(schedule):
    events = timeline(schedule, L, M, STEPS)
    result = simulate(stages_of(split_stages(small_model("analog_sgd"), L)), events, data())
    assert result.versions == versions_seen(events, L)
    assert sorted(result.losses) == list(range(M * STEPS))


@pytest.fixture(params=["auto", "dense"])
def update_kernel(request):
    """The process's auto_kernel for the test (restored after it): the stage processes, spawned
    fresh, must take their parent's (analogsgd run --update-kernel)."""
    from analogsgd.crossbar.tile import auto_kernel

    before = auto_kernel(request.param)
    yield request.param
    auto_kernel(before)


def test_multiprocess_run_gives_the_single_process_weights_exactly(update_kernel):
    """Both schedules, Analog SGD and Tiki-Taka, through one set of stage processes, with the
    process's update kernel ('dense' fails here unless the stages take it too)."""
    jobs, expected = [], []
    for kind in ("analog_sgd", "tiki_taka"):
        for schedule in ("sync", "async"):
            events = timeline(schedule, L, M, STEPS)
            parts = split_stages(small_model(kind), L)
            initial = copy.deepcopy(parts)
            jobs.append(PipelineJob(copy.deepcopy(parts), events, data(), LR, LR))
            result = simulate(stages_of(parts), events, data())
            expected.append((initial, parts, result.losses))
    got = run_distributed(jobs, timeout_s=60)
    for (initial, single, losses), (multi, multi_losses) in zip(expected, got):
        assert multi_losses == losses
        for a, b, init in zip(single, multi, initial):
            ta, tb, t0 = stage_tensors(a), stage_tensors(b), stage_tensors(init)
            assert ta.keys() == tb.keys()
            for key in ta:
                assert torch.equal(ta[key], tb[key]), key
            # the runs trained: every analog layer's arrays moved from their initial values
            # (Tiki-Taka's C may see no transfer pulse in so few steps; its A tile moves)
            layers = {k.rsplit(".", 1)[0] for k in ta if k.endswith(".weight")}
            assert all(any(not torch.equal(ta[k], t0[k]) for k in ta
                           if k.startswith(f"{layer}.") and not k.endswith(".bias"))
                       for layer in layers)
    assert multiprocessing.active_children() == []


def test_schedules_train_differently():
    """The asynchronous run's staleness shows in its weights (else the test above could pass
    with a schedule that is ignored)."""
    finals = []
    for schedule in ("sync", "async"):
        parts = split_stages(small_model("analog_sgd"), L)
        simulate(stages_of(parts), timeline(schedule, L, M, STEPS), data())
        finals.append(stage_tensors(parts[0])["1.weight"])
    assert not torch.equal(*finals)


def test_a_stage_process_that_dies_stops_the_run_naming_it():
    events = timeline("async", L, M, STEPS)
    job = PipelineJob(split_stages(small_model("analog_sgd"), L), events, data(), LR, LR)
    start = time.monotonic()
    with pytest.raises(PipelineStageError, match=r"pipeline stage 1 of 3 .* died with exit code 17"
                       ) as info:
        run_distributed([job], timeout_s=600, die=(1, 0, 2))
    assert info.value.stage == 1
    # a hang guard, not a speed test (starting three processes takes 5-30 s on a loaded
    # machine): unless the parent stops them, the neighbours wait 600 s for stage 1
    assert time.monotonic() - start < 150
    assert multiprocessing.active_children() == []


def test_a_stage_that_raises_is_named_with_its_error():
    events = timeline("sync", L, M, STEPS)
    batches = data()
    bad = MicroBatches(batches.x, batches.y + 100, batches.index)   # labels beyond the classes
    job = PipelineJob(split_stages(small_model("analog_sgd"), L), events, bad, LR, LR)
    with pytest.raises(PipelineStageError, match="pipeline stage 2 of 3 failed: .*out of bounds"):
        run_distributed([job], timeout_s=120)
    assert multiprocessing.active_children() == []
