"""What a tracked run logs, over mlflow's MlflowClient (imported here only, when a tracked job starts).

Params come from run.json's config (validated, secrets redacted), flattened to dotted keys; values
longer than MLflow's limit are cut with a note. Metrics are metrics.json's numbers (booleans left
out), flattened the same way. Artifacts are the run dir's files, the sweep report's for a parent run.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from runner.tracking.settings import TrackingSettings

MAX_PARAM_VALUE = 6000  # MLflow's limit on a param value (mlflow.utils.validation), in characters
MAX_KEY = 250  # and on a param or metric key
BATCH = 100  # params per log_batch request (MLflow's limit)
ALLOWED_KEY = re.compile(r"[^\w\-. /]")  # MLflow keys: alphanumerics, _ - . space /
STATUS = {0: "FINISHED", 130: "KILLED"}  # a job's exit code -> the MLflow run status; any other: FAILED
NOTE = "...[cut: {n} characters in all]"


_CLIENTS: dict = {}  # one client per store URI and process: a SQLite store checks its tables once


def client(settings: TrackingSettings, cwd: Path | None = None):
    """(MlflowClient, the store URI) for the settings; a file store only when the user named one."""
    uri = settings.store_uri(cwd)
    if uri not in _CLIENTS:
        if uri.startswith("file:"):  # MLflow 3 refuses its file store unless told; naming one is telling
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        import logging

        from mlflow.tracking import MlflowClient

        # MLflow says "Updating database tables" on every process that opens a SQLite store: not news
        logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
        _CLIENTS[uri] = MlflowClient(tracking_uri=uri)
    return _CLIENTS[uri], uri


EXPERIMENT_KIND, RUNS_KIND = "mlflow.experimentKind", "custom_model_development"


def experiment_id(mlflow_client, settings: TrackingSettings, uri: str, name: str) -> str:
    found = mlflow_client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    root = settings.artifact_root(uri)
    location = f"{root}/{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}" if root else None
    try:
        # The kind tag makes MLflow 3's UI open the experiment on its runs table; untagged, it guesses
        # from the runs' contents and lands on an empty "Traces" page.
        return mlflow_client.create_experiment(name, artifact_location=location, tags={EXPERIMENT_KIND: RUNS_KIND})
    except Exception:  # another job of the sweep created it meanwhile
        found = mlflow_client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


def flat(node, prefix: str = "") -> dict:
    """{"a.b": leaf} for a nested dict; lists stay whole leaves."""
    if not isinstance(node, dict):
        return {prefix.rstrip("."): node}
    out = {}
    for key, value in node.items():
        out.update(flat(value, f"{prefix}{key}.") if isinstance(value, dict) and value else {f"{prefix}{key}": value})
    return out


def param_value(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if len(text) <= MAX_PARAM_VALUE:
        return text
    note = NOTE.format(n=len(text))
    return text[: MAX_PARAM_VALUE - len(note)] + note


def metric_key(key: str) -> str:
    return ALLOWED_KEY.sub("_", key)[:MAX_KEY]


def log_params(mlflow_client, run_id: str, config: dict) -> None:
    from mlflow.entities import Param

    params = [Param(metric_key(k), param_value(v)) for k, v in flat(config).items()]
    for start in range(0, len(params), BATCH):
        mlflow_client.log_batch(run_id, params=params[start : start + BATCH])


def numeric_figures(metrics: dict) -> dict[str, float]:
    """metrics.json's numbers by dotted key; booleans, strings and NaN left out."""
    figures = {}
    for key, value in flat(metrics).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
            figures[metric_key(key)] = float(value)
    return figures


def log_metrics(mlflow_client, run_id: str, metrics: dict) -> None:
    import time

    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    entries = [Metric(key, value, now, 0) for key, value in numeric_figures(metrics).items()]
    for start in range(0, len(entries), 1000):  # MLflow takes up to 1000 metrics per request
        mlflow_client.log_batch(run_id, metrics=entries[start : start + 1000])


def log_files(mlflow_client, run_id: str, paths: list[Path]) -> list[str]:
    """Each existing file (or folder: under its own name) as an artifact; the names logged."""
    logged = []
    for path in paths:
        if path.is_file():
            mlflow_client.log_artifact(run_id, str(path))
        elif path.is_dir() and any(path.iterdir()):
            mlflow_client.log_artifacts(run_id, str(path), artifact_path=path.name.lstrip("."))
        else:
            continue
        logged.append(path.name)
    return logged


def end_run(mlflow_client, run_id: str, status: str) -> None:
    """Terminate the run unless something already did (an atexit guard and on_job_end may both try)."""
    if mlflow_client.get_run(run_id).info.status == "RUNNING":
        mlflow_client.set_terminated(run_id, status)


def status_of(exit_code) -> str:
    return STATUS.get(exit_code, "FAILED") if isinstance(exit_code, int) else "FAILED"


def end_quietly(client, run_id: str, status: str) -> None:
    """end_run for an atexit guard: the process is ending, and a store that is gone cannot be helped."""
    try:
        end_run(client, run_id, status)
    except Exception:
        pass
