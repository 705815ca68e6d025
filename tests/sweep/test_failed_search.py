"""A search whose every trial fails still ends in a report (issue 30): Optuna raises "No trials are completed
yet." after its jobs; `run -m` writes sweep.md with each trial's status, exits with the highest job code, and
prints one line instead of a traceback."""

from __future__ import annotations

import json

import pytest

from runner.sweep.points import point_status, read_exit_code
from tests.conftest import run_cli
from tests.e2e.test_sweeps import BASE


def test_a_finished_point_whose_job_failed_is_not_ok(tmp_path):
    (tmp_path / "job_exit.json").write_text(json.dumps({"sweep_id": "x", "job_num": 0, "exit_code": 4}))
    assert read_exit_code(tmp_path) == 4 and read_exit_code(tmp_path / "missing") is None
    assert point_status({"status": "ok"}, {}, 4) == "rows_failed"
    assert point_status({"status": "ok"}, {}, 1) == "error"
    assert point_status({"status": "ok"}, {}, 0) == point_status({"status": "ok"}, {}, None) == "ok"
    assert point_status({"status": "oom"}, {}, 0) == "oom"


@pytest.mark.slow
def test_an_optuna_search_where_every_trial_fails_writes_its_report(tmp_path):
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in ["fine", "", "good"]))
    sweep = tmp_path / "sweep"
    result = run_cli(
        "-m",
        *BASE,
        "hydra/sweeper=optuna",
        "hydra/sweeper/sampler=random",
        "hydra.sweeper.sampler.seed=0",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.n_jobs=1",
        "hydra.sweeper.direction=maximize",
        "objective=items_per_second",
        "batch_size=choice(1,2)",
        "bench.enabled=false",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    shown = result.stdout + result.stderr
    assert result.returncode == 4, shown[-3000:]  # the jobs' highest code (rows failed), not Python's 1
    assert "Traceback" not in shown and "No trials are completed yet." in shown
    assert "error: all 2 trials failed, so the sweeper has no best point" in shown
    report = (sweep / "sweep.md").read_text()
    assert "2 points in" in report and report.count("| rows failed |") == 2
    assert "**Recommended batch size:** none (no point finished ok)" in report
    points = json.loads((sweep / "sweep.json").read_text())["points"]
    assert [(p["status"], p["exit_code"]) for p in points] == [("rows_failed", 4)] * 2
    assert "No trials are completed yet." in (sweep / "sweeper_error.txt").read_text()
