"""`objective=<metric>`: each job returns that metrics.json figure to Hydra, a point without one a failed
trial that still carries the job's exit code; Hydra's Optuna sweeper searches on it (hydra/sweeper=optuna)."""

from __future__ import annotations

import json
import math
import re

import pytest
import yaml
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import OmegaConf

from runner.core.errors import ConfigError
from runner.core.paths import SCHEMA_DIR
from runner.sweep.exit_codes import JobExitCodes, read_exit_codes
from runner.sweep.objective import (
    OBJECTIVES,
    FailedTrial,
    check_search_plugin,
    direction_mismatch,
    exit_code_of,
    job_return_value,
)
from tests.conftest import run_cli
from tests.e2e.test_sweeps import BASE, _rows


def test_the_schema_allows_exactly_the_known_objectives():
    schema = json.loads((SCHEMA_DIR / "config.schema.json").read_text())
    assert schema["properties"]["objective"]["enum"] == [None, *OBJECTIVES]


def _point(tmp_path, name: str, **metrics):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "metrics.json").write_text(json.dumps({"status": "ok", **metrics}))
    return folder


def test_a_point_returns_its_metric_or_a_failed_trial(tmp_path):
    ok = _point(tmp_path, "ok", items_per_second=12.5, latency_ms={"p50": 3.25, "p90": 4.0}, tokens_per_second=None)
    assert job_return_value(None, ok, 0) == 0 and job_return_value(None, ok, 4) == 4  # no objective: the exit code
    assert job_return_value("items_per_second", ok, 0) == 12.5
    assert job_return_value("latency_p50", ok, 0) == 3.25

    oom = _point(tmp_path, "oom", status="oom", items_per_second=None)
    failed = [
        job_return_value("items_per_second", oom, 0),
        job_return_value("tokens_per_second", ok, 0),
        job_return_value("latency_p99", ok, 0),
        job_return_value("items_per_second", ok, 4),
        job_return_value("items_per_second", tmp_path / "missing", 1),
    ]
    assert all(isinstance(value, FailedTrial) for value in failed)
    assert [exit_code_of(value) for value in failed] == [0, 0, 0, 4, 1]
    assert "status is oom" in str(failed[0]) and "tokens_per_second is None" in str(failed[1])
    for value in failed:  # what the Optuna sweeper does with a return value: a refusal is a failed trial
        with pytest.raises(TypeError):
            float(value)
    short = _point(
        tmp_path,
        "short",
        items_per_second=40.0,
        measurement={"status": "too_short", "reason": "6 timed batches, fewer than 3 x 5"},
    )
    too_short = job_return_value("items_per_second", short, 0)
    assert isinstance(too_short, FailedTrial) and "too short to measure (6 timed batches" in str(too_short)
    nan = _point(tmp_path, "nan", items_per_second=math.nan)
    assert isinstance(job_return_value("items_per_second", nan, 0), FailedTrial)  # optuna would raise on NaN
    assert [exit_code_of(v) for v in (0, 3, 12.5, None, True)] == [0, 3, 0, 0, 0]


def test_a_sweeper_direction_against_the_objective_is_named():
    assert "set hydra.sweeper.direction=minimize" in direction_mismatch("latency_p50", "maximize")
    assert direction_mismatch("items_per_second", "maximize") is None
    assert direction_mismatch("items_per_second", None) is None  # the basic sweeper has no direction


def test_the_exit_code_callback_reads_the_code_a_failed_trial_carries(tmp_path):
    """Launchers that run jobs in other processes (joblib, submitit) hand exit codes back through files."""
    callback = JobExitCodes()
    callback.on_multirun_start(OmegaConf.create({}))
    for num, value in enumerate([FailedTrial(4, "rows failed"), 17.5, FailedTrial(0, "oom"), 2]):
        job_dir = tmp_path / str(num)
        job_dir.mkdir()
        config = OmegaConf.create({"hydra": {"job": {"num": num}, "runtime": {"output_dir": str(job_dir)}}})
        callback.on_job_end(config, JobReturn(status=JobStatus.COMPLETED, _return_value=value))
    assert [code for _, code in read_exit_codes(tmp_path, callback.sweep_id)] == [4, 0, 0, 2]


def test_optuna_without_its_plugin_is_a_config_error_naming_the_extra(monkeypatch):
    import importlib.util

    check_search_plugin(["-m", "hydra/sweeper=optuna"])  # installed here (scripts/setup.sh): no error
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(ConfigError) as caught:
        check_search_plugin(["-m", "hydra/sweeper=optuna", "batch_size=choice(1,2)"])
    assert caught.value.key == "hydra/sweeper" and "[search]" in caught.value.hint
    check_search_plugin(["-m", "batch_size=1,2"])  # no optuna asked for: nothing to check


def _objective_logged(job_dir) -> str:
    return re.search(r"objective items_per_second: (.*)", (job_dir / "run.log").read_text()).group(1)


@pytest.mark.slow
def test_optuna_searches_on_the_returned_metric_and_an_oom_point_is_a_failed_trial(tmp_path, monkeypatch):
    _rows(tmp_path / "rows.jsonl", 48)
    monkeypatch.setenv("RUNNER_INJECT_OOM_ABOVE", "4")
    sweep = tmp_path / "sweep"
    # Random sampling, seeded: with optuna 2.10.1 it tries 2, 4, 8, 1. (Not the grid sampler: when its
    # last trial fails, optuna's GridSampler calls Study.stop() outside an objective and the plugin crashes.)
    result = run_cli(
        "-m",
        *BASE,
        "hydra/sweeper=optuna",
        "hydra/sweeper/sampler=random",
        "hydra.sweeper.sampler.seed=9",
        "hydra.sweeper.n_trials=4",
        "hydra.sweeper.n_jobs=1",
        "hydra.sweeper.direction=maximize",
        "objective=items_per_second",
        "bench.warmup_batches=1",
        "batch_size=choice(1,2,4,8)",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]  # as a plain `run -m` with an OOM point exits
    assert "setup plugin" not in result.stdout  # alembic's chatter (optuna imports it) is quiet
    assert "hydra.sweeper.direction" not in result.stderr  # maximize matches items_per_second: no warning

    points = {}
    for job in sorted(p for p in sweep.iterdir() if (p / "metrics.json").is_file()):
        metrics = json.loads((job / "metrics.json").read_text())
        points[metrics["batch_size"]] = (metrics["status"], metrics["items_per_second"], _objective_logged(job))
    assert sorted(points) == [1, 2, 4, 8]  # every trial ran: the OOM one did not end the study
    assert points[8][0] == "oom" and points[8][2] == "no value: the point's status is oom"
    timed = {size: speed for size, (status, speed, logged) in points.items() if status == "ok"}
    assert set(timed) == {1, 2, 4} and all(float(points[s][2]) == timed[s] for s in timed)  # returned as measured
    failed = re.findall(r"Failed experiment: .*", result.stdout)  # Hydra's own log is on stdout
    assert len(failed) == 1 and "status is oom" in failed[0]  # Optuna marked exactly that trial FAILED

    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    best_size = max(timed, key=timed.get)
    assert best["best_value"] == timed[best_size] > 0 and best["best_params"] == {"batch_size": best_size}


@pytest.mark.slow
def test_with_an_objective_run_m_exits_as_without_one(tmp_path):
    """A job whose rows failed exits 4; with objective set it hands Hydra a failed trial, and `run -m`
    (the basic sweeper, jobs in this process) and a single run still exit 4."""
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in ["fine", "", "good"]))
    sweep = tmp_path / "sweep"
    result = run_cli(
        "-m", *BASE, "objective=items_per_second", "batch_size=1,2", f"hydra.sweep.dir={sweep}", cwd=tmp_path
    )
    assert result.returncode == 4, result.stderr[-3000:]
    assert [_objective_logged(sweep / str(i)) for i in range(2)] == ["no value: the job exited with code 4"] * 2
    single = run_cli(*BASE, "objective=items_per_second", f"hydra.run.dir={tmp_path / 'single'}", cwd=tmp_path)
    assert single.returncode == 4 and _objective_logged(tmp_path / "single") == "no value: the job exited with code 4"
