"""Per-batch timing for benchmark points: warm-up batches excluded, a row or time budget, throughput
and latency percentiles."""
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
    return {"p50": round(float(p50), 3), "p90": round(float(p90), 3), "p99": round(float(p99), 3),
            "mean": round(float(ms.mean()), 3), "count": int(ms.size)}


class Timer:
    """`with Timer() as t: ...` then t.seconds (wall clock, perf_counter)."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter):
        self._clock = clock
        self.seconds = 0.0

    def __enter__(self) -> "Timer":
        self._started = self._clock()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = self._clock() - self._started


class BatchRecorder:
    """Records (seconds, items, tokens) per batch. The first `warmup_batches` are timed but left out
    of every figure (first calls pay for lazy init, kernel selection, caches). `done` turns true once
    the measured batches reach `max_rows` rows or `max_seconds` seconds (either, when both are set)."""

    def __init__(self, warmup_batches: int = 0, max_rows: int | None = None, max_seconds: float | None = None):
        if warmup_batches < 0:
            raise ValueError("warmup_batches must be >= 0")
        self.warmup_batches = warmup_batches
        self.max_rows = max_rows
        self.max_seconds = max_seconds
        self.batches_seen = 0
        self.latencies: list[float] = []
        self.items = 0
        self.tokens: int | None = None
        self.seconds = 0.0

    def record(self, seconds: float, items: int, tokens: int | None = None) -> None:
        self.batches_seen += 1
        if self.batches_seen <= self.warmup_batches:
            return
        self.latencies.append(seconds)
        self.items += items
        self.seconds += seconds
        if tokens is not None:
            self.tokens = (self.tokens or 0) + tokens

    @property
    def warming_up(self) -> bool:
        return self.batches_seen < self.warmup_batches

    @property
    def done(self) -> bool:
        return ((self.max_rows is not None and self.items >= self.max_rows)
                or (self.max_seconds is not None and self.seconds >= self.max_seconds))

    def summary(self) -> dict:
        """The metrics.json figures: items/s, tokens/s (when tokens were counted), latency_ms."""
        def rate(count):
            return round(count / self.seconds, 3) if self.seconds > 0 and count is not None else None

        return {
            "warmup_batches": min(self.batches_seen, self.warmup_batches),
            "measured_batches": len(self.latencies),
            "measured_items": self.items,
            "measured_seconds": round(self.seconds, 4),
            "items_per_second": rate(self.items),
            "tokens_per_second": rate(self.tokens),
            "latency_ms": latency_summary(self.latencies),
        }
