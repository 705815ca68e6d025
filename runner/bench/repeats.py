"""A point's throughput as repeated timed passes: p50 and spread, or "too short" to trust.

The measured batches of a point (warm-up excluded) are cut into `repeats` consecutive parts of equal
batch counts; each part is one repeat and gives one items/s figure. A point is measured enough when
every part holds at least `min_batches` batches and `min_seconds` of timed calls. The engine runs
the same rows again (without writing them) until that holds; when it cannot (a budget, a staged
run, no rows), the point is "too_short" and says why, instead of showing figures no one should trust.

Spread is (max - min) / p50 of the repeats' items/s; a sweep compares points by their min..max range.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Sequence

Call = tuple  # (seconds, rows, tokens) of one measured batch


@dataclass(frozen=True)
class Minimum:
    """bench.repeats, bench.min_batches, bench.min_seconds."""

    repeats: int = 3
    batches: int = 5
    seconds: float = 0.5

    @property
    def batches_needed(self) -> int:
        return self.repeats * self.batches


def split_repeats(calls: Sequence[Call], minimum: Minimum) -> list[Sequence[Call]] | None:
    """`calls` cut into minimum.repeats consecutive parts of equal batch counts (the first ones one
    longer when it does not divide), or None when a part would hold too few batches or seconds."""
    count = len(calls)
    if count < minimum.batches_needed or minimum.repeats < 1:
        return None
    bounds = [round(i * count / minimum.repeats) for i in range(minimum.repeats + 1)]
    parts = [calls[start:end] for start, end in zip(bounds, bounds[1:])]
    if any(sum(call[0] for call in part) < minimum.seconds for part in parts):
        return None
    return parts


def summarize(calls: Sequence[Call], minimum: Minimum, passes: int, cut_short_by: str | None = None) -> dict:
    """metrics.json's "measurement": status ok with p50/min/max/spread per rate, or too_short with why.
    `cut_short_by`: what ended the measuring before the minimum was met, when something did."""
    seconds = sum(call[0] for call in calls)
    figures = {
        "repeats": minimum.repeats,
        "min_batches": minimum.batches,
        "min_seconds": minimum.seconds,
        "passes": passes,
        "batches": len(calls),
        "seconds": round(seconds, 4),
    }
    parts = split_repeats(calls, minimum)
    if parts is None:
        return {"status": "too_short", **figures, "reason": too_short_reason(calls, minimum, cut_short_by)}
    summary = {"status": "ok", **figures, "items_per_second": spread([_rate(p, 1) for p in parts])}
    if any(call[2] for call in calls):
        summary["tokens_per_second"] = spread([_rate(p, 2) for p in parts])
    return summary


def spread(values: Sequence[float]) -> dict:
    """{"p50", "min", "max", "spread": (max - min) / p50, "repeats": the values}."""
    p50 = statistics.median(values)
    low, high = min(values), max(values)
    return {
        "p50": round(p50, 3),
        "min": round(low, 3),
        "max": round(high, 3),
        "spread": round((high - low) / p50, 4) if p50 else None,
        "repeats": [round(v, 3) for v in values],
    }


def too_short_reason(calls: Sequence[Call], minimum: Minimum, cut_short_by: str | None) -> str:
    seconds = sum(call[0] for call in calls)
    text = (
        f"{len(calls)} timed batches in {seconds:.3f} s; {minimum.repeats} repeats of at least "
        f"{minimum.batches} batches and {minimum.seconds:g} s each need more"
    )
    return f"{text} ({cut_short_by})" if cut_short_by else text


def _rate(part: Sequence[Call], index: int) -> float:
    seconds = sum(call[0] for call in part)
    return sum(call[index] for call in part) / seconds if seconds else 0.0
