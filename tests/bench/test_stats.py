"""Latency percentiles against the standard library's quantiles, and the warm-up/budget recorder."""

from __future__ import annotations

import random
import statistics

import pytest

from runner.bench.stats import BatchRecorder, Timer, latency_summary


def test_percentiles_match_statistics_quantiles():
    rng = random.Random(0)
    seconds = [rng.uniform(0.001, 0.2) for _ in range(37)]
    summary = latency_summary(seconds)
    cuts = statistics.quantiles([s * 1000 for s in seconds], n=100, method="inclusive")
    assert summary["p50"] == pytest.approx(cuts[49], abs=1e-3)
    assert summary["p90"] == pytest.approx(cuts[89], abs=1e-3)
    assert summary["p99"] == pytest.approx(cuts[98], abs=1e-3)
    assert summary["mean"] == pytest.approx(statistics.fmean(seconds) * 1000, abs=1e-3)
    assert summary["count"] == 37
    assert summary["p50"] <= summary["p90"] <= summary["p99"]


def test_no_batches_and_one_batch():
    assert latency_summary([]) is None
    one = latency_summary([0.25])
    assert one["p50"] == one["p90"] == one["p99"] == 250.0


def test_warmup_calls_are_left_out():
    recorder = BatchRecorder(warmup_calls=2)
    for seconds, rows in [(5.0, 4), (3.0, 4), (0.5, 4), (0.5, 4), (1.0, 8)]:
        recorder.record(seconds, rows, count_tokens=lambda rows=rows: rows * 10)
    assert (recorder.calls_seen, len(recorder.latencies), recorder.rows) == (5, 3, 16)
    assert recorder.items_per_second == pytest.approx(16 / 2.0)
    assert recorder.tokens_per_second == pytest.approx(160 / 2.0)
    assert recorder.latency_ms["p50"] == 500.0


def test_tokens_are_counted_for_measured_calls_only():
    counted = []
    recorder = BatchRecorder(warmup_calls=1)
    recorder.record(1.0, 2, count_tokens=lambda: counted.append("warm-up") or 5)
    recorder.record(1.0, 2, count_tokens=lambda: counted.append("measured") or 7)
    assert counted == ["measured"] and recorder.tokens == 7


def test_a_call_of_several_batches_keeps_no_latency():
    recorder = BatchRecorder()
    recorder.record(2.0, 10, one_batch=False)
    assert recorder.latency_ms is None
    assert (recorder.rows, recorder.seconds, recorder.items_per_second) == (10, 2.0, 5.0)
    assert recorder.tokens_per_second is None  # nothing counted


def test_budget_in_rows_or_seconds():
    by_rows = BatchRecorder(warmup_calls=1, max_rows=10)
    by_rows.record(1.0, 100)  # warm-up: does not count towards the budget
    assert by_rows.warming_up is False and not by_rows.done
    by_rows.record(0.1, 6)
    assert not by_rows.done
    by_rows.record(0.1, 6)
    assert by_rows.done

    # The time budget is wall clock since the first measured call started, not the calls' sum.
    now = [100.0]
    by_time = BatchRecorder(max_seconds=1.0, clock=lambda: now[0])
    assert not by_time.done  # nothing measured yet
    by_time.record(0.25, 1)  # started at 99.75
    now[0] = 100.5
    assert not by_time.done
    now[0] = 100.75
    assert by_time.done


def test_timer_uses_the_given_clock():
    ticks = iter([10.0, 12.5])
    with Timer(clock=lambda: next(ticks)) as timer:
        pass
    assert timer.seconds == 2.5
