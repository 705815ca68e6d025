"""A run resumed N times is one run in N+1 segments: metrics.json counts all of them.

The totals come from the run dir's files, which every segment appended to (a segment killed with
SIGKILL wrote no metrics.json, but its rows are in the files): rows_out is the lines of
predictions.jsonl, rows_error those of errors.jsonl. Skipped rows (on_error=skip) are in no file and
a resume runs them again, so only the last segment's count. Each segment's own counts stay in the
`segments` list; rows a killed segment wrote show there as one `unrecorded` segment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from runner.outputs.rundir import RunDir
from runner.outputs.sinks import line_count

SEGMENT_KEYS = (
    "status",
    "rows_in",
    "rows_out",
    "rows_error",
    "rows_skipped",
    "rows_unfinished",
    "inference_seconds",
    "items_per_second",
    "wall_seconds",
)


@dataclass
class Earlier:
    """What the run dir held when this segment started (nothing for a fresh run)."""

    rows_out: int = 0
    rows_error: int = 0
    metrics: dict | None = None  # the last segment's metrics.json, when it wrote one
    segments: list = field(default_factory=list)


def earlier_segments(run_dir: Path, append: bool) -> Earlier:
    if not append:
        return Earlier()
    folder = RunDir(run_dir)
    try:
        metrics = folder.read_metrics()
    except ValueError:  # cut short mid-write: the files still hold the counts
        metrics = None
    data = metrics.to_json() if metrics is not None and metrics.rows_in is not None else None
    segments = [dict(s) for s in data.get("segments") or [_segment(data)]] if data else []
    earlier = Earlier(line_count(folder.predictions), line_count(folder.errors), data, segments)
    # Rows of a batch a stop cut are removed before a resume redoes them (resume.cut_batches): the segments
    # that wrote them no longer hold them, so their counts come down and each row is counted once.
    _uncount(segments, "rows_out", earlier.rows_out - sum(s.get("rows_out") or 0 for s in segments))
    _uncount(segments, "rows_error", earlier.rows_error - sum(s.get("rows_error") or 0 for s in segments))
    unrecorded = (
        max(0, earlier.rows_out - sum(s.get("rows_out") or 0 for s in segments)),
        max(0, earlier.rows_error - sum(s.get("rows_error") or 0 for s in segments)),
    )
    if any(unrecorded):  # a segment that was killed before it could write metrics.json
        out, error = unrecorded
        segments.append({"status": "unrecorded", "rows_in": out + error, "rows_out": out, "rows_error": error})
    return earlier


def with_totals(metrics: dict, earlier: Earlier) -> dict:
    """This segment's metrics with the run's totals and the list of segments."""
    segment = _segment(metrics)
    totals = {
        "rows_out": earlier.rows_out + metrics["rows_out"],
        "rows_error": earlier.rows_error + metrics["rows_error"],
    }
    totals["rows_in"] = totals["rows_out"] + totals["rows_error"] + metrics["rows_skipped"]
    if earlier.metrics is not None and segment["rows_in"] == 0 and not metrics["rows_unfinished"]:
        # Nothing was left to do: the earlier segment's figures stay (timings of a run that did nothing
        # would replace them with zeros); only the status and the list of segments change.
        merged = {**earlier.metrics, **totals, "status": metrics["status"], "error": metrics["error"]}
    else:
        merged = {**metrics, **totals}
    if earlier.segments:
        merged["segments"] = [*earlier.segments, segment]
    return merged


def _uncount(segments: list[dict], key: str, held_minus_counted: int) -> None:
    """Take the rows the files no longer hold off the latest segments that counted them (rows_in too)."""
    excess = -held_minus_counted
    for segment in reversed(segments):
        if excess <= 0:
            return
        taken = min(excess, segment.get(key) or 0)
        if taken:
            segment[key] -= taken
            if segment.get("rows_in") is not None:
                segment["rows_in"] = max(0, segment["rows_in"] - taken)
            excess -= taken


def _segment(metrics: dict) -> dict:
    return {key: metrics.get(key) for key in SEGMENT_KEYS if key in metrics}
