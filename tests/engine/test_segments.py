"""A resumed run's segments count each row once, even when the resume removed rows a segment had counted
(runner.repro.resume.cut_batches redoes a batch a stop cut)."""

from __future__ import annotations

import json

import runner
from runner.engine.segments import earlier_segments


def test_rows_a_resume_removes_come_off_the_segment_that_counted_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    texts = [f"row {i}" for i in range(6)]
    result = runner.run("sentiment", inputs=texts, model="tiny", progress=False, output_dir=tmp_path / "run")
    predictions = result.run_dir / "predictions.jsonl"
    lines = predictions.read_text().splitlines(keepends=True)
    predictions.write_text("".join(lines[:4]))  # the last batch's two rows removed, to be redone
    earlier = earlier_segments(result.run_dir, append=True)
    assert earlier.rows_out == 4
    assert sum(s["rows_out"] for s in earlier.segments) == 4 and [s["rows_in"] for s in earlier.segments] == [4]
    assert json.loads((result.run_dir / "metrics.json").read_text())["rows_out"] == 6  # the file is not rewritten
