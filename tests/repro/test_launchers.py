"""Scale-out on Hydra's launchers: shards run as separate processes (joblib, submitit_local), `merge=`
joins them into the unsharded run's predictions, byte for byte, and refuses incomplete sets."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow  # a subprocess per run

SHARDS = ["+experiment=tiny_sentiment", "shard.count=4", "shard.index=range(4)", "progress=false"]


@pytest.fixture(scope="module")
def unsharded(tmp_path_factory):
    root = tmp_path_factory.mktemp("unsharded")
    result = run_cli("+experiment=tiny_sentiment", "progress=false", f"hydra.run.dir={root / 'run'}", cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "run" / "predictions.jsonl"


def _sharded_multirun(root, launcher: str):
    sweep = root / launcher
    result = run_cli("-m", *SHARDS, f"hydra/launcher={launcher}", f"hydra.sweep.dir={sweep}", cwd=root, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return sweep


@pytest.fixture(scope="module")
def joblib_sweep(tmp_path_factory):
    return _sharded_multirun(tmp_path_factory.mktemp("joblib"), "joblib")


def _merge(sweep, cwd):
    return run_cli(f"merge={sweep}", cwd=cwd)


def test_joblib_shards_merge_into_the_unsharded_run(joblib_sweep, unsharded, tmp_path):
    result = _merge(joblib_sweep, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "merged 4 shards: 6 rows" in result.stderr
    assert (joblib_sweep / "merged" / "predictions.jsonl").read_bytes() == unsharded.read_bytes()
    summary = json.loads((joblib_sweep / "merged" / "merge.json").read_text())
    assert [s["predictions"] for s in summary["shards"]] == [2, 2, 1, 1]
    # each job ran in a worker process, with its own overrides recorded
    record = json.loads((joblib_sweep / "2" / "run.json").read_text())
    assert record["command"][0] == "run" and "shard.index=2" in record["command"]


def test_submitit_local_shards_merge_into_the_unsharded_run(unsharded, tmp_path):
    sweep = _sharded_multirun(tmp_path, "submitit_local")
    assert (sweep / ".submitit").is_dir()  # submitit's own job folders: these ran as submitit jobs
    result = _merge(sweep, tmp_path)
    assert result.returncode == 0, result.stderr
    assert (sweep / "merged" / "predictions.jsonl").read_bytes() == unsharded.read_bytes()


def test_a_missing_shard_fails_the_merge_naming_it(joblib_sweep, tmp_path):
    sweep = tmp_path / "sweep"
    shutil.copytree(joblib_sweep, sweep, ignore=shutil.ignore_patterns("merged"))
    shutil.rmtree(sweep / "2")
    result = _merge(sweep, tmp_path)
    assert result.returncode == 1
    assert "1 of 4 shards missing" in result.stderr and "shard.index=2" in result.stderr
    assert not (sweep / "merged" / "predictions.jsonl").exists()


def test_a_failed_shard_fails_the_merge_naming_it(joblib_sweep, tmp_path):
    sweep = tmp_path / "sweep"
    shutil.copytree(joblib_sweep, sweep, ignore=shutil.ignore_patterns("merged"))
    record = json.loads((sweep / "1" / "run.json").read_text())
    record["status"] = "error"  # what run.json says of a job that crashed mid-way
    (sweep / "1" / "run.json").write_text(json.dumps(record))
    result = _merge(sweep, tmp_path)
    assert result.returncode == 1
    assert "shard 1 of 4" in result.stderr and "status 'error'" in result.stderr


def test_shards_of_different_configs_are_not_merged(joblib_sweep, tmp_path):
    sweep = tmp_path / "sweep"
    shutil.copytree(joblib_sweep, sweep, ignore=shutil.ignore_patterns("merged"))
    record = json.loads((sweep / "3" / "run.json").read_text())
    record["config"]["batch_size"] = 8
    (sweep / "3" / "run.json").write_text(json.dumps(record))
    result = _merge(sweep, tmp_path)
    assert result.returncode == 2
    assert "merge:" in result.stderr and "batch_size" in result.stderr


def test_merge_of_a_missing_dir_is_a_config_error(tmp_path):
    result = _merge(tmp_path / "nowhere", tmp_path)
    assert result.returncode == 2 and "merge: '" in result.stderr and "is not a directory" in result.stderr
    result = run_cli(f"merge={tmp_path}", "seed=1", cwd=tmp_path)
    assert result.returncode == 2 and "merge takes no other arguments" in result.stderr


def test_a_failed_job_under_joblib_fails_the_multirun(tmp_path):
    """Jobs in other processes: their exit codes still reach `run -m`. (graph.show keeps the good job
    cheap; shard.index=2 of 2 is a config error, exit 2, in its own worker.)"""
    result = run_cli(
        "-m",
        "+task=text-classification",
        "dataset=inline",
        "dataset.rows=[a]",
        "graph.show=true",
        "shard.count=2",
        "shard.index=0,2",
        "hydra/launcher=joblib",
        f"hydra.sweep.dir={tmp_path / 's'}",
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert "1 of 2 jobs failed" in result.stderr and "(exit 2)" in result.stderr
