"""Long runs: bad rows never stop the run (unless asked), SIGTERM stops cleanly, and a run killed at any
point and resumed ends with exactly the rows of a run that was never interrupted."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import read_jsonl, run_cli

pytestmark = pytest.mark.slow  # a subprocess per run

TEXTS = [
    "short",
    "a somewhat longer sentence about the weather today",
    "the quick brown fox jumps over the lazy dog " * 3,
    "ok then",
    "numbers 1 2 3 4 5 6 7 8 9",
]


def _write_rows(path, count: int, corrupt: tuple[int, ...] = ()) -> None:
    lines = []
    for i in range(count):
        if i in corrupt:
            lines.append('{"text": "unterminated' if i % 2 else json.dumps({"text": "   "}))
        else:
            lines.append(json.dumps({"text": f"{TEXTS[i % len(TEXTS)]} #{i}"}))
    path.write_text("\n".join(lines) + "\n")


BASE = [
    "+task=text-classification",
    "model=tiny",
    "dataset=file",
    "dataset.path=rows.jsonl",
    "batch_size=4",
    "progress=false",
]


def test_a_thousand_rows_with_three_corrupt_ones(tmp_path):
    _write_rows(tmp_path / "rows.jsonl", 1000, corrupt=(10, 501, 998))
    out = tmp_path / "out"
    result = run_cli(*BASE, "batch_size=16", f"hydra.run.dir={out}", cwd=tmp_path)
    assert result.returncode == 4, result.stderr  # finished, with 3 failed rows: above max_error_fraction=0
    assert "finished with 3 failed rows of 1000 (0.3%)" in result.stderr
    predictions, errors = read_jsonl(out / "predictions.jsonl"), read_jsonl(out / "errors.jsonl")
    assert len(predictions) == 997 and [e["index"] for e in errors] == [10, 501, 998]
    assert [p["index"] for p in predictions] == [i for i in range(1000) if i not in (10, 501, 998)]
    assert {e["error"].split(":")[0] for e in errors} == {"ValueError"}
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["rows_in"] == metrics["rows_out"] + metrics["rows_error"] == 1000
    assert (
        run_cli(
            *BASE, "batch_size=16", "max_error_fraction=0.003", f"hydra.run.dir={tmp_path / 'allowed'}", cwd=tmp_path
        ).returncode
        == 0
    )  # 3 of 1000 is allowed

    skipped = tmp_path / "skipped"
    result = run_cli(*BASE, "on_error=skip", "dataset.limit=20", f"hydra.run.dir={skipped}", cwd=tmp_path)
    assert result.returncode == 4, result.stderr  # skipped rows failed too
    assert len(read_jsonl(skipped / "predictions.jsonl")) == 19 and read_jsonl(skipped / "errors.jsonl") == []
    assert json.loads((skipped / "metrics.json").read_text())["rows_skipped"] == 1


def test_on_error_fail_stops_and_keeps_what_was_done(tmp_path):
    _write_rows(tmp_path / "rows.jsonl", 100, corrupt=(70,))
    out = tmp_path / "out"
    result = run_cli(*BASE, "on_error=fail", f"hydra.run.dir={out}", cwd=tmp_path)
    assert result.returncode == 1
    assert "row 70 (index 70) failed in step main (prepare)" in result.stderr
    done = [p["index"] for p in read_jsonl(out / "predictions.jsonl")]
    assert done == list(range(68))  # every batch before the failing row's (68-71) was written
    assert json.loads((out / "run.json").read_text())["status"] == "error"
    # on_error is not an output-changing key: the run resumes with the bad row recorded this time.
    resumed = run_cli(*BASE, "on_error=record", f"resume={out}", cwd=tmp_path)
    assert resumed.returncode == 4, resumed.stderr  # finished with row 70 failed
    assert [p["index"] for p in read_jsonl(out / "predictions.jsonl")] == [i for i in range(100) if i != 70]
    assert [e["index"] for e in read_jsonl(out / "errors.jsonl")] == [70]


def _start(tmp_path, out, *extra) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "runner", *BASE, *extra, f"hydra.run.dir={out}"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _lines(path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _kill_after(process: subprocess.Popen, path, lines: int, sig: int) -> None:
    deadline = time.time() + 240
    while _lines(path) < lines and process.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, "the run finished before the kill point; make the dataset larger"
    process.send_signal(sig)
    process.wait(timeout=60)


def _comparable(path):
    return [(p["id"], p["index"], p["output"]["label"], round(p["output"]["score"], 4)) for p in read_jsonl(path)]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reference")
    _write_rows(folder / "rows.jsonl", 3000, corrupt=(7, 1500))
    result = run_cli(*BASE, f"hydra.run.dir={folder / 'out'}", cwd=folder)
    assert result.returncode == 4, result.stderr  # two corrupt rows: above max_error_fraction=0
    return folder


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_killed_and_resumed_equals_uninterrupted(reference, tmp_path, seed):
    (tmp_path / "rows.jsonl").write_bytes((reference / "rows.jsonl").read_bytes())
    out = tmp_path / "out"
    kill_at = random.Random(seed).randint(50, 2000)
    _kill_after(_start(tmp_path, out), out / "predictions.jsonl", kill_at, signal.SIGKILL)
    assert json.loads((out / "run.json").read_text())["status"] == "running"  # SIGKILL: no chance to say more
    resumed = run_cli(*BASE, f"resume={out}", f"hydra.run.dir={tmp_path / 'second'}", cwd=tmp_path)
    assert resumed.returncode == 4, resumed.stderr  # the two corrupt rows, as uninterrupted
    assert f"resuming {out}" in resumed.stderr
    assert _comparable(out / "predictions.jsonl") == _comparable(reference / "out" / "predictions.jsonl")
    assert [e["index"] for e in read_jsonl(out / "errors.jsonl")] == [7, 1500]
    assert json.loads((out / "run.json").read_text())["status"] == "ok"
    metrics = json.loads((out / "metrics.json").read_text())  # the killed segment counts too
    assert (metrics["rows_in"], metrics["rows_out"], metrics["rows_error"]) == (3000, 2998, 2)
    assert [s["status"] for s in metrics["segments"]] == ["unrecorded", "ok"]


def test_sigterm_stops_cleanly_and_resume_refuses_a_different_config(reference, tmp_path):
    (tmp_path / "rows.jsonl").write_bytes((reference / "rows.jsonl").read_bytes())
    out = tmp_path / "out"
    process = _start(tmp_path, out)
    _kill_after(process, out / "predictions.jsonl", 100, signal.SIGTERM)
    assert process.returncode == 130, process.stderr.read().decode()
    assert out.joinpath("predictions.jsonl").read_bytes().endswith(b"\n")
    assert json.loads((out / "run.json").read_text())["status"] == "interrupted"
    refused = run_cli(*BASE, "seed=5", f"resume={out}", cwd=tmp_path)
    assert refused.returncode == 2 and "resume: the config differs" in refused.stderr and "seed" in refused.stderr
    resumed = run_cli(*BASE, "progress=true", f"resume={out}", f"hydra.run.dir={tmp_path / 'second'}", cwd=tmp_path)
    assert resumed.returncode == 4, resumed.stderr  # the two corrupt rows, as uninterrupted
    assert _comparable(out / "predictions.jsonl") == _comparable(reference / "out" / "predictions.jsonl")
