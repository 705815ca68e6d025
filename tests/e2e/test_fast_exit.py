"""The `run` command ends without Python's interpreter teardown (runner/core/fast_exit.py), yet keeps what
a normal exit does: its exit code, every output written, stdout flushed, and atexit handlers run
(registered here by a sitecustomize module on PYTHONPATH, as a tracker or a coverage tool would)."""

from __future__ import annotations

import json
import os

import pytest

from tests.conftest import read_jsonl, run_cli

SITECUSTOMIZE = """
import atexit, os, sys, traceback

def _at_exit():
    print("atexit handler ran", flush=False)  # flushed by the exit itself, as a normal exit would
    # called from runner.core.fast_exit.exit_process on the fast path; from the interpreter (no frame) otherwise
    path = "fast" if any(f.name == "exit_process" for f in traceback.extract_stack()) else "normal"
    with open(os.environ["RUNNER_TEST_ATEXIT_FILE"], "w") as f:
        f.write(path)

atexit.register(_at_exit)
"""


@pytest.fixture
def atexit_probe(tmp_path, monkeypatch):
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")])))
    marker = tmp_path / "atexit.txt"
    monkeypatch.setenv("RUNNER_TEST_ATEXIT_FILE", str(marker))
    return marker


@pytest.mark.parametrize("rows,code", [(["good text", "more good text"], 0), (["good text", ""], 4)])
def test_exit_code_outputs_and_atexit_handlers_survive_the_fast_exit(tmp_path, atexit_probe, rows, code):
    out = tmp_path / "out"
    result = run_cli(
        "+task=text-classification",
        "model=tiny",
        "dataset=inline",
        f"dataset.rows={json.dumps(rows)}",
        "progress=false",
        f"hydra.run.dir={out}",
        cwd=tmp_path,
    )
    assert result.returncode == code, result.stderr[-3000:]
    assert atexit_probe.read_text() == "fast"  # the fast path was taken, and the handler ran
    assert result.stdout.rstrip().endswith("atexit handler ran")
    assert len(read_jsonl(out / "predictions.jsonl")) == 2 - code // 4
    assert json.loads((out / "metrics.json").read_text())["rows_in"] == 2
    assert json.loads((out / "run.json").read_text())["status"] == "ok"
    assert "done:" in (out / "run.log").read_text()  # the log handlers were flushed and closed


def test_the_normal_exit_stays_available(tmp_path, atexit_probe, monkeypatch):
    monkeypatch.setenv("RUNNER_NORMAL_EXIT", "1")
    result = run_cli(
        "+task=text-classification",
        "model=tiny",
        "dataset=inline",
        'dataset.rows=["good text"]',
        "progress=false",
        f"hydra.run.dir={tmp_path / 'out'}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert atexit_probe.read_text() == "normal" and result.stdout.rstrip().endswith("atexit handler ran")
