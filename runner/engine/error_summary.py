"""What the failed rows have in common, and whether a run with failed rows is a success.

Errors are grouped by cause: the exception type and its message with the row-specific parts (numbers,
quoted paths and values) blanked, so 300 over-length texts are one cause, not 300. A known cause
carries a hint saying what to change. The verdict: a run that finished with more failed rows
(errors and skipped) than `max_error_fraction` of its rows, or with none written at all, exits with
ROWS_FAILED (4) instead of 0; its outputs are kept.
"""

from __future__ import annotations

import logging
import re
from runner.core.views import RunView
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger("runner")

# Exit code of a run that finished but failed too many rows (README: "Exit codes").
ROWS_FAILED = 4

# (pattern on the normalized cause, hint). The first match wins.
HINTS = (
    (
        r"size of tensor a \(N\) must match the size of tensor b|index out of range in self"
        r"|sequence length is longer than the specified maximum|Token indices sequence length is longer",
        "the text is longer than the model's maximum length: set task.params.truncation=true",
    ),
    (
        r"FileNotFoundError|No such file or directory|does not exist|not found",
        "a file a row names is missing: check the paths (relative paths are read from the dataset's folder)",
    ),
    (
        r"UnicodeDecodeError|codec can't decode|not valid UTF-N",
        "the file is not UTF-8 text: convert it (e.g. iconv -f latin1 -t utf-8) or fix the bytes the error names",
    ),
    (
        r"JSONDecodeError|invalid JSON|Expecting|Unterminated string",
        "a line of the dataset file is malformed: fix or drop it, then resume= the run",
    ),
    (
        r"cannot identify image file|UnidentifiedImageError|truncated|Format not recognised|Error opening",
        "a media file cannot be decoded: check it is a complete image or audio file of a supported format",
    ),
    (
        r"missing value for input|empty text",
        "a row lacks the task's input (or it is empty): check dataset.column / dataset.fields against the file's columns",
    ),
    (r"out of memory|CUDA error", "lower batch_size, or let batch_size=auto find the largest that fits"),
)


def cause_of(message: str) -> str:
    """The message with what differs from row to row blanked: quoted values, then numbers."""
    cause = re.sub(r"'[^']*'", "'…'", message.splitlines()[0] if message else "")
    cause = re.sub(r'"[^"]*"', '"…"', cause)
    cause = re.sub(r"\d+(\.\d+)?", "N", cause)
    return cause[:240]


def hint_for(cause: str) -> str | None:
    return next((hint for pattern, hint in HINTS if re.search(pattern, cause, re.IGNORECASE)), None)


def errors_by_cause(messages: Iterable[str], extra: Counter | None = None) -> list[dict]:
    """[{cause, count, hint}], most frequent first: the messages' causes plus `extra` (cause -> count)."""
    counts = Counter(cause_of(m) for m in messages)
    counts.update(extra or {})
    return [{"cause": cause, "count": count, "hint": hint_for(cause)} for cause, count in counts.most_common()]


def file_messages(path: Path) -> Iterable[str]:
    """The `error` of each complete record of an errors.jsonl (all the run's segments), streaming."""
    import json

    if not Path(path).is_file():
        return
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                yield str(json.loads(line).get("error", ""))
            except ValueError:
                continue


def log_summary(groups: list[dict], shown: int = 10) -> None:
    """The end-of-run lines: each cause with its count and hint."""
    if not groups:
        return
    log.warning("failed rows by cause:")
    for group in groups[:shown]:
        log.warning("  %d x %s", group["count"], group["cause"])
        if group["hint"]:
            log.warning("      hint: %s", group["hint"])
    if len(groups) > shown:
        log.warning("  ... and %d more causes (metrics.json: errors_by_cause)", len(groups) - shown)


def failed_rows_verdict(metrics, max_error_fraction: float) -> str | None:
    """Why a finished run is not a plain success (its exit code is then ROWS_FAILED), or None."""
    if metrics is None or metrics.status != "ok" or not metrics.rows_in:
        return None
    failed = (metrics.rows_error or 0) + int(metrics.rest.get("rows_skipped") or 0)
    share = failed / metrics.rows_in
    if metrics.rows_out == 0:
        return f"finished with no row written: all {metrics.rows_in} rows failed"
    if share > max_error_fraction:
        return (
            f"finished with {failed} failed rows of {metrics.rows_in} ({share:.1%}), above "
            f"max_error_fraction={max_error_fraction:g}"
        )
    return None


def rows_failed_code(run: RunView, metrics) -> int:
    """The end of a finished run: its failed rows by cause, then 0, or ROWS_FAILED with the reason."""
    if metrics is None:
        return 0
    log_summary(metrics.rest.get("errors_by_cause") or [])
    verdict = failed_rows_verdict(metrics, float(run.max_error_fraction or 0))
    if verdict is None:
        return 0
    log.error("error: %s (exit code %d; outputs kept in %s)", verdict, ROWS_FAILED, metrics.run_dir)
    log.error("  hint: see errors.jsonl, or allow failed rows with max_error_fraction=<0..1>")
    return ROWS_FAILED
