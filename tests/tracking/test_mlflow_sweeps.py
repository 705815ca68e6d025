"""tracking=mlflow on `run -m`: one parent run per sweep with the sweep report as its artifacts, one
child run per point (tag mlflow.parentRunId), with the basic launcher (jobs in this process) and with
joblib (jobs in worker processes, which find the parent through the sweep dir)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli

pytest.importorskip("mlflow")  # the [mlflow] extra; scripts/setup.sh installs it
from mlflow.tracking import MlflowClient  # noqa: E402

pytestmark = pytest.mark.slow  # `run -m` in a subprocess

SWEEP = [
    "-m",
    "+task=feature-extraction",
    "model=tiny",
    "dataset=sample",
    "progress=false",
    "tracking=mlflow",
    "tracking.experiment=sweeps",
    "batch_size=1,2,4",
]


def _sweep_runs(tmp_path, *extra: str):
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    sweep = tmp_path / "sweep"
    result = run_cli(
        *SWEEP, f"tracking.tracking_uri={uri}", f"hydra.sweep.dir={sweep}", *extra, cwd=tmp_path, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("sweeps").experiment_id])
    parents = [r for r in runs if r.data.tags.get("runner.kind") == "sweep"]
    assert len(parents) == 1, [(r.info.run_name, r.data.tags) for r in runs]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    return client, sweep, parents[0], children, len(runs)


def _check_points(client, sweep, children) -> None:
    assert sorted(c.info.run_name for c in children) == ["batch_size=1", "batch_size=2", "batch_size=4"]
    for child in children:
        assert child.info.status == "FINISHED" and child.data.tags["runner.kind"] == "point"
        job_dir = child.data.tags["runner.run_dir"]
        record = json.loads(open(f"{job_dir}/run.json").read())
        assert record["tracking"]["run_id"] == child.info.run_id
        assert child.data.params["batch_size"] == str(record["config"]["batch_size"])
        assert child.data.metrics["rows_out"] == 6
        # the agreement with the reference point (job 0) is logged once every point has finished
        assert child.data.metrics["agreement"] == pytest.approx(1.0, abs=1e-4)
        assert child.data.metrics["agreement.mean_cosine"] == pytest.approx(1.0, abs=1e-4)
        assert {"metrics.json", "run.json", "run.log", "predictions.jsonl", "hydra"} <= {
            a.path for a in client.list_artifacts(child.info.run_id)
        }


def test_a_sweep_is_a_parent_run_with_a_child_per_point_and_the_report(tmp_path, monkeypatch):
    client, sweep, parent, children, total = _sweep_runs(tmp_path)
    assert total == 4 and len(children) == 3
    assert parent.info.status == "FINISHED"
    assert "batch_size=1,2,4" in parent.data.params["overrides"]
    report = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"sweep.md", "sweep.csv", "sweep.json"} <= report  # sweep_report wrote them before this logged them
    assert json.loads((sweep / "mlflow_parent.json").read_text())["parent_run_id"] == parent.info.run_id
    _check_points(client, sweep, children)
    _check_summary(client, sweep, parent)
    _check_the_ui_serves_it(tmp_path, monkeypatch, parent, children)


def _check_the_ui_serves_it(tmp_path, monkeypatch, parent, children) -> None:
    """The [mlflow] extra's own server (what `mlflow ui` runs), on 127.0.0.1 over HTTP: its REST API finds the
    sweep's runs, the experiment opens on the runs table (its kind tag), and the UI's page is there."""
    import threading
    import urllib.request

    from werkzeug.serving import make_server

    monkeypatch.setenv("_MLFLOW_SERVER_FILE_STORE", f"sqlite:///{tmp_path / 'store.db'}")  # as `mlflow ui` sets it
    monkeypatch.setenv("_MLFLOW_SERVER_ARTIFACT_ROOT", str(tmp_path / "mlruns"))
    from mlflow.server import app

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"

    def call(path: str, body: dict | None = None) -> str:
        request = urllib.request.Request(
            base + path, data=body and json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.read().decode()

    try:
        experiment = json.loads(call("/api/2.0/mlflow/experiments/get-by-name?experiment_name=sweeps"))["experiment"]
        assert {"key": "mlflow.experimentKind", "value": "custom_model_development"} in experiment["tags"]
        found = json.loads(
            call(
                "/api/2.0/mlflow/runs/search",
                {
                    "experiment_ids": [experiment["experiment_id"]],
                    "filter": f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
                },
            )
        )["runs"]
        assert sorted(r["info"]["run_id"] for r in found) == sorted(c.info.run_id for c in children)
        assert "<title>MLflow</title>" in call("/")  # the UI's own page: full mlflow, not the skinny client
    finally:
        server.shutdown()


def _check_summary(client, sweep, parent) -> None:
    """The parent run shows the sweep at a glance: the recommendation, and each point's figures by step."""
    report = json.loads((sweep / "sweep.json").read_text())
    (best,) = report["recommended"]
    assert parent.data.tags["runner.recommended"].startswith(f"batch_size {best['label']}")
    assert parent.data.tags["runner.recommended"].endswith(f"job {best['job']}")
    assert parent.data.metrics["recommended.batch_size"] == best["batch_size"]
    assert parent.data.metrics["points"] == 3 and parent.data.metrics["points_ok"] == 3
    series = client.get_metric_history(parent.info.run_id, "point.items_per_second")
    assert sorted((m.step, m.value) for m in series) == [
        (step, pytest.approx(point["items_per_second"])) for step, point in enumerate(report["points"])
    ]
    sizes = client.get_metric_history(parent.info.run_id, "point.batch_size")
    assert sorted(m.value for m in sizes) == [1, 2, 4]
    assert len(client.get_metric_history(parent.info.run_id, "point.agreement")) == 3


def test_jobs_in_joblib_workers_log_under_the_parent(tmp_path):
    client, sweep, parent, children, total = _sweep_runs(tmp_path, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2")
    assert total == 4 and len(children) == 3 and parent.info.status == "FINISHED"
    _check_points(client, sweep, children)
