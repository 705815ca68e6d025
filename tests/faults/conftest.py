"""Shared set-up for the fault tests: one small finished run, copied per test (cheaper than a run each)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_job

ROWS = 6
BASE = (
    "+task=text-classification",
    "model=tiny",
    "dataset=file",
    "dataset.path=rows.jsonl",
    "batch_size=2",
    "progress=false",
)


def write_rows(folder: Path, count: int = ROWS) -> Path:
    path = folder / "rows.jsonl"
    path.write_text("".join(json.dumps({"text": f"row number {i}"}) + "\n" for i in range(count)))
    return path


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory) -> Path:
    """A finished run of ROWS rows: its dir (with rows.jsonl beside it, in its parent)."""
    base = tmp_path_factory.mktemp("finished")
    write_rows(base)
    result = run_job(*BASE, f"hydra.run.dir={base / 'run'}", cwd=base)
    assert result.returncode == 0, result.stderr
    return base / "run"


@pytest.fixture
def copied_run(finished_run, tmp_path) -> Path:
    """A copy of the finished run in this test's tmp_path (rows.jsonl beside it)."""
    shutil.copy(finished_run.parent / "rows.jsonl", tmp_path / "rows.jsonl")
    target = tmp_path / "run"
    shutil.copytree(finished_run, target, symlinks=True)
    (target / "run.lock").unlink(missing_ok=True)
    return target


def interrupted(run_dir: Path) -> Path:
    """Mark a copied run as interrupted (so resume= continues it)."""
    record = json.loads((run_dir / "run.json").read_text())
    record["status"] = "interrupted"
    (run_dir / "run.json").write_text(json.dumps(record, indent=2) + "\n")
    return run_dir
