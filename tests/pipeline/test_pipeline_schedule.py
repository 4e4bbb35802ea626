"""The schedules' timelines against their closed forms (exact integers: no tolerance)."""

import pytest

from analogsgd.errors import ConfigError
from analogsgd.pipeline import (
    async_staleness,
    async_timeline,
    async_total_cycles,
    check_timeline,
    sync_bubble_fraction,
    sync_step_cycles,
    sync_timeline,
    timeline,
    timeline_stats,
    versions_seen,
)

SHAPES = [(1, 1), (1, 4), (2, 1), (2, 3), (3, 4), (4, 4), (4, 8), (5, 2)]


@pytest.mark.parametrize("L,M", SHAPES)
def test_sync_step_is_forward_and_backward_halves_of_m_plus_l_minus_1_and_m_updates(L, M):
    events = sync_timeline(L, M, steps=3)
    check_timeline(events, L)
    period = sync_step_cycles(L, M)
    assert period == 2 * (M + L - 1) + M
    for k in range(3):
        step = [e for e in events if k * period <= e.cycle < (k + 1) * period]
        fwd = {e.cycle for e in step if e.op == "F"}
        bwd = {e.cycle for e in step if e.op == "B"}
        upd = {e.cycle for e in step if e.op == "U"}
        # the forward half: M + L − 1 consecutive cycles, then as many backward cycles
        assert fwd == set(range(k * period, k * period + M + L - 1))
        assert bwd == set(range(k * period + M + L - 1, k * period + 2 * (M + L - 1)))
        assert max(upd) == (k + 1) * period - 1          # stage 0's M-th update ends the step
        assert len(step) == 3 * M * L                    # F, B, U of M micro-batches per stage
    stats = timeline_stats(events, L)
    assert stats.cycles == 3 * period
    assert stats.bubble_fraction == pytest.approx(sync_bubble_fraction(L, M), abs=1e-12)
    assert stats.samples_per_cycle(10) == pytest.approx(10 * M / period, abs=1e-12)


@pytest.mark.parametrize("L,M", SHAPES)
def test_sync_every_micro_batch_of_a_step_sees_the_same_weights(L, M):
    events = sync_timeline(L, M, steps=2)
    seen = versions_seen(events, L)
    for (s, op, m), version in seen.items():
        step = m // M
        if op in ("F", "B"):   # forwards and backwards read the weights of the step's start
            assert version == step * M, (s, op, m)
        else:                  # the step's updates are written one after the other
            assert version == step * M + m % M
    assert all(st == (0, 0, 0.0) for st in timeline_stats(events, L).staleness)


@pytest.mark.parametrize("L,N", [(1, 1), (1, 5), (2, 1), (2, 7), (3, 2), (3, 20), (4, 3),
                                 (4, 50), (6, 40)])
def test_async_cycles_and_per_micro_batch_staleness_match_the_closed_form(L, N):
    events = async_timeline(L, N)
    check_timeline(events, L)
    stats = timeline_stats(events, L)
    assert stats.cycles == async_total_cycles(L, N) == 3 * N + 2 * (L - 1)
    assert stats.micro_batches == N
    seen = versions_seen(events, L)
    for s in range(L):
        for m in range(N):
            gap = seen[(s, "B", m)] - seen[(s, "F", m)]
            assert gap == async_staleness(L, s, m) == min(m, L - 1 - s)
            # the update with m's gradient follows its backward pass with no update between
            assert seen[(s, "U", m)] == seen[(s, "B", m)]
        assert stats.staleness[s][1] == (async_staleness(L, s) if N > L - 1 - s else N - 1)


@pytest.mark.parametrize("L", [2, 3, 4, 5])
def test_async_has_no_bubble_after_the_fill(L):
    N = 30
    events = async_timeline(L, N)
    busy = {(e.cycle, e.stage) for e in events}
    fill = 2 * (L - 1)
    # stage s idles only during the fill (waiting for its first error) and the drain
    for s in range(L):
        first_b = min(e.cycle for e in events if e.stage == s and e.op == "B")
        last_f = max(e.cycle for e in events if e.stage == s and e.op == "F")
        assert all((c, s) in busy for c in range(first_b, last_f + 1))
    assert sum((c, 0) in busy for c in range(3 * N + fill)) == 3 * N
    # and it beats the synchronous schedule's cycles per micro-batch for every M
    for M in (1, 2, 4, 8):
        assert async_total_cycles(L, N) / N < sync_step_cycles(L, M) / M


def test_timeline_names_a_bad_schedule_or_size():
    with pytest.raises(ConfigError, match="pipeline.schedule"):
        timeline("gpipe", 2, 2, 1)
    with pytest.raises(ConfigError, match="pipeline.n_stages"):
        timeline("sync", 0, 2, 1)
    with pytest.raises(ConfigError, match="pipeline.micro_batches"):
        timeline("async", 2, 1.5, 1)


def test_check_timeline_rejects_a_backward_before_its_forward():
    events = sync_timeline(2, 2, 1)
    bad = [e if not (e.op == "B" and e.stage == 1 and e.micro_batch == 0)
           else type(e)(0, 1, "B", 0) for e in events]
    bad = [e for e in bad if not (e.cycle == 0 and e.stage == 1 and e.op != "B")]
    with pytest.raises(ValueError, match="before F"):
        check_timeline(bad, 2)
