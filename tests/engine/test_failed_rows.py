"""Failed rows: errors.jsonl in input order, counts that add up, causes grouped with hints, and the exit
code that tells the truth (4 above max_error_fraction, or when no row was written), also in the API."""

from __future__ import annotations

import json

import runner
from tests.conftest import read_jsonl, run_job

LONG = " ".join(["word"] * 700)  # beyond the tiny model's 512 positions: fails in the model, not in prepare
BASE = [
    "+task=text-classification",
    "model=tiny",
    "dataset=file",
    "dataset.path=rows.jsonl",
    "batch_size=4",
    "progress=false",
]


def _rows(path, count: int, long: tuple = (), empty: tuple = (), broken: tuple = ()) -> None:
    lines = []
    for i in range(count):
        if i in broken:
            lines.append('{"text": "unterminated')
        else:
            text = LONG if i in long else "   " if i in empty else f"a short row #{i}"
            lines.append(json.dumps({"text": text}))
    path.write_text("\n".join(lines) + "\n")


def test_failed_rows_exit_4_in_input_order_grouped_by_cause(tmp_path):
    # Row 5 fails in the model (its batch is retried row by row), row 6 in prepare (before any call):
    # found in the order 6, 5, written in the order 5, 6.
    _rows(tmp_path / "rows.jsonl", 40, long=(5, 21), empty=(6,), broken=(30,))
    out = tmp_path / "out"
    result = run_job(*BASE, f"hydra.run.dir={out}", cwd=tmp_path)
    assert result.returncode == 4, result.stderr
    assert "finished with 4 failed rows of 40 (10.0%), above max_error_fraction=0" in result.stderr
    assert [e["index"] for e in read_jsonl(out / "errors.jsonl")] == [5, 6, 21, 30]
    assert [p["index"] for p in read_jsonl(out / "predictions.jsonl")] == [
        i for i in range(40) if i not in (5, 6, 21, 30)
    ]
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["rows_in"], metrics["rows_out"], metrics["rows_error"], metrics["rows_unfinished"]) == (
        40,
        36,
        4,
        0,
    )
    causes = {c["cause"]: c for c in metrics["errors_by_cause"]}
    (long_cause,) = [c for c in causes.values() if c["count"] == 2]
    assert "truncation=true" in long_cause["hint"], causes
    assert "task.params.truncation=true" in result.stderr  # the end-of-run summary says it too
    assert sum(c["count"] for c in causes.values()) == 4


def test_max_error_fraction_allows_failed_rows(tmp_path):
    _rows(tmp_path / "rows.jsonl", 20, empty=(3,))
    allowed = run_job(*BASE, "max_error_fraction=0.05", f"hydra.run.dir={tmp_path / 'a'}", cwd=tmp_path)
    assert allowed.returncode == 0, allowed.stderr  # 1 of 20 = 5 %: not above the limit
    strict = run_job(*BASE, "max_error_fraction=0.04", "on_error=skip", f"hydra.run.dir={tmp_path / 'b'}", cwd=tmp_path)
    assert strict.returncode == 4 and "1 failed rows of 20 (5.0%)" in strict.stderr  # skipped rows count as failed


def test_no_row_written_exits_4_whatever_the_fraction(tmp_path):
    # Every row fails in the model (too long), not in reading: the plan's first-rows check lets them through.
    _rows(tmp_path / "rows.jsonl", 6, long=tuple(range(6)))
    out = tmp_path / "out"
    result = run_job(*BASE, "max_error_fraction=1", f"hydra.run.dir={out}", cwd=tmp_path)
    assert result.returncode == 4 and "no row written: all 6 rows failed" in result.stderr
    assert len(read_jsonl(out / "errors.jsonl")) == 6


def test_api_returns_the_exit_code_without_raising(tmp_path):
    result = runner.run(
        "text-classification",
        model="tiny",
        inputs=["fine", "   ", "also fine"],
        progress=False,
        output_dir=tmp_path / "api",
    )
    assert (result.exit_code, result.ok) == (4, False)
    assert [p["index"] for p in result.predictions] == [0, 2] and [e["index"] for e in result.errors] == [1]
    ok = runner.run("text-classification", model="tiny", inputs=["fine"], progress=False, output_dir=tmp_path / "ok")
    assert (ok.exit_code, ok.ok) == (0, True)


def test_a_sweep_exits_with_its_jobs_highest_code(tmp_path):
    from tests.conftest import run_cli

    _rows(tmp_path / "rows.jsonl", 4, empty=(2,))
    result = run_cli(*BASE, "max_error_fraction=0,0.5", f"hydra.sweep.dir={tmp_path / 'sweep'}", "-m", cwd=tmp_path)
    assert result.returncode == 4, result.stderr  # job 0 exits 4 (1 of 4 failed), job 1 allows it and exits 0
    assert "above max_error_fraction=0 " in result.stderr and "above max_error_fraction=0.5" not in result.stderr
