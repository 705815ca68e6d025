"""A point's timed batches as repeats: when there are enough, p50 and spread; when not, too_short and why."""

from __future__ import annotations

import statistics

import pytest

from runner.bench.repeats import Minimum, split_repeats, summarize
from runner.bench.stats import BatchRecorder


def calls(seconds: list[float], rows: int = 4, tokens: int = 0) -> list[tuple]:
    return [(s, rows, tokens) for s in seconds]


def test_enough_batches_split_into_equal_consecutive_repeats():
    minimum = Minimum(repeats=3, batches=2, seconds=0.0)
    parts = split_repeats(calls([0.1] * 7), minimum)
    assert [len(p) for p in parts] == [2, 3, 2]  # 7/3 rounded at each bound, consecutive, none dropped
    assert split_repeats(calls([0.1] * 5), minimum) is None  # 3 repeats x 2 batches need 6


def test_each_repeat_must_hold_the_minimum_seconds():
    minimum = Minimum(repeats=2, batches=1, seconds=1.0)
    assert split_repeats(calls([0.6, 0.6, 0.6, 0.6]), minimum) is not None
    assert split_repeats(calls([0.6, 0.6, 0.3, 0.3]), minimum) is None  # the second repeat holds 0.6 s


def test_summary_gives_p50_min_max_and_spread_of_the_repeats():
    # three repeats of 2 batches of 4 rows: 8 rows in 0.4 s, 0.2 s and 0.8 s -> 20, 40 and 10 items/s
    summary = summarize(calls([0.2, 0.2, 0.1, 0.1, 0.4, 0.4], tokens=6), Minimum(3, 2, 0.1), passes=2)
    rates = summary["items_per_second"]
    assert summary["status"] == "ok" and summary["passes"] == 2 and summary["batches"] == 6
    assert rates["repeats"] == [20.0, 40.0, 10.0]
    assert rates["p50"] == statistics.median([20, 40, 10]) == 20.0
    assert (rates["min"], rates["max"]) == (10.0, 40.0)
    assert rates["spread"] == pytest.approx((40 - 10) / 20)
    assert summary["tokens_per_second"]["p50"] == 30.0  # 12 tokens in 0.4 s


def test_too_few_batches_are_too_short_with_the_reason():
    summary = summarize(calls([0.1] * 4), Minimum(3, 5, 0.5), passes=1, cut_short_by="bench.max_rows ended it")
    assert summary["status"] == "too_short" and "items_per_second" not in summary
    assert "4 timed batches" in summary["reason"] and "3 repeats of at least 5 batches and 0.5 s" in summary["reason"]
    assert summary["reason"].endswith("(bench.max_rows ended it)")


def test_the_recorder_keeps_each_measured_call_in_order():
    recorder = BatchRecorder(warmup_calls=1)
    for seconds, rows in [(9.0, 2), (0.5, 2), (0.25, 1)]:
        recorder.record(seconds, rows, count_tokens=lambda: 3)
    assert recorder.calls == [(0.5, 2, 3), (0.25, 1, 3)]  # the warm-up call is in no figure
