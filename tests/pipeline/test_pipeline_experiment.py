"""The ``pipeline`` experiment: a tiny run end to end, the promised metrics, the target and
speed-up arithmetic, evaluation that leaves training untouched, and a multi-process check that
reports false when one number differs.

The tiny run keeps the multi-process check off (it spawns processes; the exact agreement of the
two executions is tested in test_pipeline_execution.py); the check's verdict logic is tested here
with a stand-in for ``run_distributed``.
"""

from __future__ import annotations

import copy
import json

import pytest
import torch

from analogsgd.cli import main
from analogsgd.experiments import _pipeline_train, get_experiment
from analogsgd.experiments._pipeline_study import first_reaching, target_accuracy
from analogsgd.experiments._pipeline_train import PipelineUnit, build_stage_modules, train_unit
from analogsgd.experiments.pipeline import PipelineConfig
from analogsgd.nn.convert import analog_layers
from analogsgd.pipeline import Stage, simulate, stage_tensors, sync_step_cycles, timeline

TINY = {"datasets": "digits", "n_seeds": 1, "digits_epochs": 1, "eval_every_steps": 4,
        "multiprocess_check": "false", "n_stages": 3, "hidden": "16,12"}


def tiny_config(**changes) -> PipelineConfig:
    return PipelineConfig(datasets=("digits",), n_seeds=1, digits_epochs=1, eval_every_steps=4,
                          multiprocess_check=False, n_stages=3, hidden=(16, 12), check_steps=1,
                          **changes)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("pipeline")
    args = [a for k, v in TINY.items() for a in ("--set", f"{k}={v}")]
    assert main(["run", "pipeline", "--quick", "--out", str(out), "--no-progress", *args]) == 0
    return out


def test_run_writes_the_promised_metrics(run_dir):
    for name in ("config.json", "metrics.json", "report.md", "figures/pipeline_timeline.png",
                 "figures/pipeline_accuracy.png", "curves/pipeline_curves.csv"):
        assert (run_dir / name).is_file(), name
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for schedule in ("sync", "async"):
        for rule in ("analog_sgd", "tiki_taka"):
            r = metrics["results"]["digits"][schedule][rule]
            assert 0 <= r["final_accuracy_pct"]["mean"] <= 100
            assert "cycles_to_target" in r and "samples_to_target" in r
            assert metrics["multiprocess_matches_single_process"][schedule][rule] is None
    assert set(metrics["async_cycle_speedup"]["digits"]) == {"analog_sgd", "tiki_taka"}
    # the same budget of samples costs the closed-form cycles under each schedule
    steps = metrics["summary"]["datasets"]["digits"]["steps"]
    sync = metrics["results"]["digits"]["sync"]["analog_sgd"]
    asyn = metrics["results"]["digits"]["async"]["analog_sgd"]
    assert sync["total_cycles"] == steps * sync_step_cycles(3, 4)
    assert asyn["total_cycles"] == 3 * 4 * steps + 2 * (3 - 1)
    assert sync["samples"] == asyn["samples"] == steps * 4 * 10
    acc = metrics["cycle_accounting"]
    assert acc["sync"]["cycles"] == acc["sync"]["cycles_closed_form"]
    assert acc["async"]["staleness_steady_per_stage"] == [2, 1, 0]


def test_quick_config_is_a_reduction_of_the_full_one():
    exp = get_experiment("pipeline")
    quick, full = exp.config(quick=True), exp.config()
    assert quick.n_seeds == 2 and full.n_seeds == 3 and quick.n_stages == full.n_stages == 4
    assert quick.digits_epochs < full.digits_epochs and quick.fmnist_n_train < full.fmnist_n_train
    assert quick.fmnist_epochs <= full.fmnist_epochs
    assert set(quick.datasets) == {"digits", "fashion-mnist"}


def test_each_dataset_trains_for_its_own_epochs():
    cfg = PipelineConfig(digits_epochs=7, fmnist_epochs=3, micro_batches=4, micro_batch_size=10)
    assert cfg.steps("digits", 1348) == 7 * 134 // 4
    assert cfg.steps("fashion-mnist", 2000) == 3 * 200 // 4
    assert cfg.network("fashion-mnist").epochs == 3 and cfg.network("digits").epochs == 7


def test_config_refuses_more_stages_than_layers():
    with pytest.raises(Exception, match="PipelineConfig.n_stages"):
        PipelineConfig(hidden=(16,), n_stages=3)


def test_target_lies_between_the_initial_and_the_lower_final_accuracy():
    assert target_accuracy(10.0, [80.0, 60.0], 0.9) == pytest.approx(10 + 0.9 * 50)
    assert target_accuracy(10.0, [80.0, 10.5], 0.9) is None      # nothing learned
    assert first_reaching([0, 5, 10], [10.0, 50.0, 70.0], 55.0) == 10.0
    assert first_reaching([0, 5, 10], [10.0, 50.0, 70.0], 75.0) is None


@pytest.mark.parametrize("schedule", ["sync", "async"])
def test_evaluating_the_test_set_leaves_training_unchanged(schedule):
    """Test reads draw read noise; the generators are restored, so an evaluated run ends with
    the weights of one that is never evaluated."""
    from analogsgd.datasets import load

    cfg = tiny_config()
    data = load("digits")
    net = cfg.network("digits")
    unit = PipelineUnit("digits", "tiki_taka", schedule, 0, 5)
    built = []       # the stages train_unit builds (from the unit's seed), evaluated every 4 steps
    orig = _pipeline_train.build_stage_modules

    def capture(*args):
        built.append(orig(*args))
        return built[-1]

    _pipeline_train.build_stage_modules = capture
    try:
        train_unit(cfg, net, unit, data)
    finally:
        _pipeline_train.build_stage_modules = orig
    parts = build_stage_modules(net, data, "tiki_taka", cfg.tau, 3, 5)
    batches = _pipeline_train.unit_batches(data, 10, cfg.steps("digits", data.train_x.shape[0]) * 4, 5)
    write_lr, digital_lr = _pipeline_train.rates(net, "tiki_taka")
    simulate([Stage(i, 3, p, write_lr, digital_lr) for i, p in enumerate(parts)],
             timeline(schedule, 3, 4, cfg.steps("digits", data.train_x.shape[0])), batches)
    for evaluated, plain in zip(built[0], parts):
        a, b = stage_tensors(evaluated), stage_tensors(plain)
        assert all(torch.equal(a[k], b[k]) for k in a)
        ga = [t.generator.get_state() for _, m in analog_layers(evaluated) for t in m.rule.tiles]
        gb = [t.generator.get_state() for _, m in analog_layers(plain) for t in m.rule.tiles]
        assert all(torch.equal(x, y) for x, y in zip(ga, gb))


def test_multiprocess_check_is_true_only_for_identical_weights(monkeypatch):
    from analogsgd.datasets import load

    cfg = tiny_config(rules=("analog_sgd",), schedules=("async",))
    data = load("digits")

    def in_process(jobs, timeout_s):      # what the stage processes would return, exactly
        out = []
        for job in jobs:
            parts = copy.deepcopy(list(job.stage_modules))
            simulate([Stage(i, len(parts), p, job.write_lr, job.digital_lr)
                      for i, p in enumerate(parts)], job.events, job.batches)
            out.append((parts, {}))
        return out

    monkeypatch.setattr(_pipeline_train, "run_distributed", in_process)
    studies = [("digits", cfg.network("digits"), data)]
    assert _pipeline_train.multiprocess_check(cfg, studies, 3) == {"digits": {"async": {
        "analog_sgd": True}}}

    def one_bit_off(jobs, timeout_s):
        out = in_process(jobs, timeout_s)
        layer = next(analog_layers(out[0][0][1]))[1]
        w = layer.rule.tile.weight.clone()
        w[0, 0] = torch.nextafter(w[0, 0], torch.tensor(1.0))
        layer.rule.tile.set_weight(w)
        return out

    monkeypatch.setattr(_pipeline_train, "run_distributed", one_bit_off)
    assert _pipeline_train.multiprocess_check(cfg, studies, 3) == {"digits": {"async": {
        "analog_sgd": False}}}
