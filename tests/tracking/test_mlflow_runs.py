"""tracking=mlflow on single runs: what lands in a real MLflow store (SQLite or file), read back with
MlflowClient: params from the validated config, metrics.json's numbers, the run dir's files, the run
id in run.json, and a run that failed ending FAILED, never RUNNING."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli, run_job

pytest.importorskip("mlflow")  # the [mlflow] extra; scripts/setup.sh installs it
from mlflow.tracking import MlflowClient  # noqa: E402

TINY = ["+task=feature-extraction", "model=tiny", "dataset=sample", "progress=false", "tracking=mlflow"]


def _only_run(client: MlflowClient, experiment: str):
    found = client.get_experiment_by_name(experiment)
    assert found is not None, [e.name for e in client.search_experiments()]
    runs = client.search_runs([found.experiment_id])
    assert len(runs) == 1
    return runs[0]


def test_a_run_logs_config_metrics_and_files_into_the_default_sqlite_store(tmp_path):
    out = tmp_path / "out"
    result = run_job(*TINY, "batch_size=2", "+tracking.tags.team=search", f"hydra.run.dir={out}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    store = tmp_path / "mlruns" / "mlflow.db"  # the default: under the directory the run started in
    assert store.is_file()
    client = MlflowClient(f"sqlite:///{store}")
    run = _only_run(client, "feature-extraction")  # the default experiment: the task id
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert params["model.name"] == "tiny" and params["batch_size"] == "2" and params["tracking.backend"] == "mlflow"
    assert params["dataset.type"] == "sample"
    metrics = json.loads((out / "metrics.json").read_text())
    assert run.data.metrics["rows_out"] == metrics["rows_out"] == 6
    assert run.data.metrics["items_per_second"] == pytest.approx(metrics["items_per_second"])
    assert run.data.tags["team"] == "search" and run.data.tags["runner.exit_code"] == "0"
    assert run.data.tags["runner.run_dir"] == str(out)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"predictions.jsonl", "metrics.json", "run.json", "run.log"} <= artifacts
    assert (tmp_path / "mlruns" / "artifacts").is_dir()  # beside the database, not ./mlruns of some other dir
    record = json.loads((out / "run.json").read_text())
    assert record["tracking"]["run_id"] == run.info.run_id
    assert record["tracking"]["tracking_uri"] == f"sqlite:///{store}"
    logged = client.download_artifacts(run.info.run_id, "run.json", str(tmp_path / "dl"))
    assert json.loads(open(logged).read())["tracking"]["run_id"] == run.info.run_id  # the artifact says it too


def test_long_values_and_secrets_stay_out_of_params(tmp_path):
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    rows = "[" + ",".join(["a fairly long sentence to embed"] * 300) + "]"  # one param value over 6000 chars
    token = "hf_" + "A" * 34
    result = run_job(
        *TINY[:2],
        "dataset=inline",
        f"dataset.rows={rows}",
        "dataset.limit=2",
        "progress=false",
        "tracking=mlflow",
        f"tracking.tracking_uri={uri}",
        "tracking.experiment=limits",
        "tracking.run_name=long",
        "tracking.log_predictions=false",
        f"+model.kwargs.token={token}",
        f"hydra.run.dir={tmp_path / 'out'}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    client = MlflowClient(uri)
    run = _only_run(client, "limits")
    assert run.info.run_name == "long"
    value = run.data.params["dataset.rows"]
    assert len(value) <= 6000 and value.endswith("characters in all]")
    leaked = {k: v for k, v in run.data.params.items() if token in v}
    assert not leaked and run.data.params["model.kwargs.token"] == "***"
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert "predictions.jsonl" not in artifacts and "metrics.json" in artifacts


@pytest.mark.slow  # the command in a subprocess: Hydra's callback path of a single run
def test_a_command_whose_rows_failed_ends_failed_in_a_file_store(tmp_path, monkeypatch):
    store, out = tmp_path / "filestore", tmp_path / "outputs" / "day" / "time"
    result = run_cli(
        *TINY[:2],
        "dataset=inline",
        'dataset.rows=["fine", ""]',
        "progress=false",
        "tracking=mlflow",
        f"tracking.tracking_uri={store.as_uri()}",
        f"hydra.run.dir={out}",
        cwd=tmp_path,
    )
    assert result.returncode == 4, result.stderr[-3000:]  # a row failed beyond max_error_fraction=0
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # as the runner does when a file: URI is named
    client = MlflowClient(store.as_uri())
    run = _only_run(client, "feature-extraction")
    assert run.info.status == "FAILED" and run.info.run_name == "day/time"
    assert run.data.tags["runner.exit_code"] == "4" and run.data.metrics["rows_error"] == 1
    assert {"errors.jsonl", "hydra", "run.log"} <= {a.path for a in client.list_artifacts(run.info.run_id)}
    assert f"tracking: MLflow run {run.info.run_id} (FAILED)" in result.stderr
    assert json.loads((out / "run.json").read_text())["tracking"]["run_id"] == run.info.run_id


def test_a_run_that_stops_ends_failed(tmp_path):
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    result = run_job(
        *TINY[:2],
        "dataset=inline",
        'dataset.rows=["fine", ""]',
        "on_error=fail",
        "progress=false",
        "tracking=mlflow",
        f"tracking.tracking_uri={uri}",
        f"hydra.run.dir={tmp_path / 'out'}",
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stderr
    run = _only_run(MlflowClient(uri), "feature-extraction")
    assert run.info.status == "FAILED" and run.data.tags["runner.exit_code"] == "1"


def test_an_interrupted_run_ends_killed(tmp_path):
    import runner

    def rows():  # Ctrl-C arrives while the rows are read
        yield "one"
        yield "two"
        raise KeyboardInterrupt

    uri = f"sqlite:///{tmp_path / 'store.db'}"
    with pytest.raises(KeyboardInterrupt):
        runner.run(
            "feature-extraction",
            model="tiny",
            inputs=rows(),
            progress=False,
            tracking="mlflow",
            output_dir=tmp_path / "out",
            **{"tracking.tracking_uri": uri},
        )
    run = _only_run(MlflowClient(uri), "feature-extraction")
    assert run.info.status == "KILLED" and run.data.tags["runner.exit_code"] == "130"


def test_a_store_that_cannot_be_opened_leaves_the_run_untracked_and_says_so(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    uri = f"sqlite:///{blocker / 'store.db'}"  # its folder is a file: SQLite cannot create the database
    result = run_job(*TINY, f"tracking.tracking_uri={uri}", f"hydra.run.dir={tmp_path / 'out'}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "tracking: could not start an MLflow run" in result.stderr and "untracked" in result.stderr
    assert "tracking" not in json.loads((tmp_path / "out" / "run.json").read_text())
