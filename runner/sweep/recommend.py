"""The recommended batch size per group, given only when it beats the rest by more than the noise.

Each ok point carries its repeats' items/s: p50 and min..max (a point without repeats is its single
figure). The best point is the one with the highest p50. It is a clear winner when its p50 lies above
every repeat of every other point (their max) by more than NOISE_FLOOR; otherwise every point with a
repeat reaching that far is "within noise" of it, and the pick, if one is forced, is the smallest batch size among them
(less memory and latency for a throughput no one can tell apart).

Only points whose answers agree with the sweep's reference point (runner.sweep.quality) by at least
`sweep.min_agreement` are candidates: a faster point that changed the answers is not a better one.
The points passed over are returned beside the picks, with why, so the report can say so.

Why the best's p50 and not its min: timing noise on a shared machine is one-sided. Interference,
cold caches and lazy initialisation make a repeat slower, never faster, so one slow repeat of the
best says nothing against it (and a slow first repeat is exactly what the point that happens to run
first in a sweep gets), while any repeat of another point that reaches the best's typical speed does.
Why a floor: a point's repeats run back to back, so their spread misses a change of machine load
between one point and the next. On the shared 2-core machine, `batch_size=auto` choosing 4 and the
swept batch 4 (the same thing, run minutes apart) differed by 3% with no overlap in their repeats.
"""

from __future__ import annotations

NOISE_FLOOR = 0.05  # the best must beat every other point's fastest repeat by more than this fraction


def recommend(points: list[dict], min_agreement: float | None = None) -> list[dict]:
    """Per group: {group, batch_size, items_per_second, speedup_vs_batch1, job, clear, within_noise,
    best_batch_size}. batch_size is the clear winner, or the forced pick when `clear` is false;
    within_noise lists the labels of the points the best cannot be told apart from (itself included).
    With min_agreement, a point below it (or without an agreement figure) is no candidate: its
    "excluded" key says why (quality.below). A group left without candidates has no pick."""
    from runner.sweep.quality import below

    groups: dict[str, list[dict]] = {}
    for point in points:
        if point["status"] == "ok" and point["items_per_second"] is not None and point["batch_size"] is not None:
            point["excluded"] = below(point, min_agreement)
            if not point["excluded"]:
                groups.setdefault(point["group"], []).append(point)
    return [_choose(group, candidates) for group, candidates in groups.items()]


def _choose(group: str, candidates: list[dict]) -> dict:
    best = max(candidates, key=lambda p: p["items_per_second"])
    tied = sorted((p for p in candidates if p is best or _reaches(p, best)), key=lambda p: (p["batch_size"], label(p)))
    pick = best if len(tied) == 1 else tied[0]
    return {
        "group": group,
        "batch_size": pick["batch_size"],
        "items_per_second": pick["items_per_second"],
        "speedup_vs_batch1": pick["speedup_vs_batch1"],
        "job": pick["job"],
        "label": label(pick),
        "clear": len(tied) == 1,
        "within_noise": [label(p) for p in tied],
        "best_batch_size": best["batch_size"],
    }


def _reaches(point: dict, best: dict) -> bool:
    """Does one of the point's repeats reach the best's p50, within the floor: can the two not be told apart?"""
    return high(point) * (1 + NOISE_FLOOR) >= best["items_per_second"]


def high(point: dict) -> float:
    value = point.get("items_per_second_max")
    return point["items_per_second"] if value is None else value


def label(point: dict) -> str:
    """The batch size as the report names it: "auto (32)" for batch_size=auto's choice."""
    size = "?" if point["batch_size"] is None else str(point["batch_size"])
    return f"auto ({size})" if point.get("batch_size_requested") == "auto" else size


def sentence(best: dict) -> str:
    """The recommendation in words (the end of a sweep, sweep.md)."""
    rate = f"{best['items_per_second']:.1f} items/s"
    speedup = f", {best['speedup_vs_batch1']:.2f}x batch 1" if best["speedup_vs_batch1"] else ""
    if best["clear"]:
        return f"{best['label']} ({rate}{speedup})"
    return (
        f"no clear winner within noise: {', '.join(best['within_noise'])}; if forced, {best['label']} "
        f"(the smallest of them, {rate}{speedup})"
    )
