"""batch_size=auto's search: results and trial counts for several OOM thresholds and maxima, the
fault injection driving it, worst-case trial batches, and a comparison with accelerate."""

from __future__ import annotations

import math

import pytest

from runner.bench.autobatch import (
    PATIENCE,
    PLATEAU_GAIN,
    candidates_between,
    input_size,
    longest_rows,
    search_batch_size,
    worst_case_batch,
)
from runner.bench.oom import INJECT_ENV, check_injected_oom


def ticking():
    """A clock that moves one second per reading: every trial takes 1 s, so items/s grows with the
    size and the throughput plateau never ends the growing (the OOM rule alone decides)."""
    ticks = iter(range(10**6))
    return lambda: float(next(ticks))


def search(limit: int | None, max_batch_size: int):
    """Search with an OOM for any batch above `limit` (None: nothing runs out of memory)."""
    return search_batch_size(
        lambda n: check_injected_oom(n, limit if limit is not None else 10**9), max_batch_size, clock=ticking()
    )


def sizes(result) -> list[int]:
    return [trial["batch_size"] for trial in result.trials]


def expected_by_rule(limit: int, max_batch_size: int) -> int | None:
    """The documented answer: max when it fits, else the largest fitting size among 1..7 and multiples of 8."""
    if limit >= max_batch_size:
        return max_batch_size
    fitting = [s for s in range(1, limit + 1) if s < 8 or s % 8 == 0]
    return max(fitting) if fitting else None


@pytest.mark.parametrize("max_batch_size", [64, 512])
def test_oom_above_24_settles_on_24_within_log2_max_plus_2(max_batch_size):
    result = search(24, max_batch_size)
    assert result.batch_size == 24
    assert sizes(result) == [1, 2, 4, 8, 16, 32, 24]
    assert len(result.trials) <= math.log2(max_batch_size) + 2
    assert [t["status"] for t in result.trials] == ["ok"] * 5 + ["oom", "ok"]
    assert "injected" in result.trials[5]["error"] and result.trials[0]["error"] is None


@pytest.mark.parametrize(
    "limit,max_batch_size",
    [
        (0, 64),
        (1, 64),
        (3, 64),
        (6, 64),
        (12, 64),
        (31, 64),
        (40, 64),
        (63, 64),
        (64, 64),
        (1000, 64),
        (97, 100),
        (100, 100),
        (300, 512),
        (511, 512),
        (5, 6),
        (10, 12),
        (1, 1),
    ],
)
def test_results_follow_the_documented_rule_within_the_trial_bound(limit, max_batch_size):
    result = search(limit, max_batch_size)
    assert result.batch_size == expected_by_rule(limit, max_batch_size)
    assert len(result.trials) <= max(1, 2 * math.ceil(math.log2(max_batch_size)))
    assert max(sizes(result)) <= max_batch_size
    ok = [t["batch_size"] for t in result.trials if t["status"] == "ok"]
    oom = [t["batch_size"] for t in result.trials if t["status"] == "oom"]
    assert all(s <= limit for s in ok) and all(s > limit for s in oom)


def test_the_maximum_is_tried_as_is_when_doubling_overshoots_it():
    result = search(None, 100)
    assert (result.batch_size, sizes(result)) == (100, [1, 2, 4, 8, 16, 32, 64, 100])


def test_driven_by_the_environment_variable(monkeypatch):
    monkeypatch.setenv(INJECT_ENV, "24")
    assert search_batch_size(check_injected_oom, 128, clock=ticking()).batch_size == 24


def test_real_out_of_memory_messages_count_as_oom():
    def try_batch(n):
        if n > 8:
            raise RuntimeError("CUDA out of memory. Tried to allocate 4.00 GiB")

    assert search_batch_size(try_batch, 64, clock=ticking()).batch_size == 8


def test_other_errors_propagate():
    def try_batch(n):
        if n == 4:
            raise ValueError("tokenizer failed")

    with pytest.raises(ValueError, match="tokenizer failed"):
        search_batch_size(try_batch, 64)


def test_trial_seconds_come_from_the_clock():
    ticks = iter(range(100))
    result = search_batch_size(lambda n: check_injected_oom(n, 2), 4, clock=lambda: float(next(ticks)))
    assert [(t["batch_size"], t["seconds"]) for t in result.trials] == [(1, 1.0), (2, 1.0), (4, 1.0), (3, 1.0)]
    assert result.to_json() == {"batch_size": 2, "stopped_by": "oom", "trials": result.trials}
    assert [t["items_per_second"] for t in result.trials] == [1.0, 2.0, None, None]


def test_max_batch_size_must_be_positive():
    with pytest.raises(ValueError):
        search_batch_size(lambda n: None, 0)


def test_candidates():
    assert candidates_between(4, 8) == [5, 6, 7]
    assert candidates_between(8, 16) == []
    assert candidates_between(16, 64) == [24, 32, 40, 48, 56]
    assert candidates_between(64, 100) == [72, 80, 88, 96]


def test_trials_use_the_longest_rows_not_the_first_batch():
    """Memory grows with batch size x longest row: probing the first (short) rows would pick a size
    that runs out of memory on the long rows further down the data."""
    rows = ["short text"] * 40 + ["a much longer review " * 20] + ["medium length text here"] * 20
    budget = 4000  # characters per batch that fit

    def try_batch_on(sample):
        def try_batch(n):
            batch = worst_case_batch(sample, n)
            check_injected_oom(n * max(len(r) for r in batch) // 10, budget // 10)

        return try_batch

    worst = longest_rows(rows, len, k=4)
    assert worst[0] == rows[40]
    safe = search_batch_size(try_batch_on(worst), 64, clock=ticking()).batch_size
    naive = search_batch_size(try_batch_on(rows[:4]), 64, clock=ticking()).batch_size
    assert safe * len(rows[40]) <= budget < naive * len(rows[40])


def test_longest_rows_with_a_length_function_and_input_size():
    import numpy as np
    from PIL import Image

    audio = [{"raw": np.zeros(n, dtype=np.float32), "sampling_rate": 16000} for n in (800, 16000, 3200)]
    assert [input_size(a) for a in longest_rows(audio, input_size, 2)] == [16000, 3200]
    assert input_size(Image.new("RGB", (40, 30))) == 1200
    assert input_size({"question": "why?", "context": "because"}) == 11
    assert input_size(["ab", "cde"]) == 5 and input_size(None) == 0
    assert longest_rows(["bb", "a", "cc"], len, 2) == ["bb", "cc"]  # ties keep input order
    assert worst_case_batch(["x", "y"], 5) == ["x", "y", "x", "y", "x"]
    with pytest.raises(ValueError):
        worst_case_batch([], 2)


def test_accelerate_settles_lower_for_the_same_threshold():
    """accelerate's find_executable_batch_size starts at a size and shrinks it after each OOM
    (x0.9 in accelerate 1.x, halving before): from 64 with OOM above 24 it ends below our 24."""
    from accelerate.utils import find_executable_batch_size

    def run_accelerate(halve: bool):
        tried = []

        def train(batch_size):
            tried.append(batch_size)
            check_injected_oom(batch_size, 24)
            return batch_size

        def halving():
            return tried[-1] // 2

        reduce = halving if halve else None  # None: accelerate's own rule
        found = find_executable_batch_size(train, starting_batch_size=64, reduce_batch_size_fn=reduce)()
        return found, tried

    ours = search(24, 64)
    default_found, default_tried = run_accelerate(halve=False)
    halved_found, halved_tried = run_accelerate(halve=True)
    assert halved_tried == [64, 32, 16] and halved_found == 16
    assert default_found < ours.batch_size == 24 and halved_found < ours.batch_size
    assert len(default_tried) > len(ours.trials)


def plateau_clock(seconds_per_batch):
    """A fake clock for a model whose batch of n takes seconds_per_batch(n): try_batch advances it."""
    now = [0.0]

    def try_batch(n: int) -> None:
        now[0] += seconds_per_batch(n)

    return try_batch, lambda: now[0]


def test_growing_stops_once_throughput_stops_improving():
    # items/s doubles with the size up to 16 (cores left idle by small batches), then stays flat
    try_batch, clock = plateau_clock(lambda n: n / (50.0 * min(n, 16)))
    result = search_batch_size(try_batch, 512, clock=clock)
    rates = {t["batch_size"]: t["items_per_second"] for t in result.trials}
    assert result.stopped_by == "plateau"
    assert result.batch_size == 16 and list(rates) == [1, 2, 4, 8, 16, 32, 64]
    # the answer is the best size that beat its predecessor by more than PLATEAU_GAIN
    assert rates[result.batch_size] * (1 + PLATEAU_GAIN) >= max(rates.values())
    bigger = [rate for size, rate in rates.items() if size > result.batch_size]
    assert len(bigger) == PATIENCE and all(rate <= rates[result.batch_size] * (1 + PLATEAU_GAIN) for rate in bigger)


def test_without_the_plateau_rule_it_grows_until_memory_runs_out():
    try_batch, clock = plateau_clock(lambda n: n / (50.0 * min(n, 16)))  # flat past 16, as above
    result = search_batch_size(lambda n: (check_injected_oom(n, 40), try_batch(n)), 512, clock=clock, plateau=False)
    assert result.batch_size == 40 and result.stopped_by == "oom"  # bench.auto_until=memory


def test_throughput_that_keeps_improving_grows_to_the_maximum():
    try_batch, clock = plateau_clock(lambda n: 1.0)  # a call costs the same at any size
    result = search_batch_size(try_batch, 200, clock=clock)
    assert result.batch_size == 200 and result.stopped_by == "max_batch_size"
    assert [t["batch_size"] for t in result.trials] == [1, 2, 4, 8, 16, 32, 64, 128, 200]


def test_a_fitting_size_is_timed_on_its_second_run():
    calls = []
    now = [0.0]

    def try_batch(n: int) -> None:
        calls.append(n)
        now[0] += 5.0 if calls.count(n) == 1 else 1.0  # the first call at a size pays for allocations

    result = search_batch_size(try_batch, 2, clock=lambda: now[0])
    assert calls == [1, 1, 2, 2]
    assert [(t["seconds"], t["items_per_second"]) for t in result.trials] == [(1.0, 1.0), (1.0, 2.0)]
