"""Interrupted runs: rows reach predictions.jsonl a chunk of whole batches at a time (a SIGKILL loses at
most the chunk in flight, the bar moves per chunk), and metrics.json after resumes counts every segment."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from runner.engine.rows import GROWN_CHUNK_ROWS
from tests.conftest import read_jsonl, run_cli

pytestmark = pytest.mark.slow  # subprocesses, killed on purpose


def _rows(path, count: int) -> None:
    path.write_text("".join(json.dumps({"text": f"row number {i} says hello"}) + "\n" for i in range(count)))


def _start(cwd, *args) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "runner", *args],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _lines(path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _watch(process: subprocess.Popen, path, until: int, limit_s: float = 120) -> list[int]:
    """The line counts of `path` seen while polling every 2 ms, until `until` lines (or the process ends)."""
    seen = [0]
    deadline = time.monotonic() + limit_s
    while process.poll() is None and seen[-1] < until and time.monotonic() < deadline:
        count = _lines(path)
        if count != seen[-1]:
            seen.append(count)
        time.sleep(0.002)
    return seen


GENERATE = [
    "+task=text-generation",
    "model=tiny",
    "task.params.max_new_tokens=48",
    "dataset=file",
    "dataset.path=rows.jsonl",
    "batch_size=3",
]


def test_sigkill_loses_at_most_one_chunk_and_resume_counts_the_killed_segment(tmp_path):
    _rows(tmp_path / "rows.jsonl", 300)
    out = tmp_path / "out"
    process = _start(tmp_path, *GENERATE, "progress=true", f"hydra.run.dir={out}")
    seen = _watch(process, out / "predictions.jsonl", until=90)  # > 1 s: the bar redraws every 0.5 s
    process.send_signal(signal.SIGKILL)
    stderr = process.communicate()[1].decode()
    steps = [b - a for a, b in zip(seen, seen[1:])]
    # Each chunk lands as soon as it is done: one batch first, then whole batches grouped only while a
    # chunk takes under 0.1 s (runner.engine.rows.ChunkSizes), so what a kill can lose is the chunk
    # being computed, never finished rows waiting for a fixed 64-row chunk as the old writer had them.
    # (The file grows line by line, each flushed, so a poll may see part of a chunk: the bar shows chunks.)
    assert process.returncode == -signal.SIGKILL and seen[-1] >= 90, seen
    assert max(steps) <= GROWN_CHUNK_ROWS, seen
    # the bar's count: "12/~312 [" (a file's rows estimated from the bytes read), "12row" before any estimate
    bar = [
        int(n) for n in __import__("re").findall(r"text-generation: +(?:\d+%\|[^|]*\| )?(\d+)(?:/~?\d+ \[|row)", stderr)
    ]
    assert any(bar) and all(n % 3 == 0 for n in bar), stderr[-2000:]  # the bar moves per chunk of whole batches
    written = read_jsonl(out / "predictions.jsonl")
    assert [p["index"] for p in written] == list(range(len(written)))

    resumed = run_cli(*GENERATE, "progress=false", f"resume={out}", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert [p["index"] for p in read_jsonl(out / "predictions.jsonl")] == list(range(300))
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["rows_in"], metrics["rows_out"], metrics["rows_error"]) == (300, 300, 0)
    killed, last = metrics["segments"]
    assert killed["status"] == "unrecorded" and killed["rows_out"] == len(written)  # it left no metrics.json
    assert last["status"] == "ok" and last["rows_out"] == 300 - len(written)


CLASSIFY = [
    "+task=text-classification",
    "model=tiny",
    "dataset=file",
    "dataset.path=rows.jsonl",
    "batch_size=4",
    "progress=false",
]


def test_metrics_add_up_over_two_interruptions_and_a_resume_with_nothing_left(tmp_path):
    _rows(tmp_path / "rows.jsonl", 1500)
    (tmp_path / "rows.jsonl").open("a").write('{"text": "   "}\n')  # one failed row, index 1500
    out = tmp_path / "out"
    for target, extra in ((40, f"hydra.run.dir={out}"), (400, f"resume={out}")):
        process = _start(tmp_path, *CLASSIFY, extra)
        _watch(process, out / "predictions.jsonl", until=target)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 130
        stopped = json.loads((out / "metrics.json").read_text())
        assert stopped["status"] == "interrupted"
        assert stopped["rows_in"] == stopped["rows_out"] + stopped["rows_error"] == _lines(out / "predictions.jsonl")
    finished = run_cli(*CLASSIFY, f"resume={out}", cwd=tmp_path)
    assert finished.returncode == 4, finished.stderr  # the empty row failed: above max_error_fraction=0
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["rows_in"], metrics["rows_out"], metrics["rows_error"]) == (1501, 1500, 1)
    assert [s["status"] for s in metrics["segments"]] == ["interrupted", "interrupted", "ok"]
    assert sum(s["rows_in"] for s in metrics["segments"]) == 1501

    again = run_cli(*CLASSIFY, f"resume={out}", cwd=tmp_path)
    assert "nothing left to do" in again.stderr
    unchanged = json.loads((out / "metrics.json").read_text())
    assert (unchanged["rows_in"], unchanged["rows_out"], unchanged["rows_error"]) == (1501, 1500, 1)
    assert unchanged["inference_seconds"] == metrics["inference_seconds"] > 0
    assert len(unchanged["segments"]) == 4 and unchanged["segments"][-1]["rows_in"] == 0
