"""The bookkeeping of benchmarks/bench_profile.py: exclusive stage times, the transfer group,
the patches undone, absent stages reported n/a. Times come from a fake clock that advances only
inside the functions, so every expected total is exact (compared with ==, or to the rounding
of the stored 4-decimal fractions)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import bench_profile as bp

from analogsgd.crossbar import pulse_trains, tile
from analogsgd.optim.sgd import AnalogSGD
from analogsgd.optim.tiki_taka import TikiTaka


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock_and_profiler():
    clock = FakeClock()
    return clock, bp.Profiler(wall=clock, cpu=clock)


def test_nested_stages_are_exclusive(clock_and_profiler):
    clock, prof = clock_and_profiler
    inner = prof.wrap(lambda: clock.advance(10.0), "batch_moments")

    def outer_body():
        clock.advance(1.0)
        inner()
        clock.advance(2.0)
    outer = prof.wrap(outer_body, "optimizer")
    outer()
    outer()
    inner()
    assert prof.totals["optimizer"] == [6.0, 6.0, 2]       # 1 + 2 per call, callee left out
    assert prof.totals["batch_moments"] == [30.0, 30.0, 3]
    assert prof.stack == []


def test_calls_inside_the_transfer_are_kept_apart(clock_and_profiler):
    clock, prof = clock_and_profiler
    probs = prof.wrap(lambda: clock.advance(3.0), "pulse_probabilities")

    def transfer_body():
        clock.advance(0.5)
        probs()
    transfer = prof.wrap(transfer_body, "transfer")
    transfer()
    probs()
    assert prof.totals["transfer"] == [0.5, 0.5, 1]
    assert prof.totals["transfer/pulse_probabilities"] == [3.0, 3.0, 1]
    assert prof.totals["pulse_probabilities"] == [3.0, 3.0, 1]


def test_a_raising_stage_leaves_no_open_frame(clock_and_profiler):
    _, prof = clock_and_profiler

    def fail():
        raise RuntimeError("inside a stage")
    with pytest.raises(RuntimeError):
        prof.wrap(fail, "check_update")()
    assert prof.stack == [] and prof.totals["check_update"][2] == 1


def test_analog_mvm_is_split_by_direction(clock_and_profiler):
    clock, prof = clock_and_profiler
    read = prof.wrap(lambda *a, **k: clock.advance(1.0), bp._read_direction)
    read(None, None, None, None)
    read(None, None, None, None, direction="backward")
    read(None, None, None, None, "backward")
    assert prof.totals["forward_read"][2] == 1 and prof.totals["backward_read"][2] == 2


def test_wrapped_patches_every_reference_and_undoes_them(clock_and_profiler):
    _, prof = clock_and_profiler
    probs, check, transfer = (pulse_trains.pulse_probabilities, tile.AnalogTile._check_update,
                              TikiTaka.transfer)
    assert tile.pulse_probabilities is probs   # the name tile.py imported
    with bp.wrapped(prof, (TikiTaka,)) as sources:
        assert pulse_trains.pulse_probabilities is not probs
        assert tile.pulse_probabilities is pulse_trains.pulse_probabilities
        assert tile.pulse_probabilities.__wrapped__ is probs
        assert tile.AnalogTile._check_update.__wrapped__ is check
        assert TikiTaka.transfer.__wrapped__ is transfer
        assert not sources["transfer"].startswith("n/a")
    assert pulse_trains.pulse_probabilities is probs and tile.pulse_probabilities is probs
    assert tile.AnalogTile._check_update is check and TikiTaka.transfer is transfer
    assert "transfer" not in vars(AnalogSGD)


def test_absent_stages_are_reported_n_a(clock_and_profiler, monkeypatch):
    _, prof = clock_and_profiler
    monkeypatch.setattr(bp, "STAGES", bp.STAGES + (
        ("gone", "a removed function", "analogsgd.crossbar.fused:no_such_function"),
        ("gone_module", "a removed module", "analogsgd.no_such_module:f")))
    with bp.wrapped(prof, (AnalogSGD,)) as sources:
        pass
    for key in ("gone", "gone_module", "transfer"):
        assert sources[key].startswith("n/a"), (key, sources[key])
    rows = bp._rows({"autograd_rest": [1.0, 1.0, 1]}, 1, sources)
    assert rows["gone"]["ms"] is None and rows["gone"]["note"].startswith("n/a")
    assert rows["apply_outer"]["note"] == "not called"


def test_fractions_add_up_to_the_step():
    totals = {"autograd_rest": [0.3, 0.2, 4], "forward_read": [0.5, 0.4, 8],
              "transfer": [0.1, 0.1, 4], "transfer/forward_read": [0.7, 0.6, 8]}
    rows = bp._rows(totals, 4, {})
    measured = [r for r in rows.values() if r["ms"] is not None]
    assert len(measured) == 4
    # each fraction is rounded to 4 decimals: the sum is within 4 × 0.5e-4 of 1
    assert sum(r["fraction"] for r in measured) == pytest.approx(1.0, abs=2e-4)
    assert rows["transfer/forward_read"]["ms"] == pytest.approx(1e3 * 0.7 / 4)
    assert rows["transfer/forward_read"]["label"].startswith("transfer › ")
