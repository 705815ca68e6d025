"""Per-batch timing: warm-up calls excluded, a row or time budget, throughput and latency percentiles.

The engine times every pipeline call of a step through one `BatchRecorder`."""

from __future__ import annotations

import time
from typing import Callable, Sequence


def latency_summary(seconds: Sequence[float]) -> dict | None:
    """{"p50", "p90", "p99", "mean"} in milliseconds plus "count", or None for no batches.
    Percentiles interpolate linearly between measured batches (numpy's default)."""
    if not seconds:
        return None
    import numpy as np

    ms = np.asarray(seconds, dtype=float) * 1000.0
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return {
        "p50": round(float(p50), 3),
        "p90": round(float(p90), 3),
        "p99": round(float(p99), 3),
        "mean": round(float(ms.mean()), 3),
        "count": int(ms.size),
    }


def now() -> float:
    """The clock every Timer reads by default (a test swaps this function for a fake clock)."""
    return time.perf_counter()


class Timer:
    """`with Timer() as t: ...` then t.seconds (wall clock, perf_counter); set even when the body raises."""

    def __init__(self, clock: Callable[[], float] | None = None):
        self._clock = clock or (lambda: now())  # looked up at each use: see now()
        self._started = 0.0
        self.seconds = 0.0

    def __enter__(self) -> "Timer":
        self._started = self._clock()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = self._clock() - self._started


class BatchRecorder:
    """Records the pipeline calls of one step: (seconds, rows, tokens) per call.

    The first `warmup_calls` calls are timed but left out of every figure (first calls pay for lazy
    init, kernel selection, caches). A call is one batch in benchmark mode; outside it, a call covers
    a chunk of several batches, and then no latency is kept for it (`one_batch=False`).
    `done` turns true once the measured rows reach `max_rows`, or once `max_seconds` of wall clock
    have passed since the first measured call started (either, when both are set)."""

    def __init__(
        self,
        warmup_calls: int = 0,
        max_rows: int | None = None,
        max_seconds: float | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ):
        if warmup_calls < 0:
            raise ValueError("warmup_calls must be >= 0")
        self.warmup_calls = warmup_calls
        self.max_rows = max_rows
        self.max_seconds = max_seconds
        self._clock = clock
        self.calls_seen = 0
        self.latencies: list[float] = []  # seconds per measured batch (one_batch calls only)
        self.calls: list[tuple[float, int, int]] = []  # (seconds, rows, tokens) per measured call, in order
        self.rows = 0
        self.tokens = 0
        self.seconds = 0.0  # the measured calls' time, summed
        self.measuring_since: float | None = None  # when the first measured call started

    def record(
        self, seconds: float, rows: int, one_batch: bool = True, count_tokens: Callable[[], int] | None = None
    ) -> None:
        """Add one call. `count_tokens` is only called for a measured call: counting re-tokenizes
        the outputs, which warm-up calls need not pay for."""
        self.calls_seen += 1
        if self.calls_seen <= self.warmup_calls:
            return
        self.rows += rows
        self.seconds += seconds
        if one_batch:
            self.latencies.append(seconds)
        tokens = count_tokens() if count_tokens is not None else 0
        self.tokens += tokens
        self.calls.append((seconds, rows, tokens))
        if self.measuring_since is None:
            self.measuring_since = self._clock() - seconds

    @property
    def warming_up(self) -> bool:
        return self.calls_seen < self.warmup_calls

    @property
    def done(self) -> bool:
        if self.max_rows is not None and self.rows >= self.max_rows:
            return True
        return (
            self.max_seconds is not None
            and self.measuring_since is not None
            and self._clock() - self.measuring_since >= self.max_seconds
        )

    @property
    def items_per_second(self) -> float | None:
        return round(self.rows / self.seconds, 3) if self.seconds else None

    @property
    def tokens_per_second(self) -> float | None:
        """None when no tokens were counted (not a generative task, or not benchmark mode)."""
        return round(self.tokens / self.seconds, 3) if self.tokens and self.seconds else None

    @property
    def latency_ms(self) -> dict | None:
        return latency_summary(self.latencies)
