"""What on_job_end logs for one job: the run id into run.json, then params, metrics, tags and files."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from runner.outputs.rundir import ERRORS, HYDRA_DIR, LOG, METRICS, PREDICTIONS, RECORD, RERUN, TABLES, RunDir
from runner.tracking import store
from runner.tracking.settings import TrackingSettings

log = logging.getLogger("runner")

RUN_FILES = (METRICS, RECORD, LOG, RERUN)
ROW_FILES = (PREDICTIONS, *TABLES, ERRORS)  # left out with tracking.log_predictions=false


def start_run(
    settings: TrackingSettings, job_dir: Path, config: Any, parent: dict | None = None, name: str | None = None
) -> tuple:
    """Open the job's MLflow run (RUNNING), a child of `parent` (a sweep's mlflow_parent.json) when
    given; an atexit guard ends it KILLED if the process ends before log_job does."""
    import atexit

    if parent:
        client, uri = store.client(TrackingSettings("mlflow", parent["tracking_uri"]))
        experiment = parent["experiment_id"]
    else:
        client, uri = store.client(settings)
        experiment = store.experiment_id(client, settings, uri, settings.experiment_for(config))
    name = name or settings.run_name or f"{job_dir.parent.name}/{job_dir.name}"
    tags = {**settings.tags, "runner.kind": "point" if parent else "run", "runner.run_dir": str(job_dir)}
    if parent:
        tags["mlflow.parentRunId"] = parent["parent_run_id"]
    run_id = client.create_run(experiment, run_name=name, tags=tags).info.run_id
    atexit.register(store.end_quietly, client, run_id, "KILLED")
    return client, uri, experiment, run_id, parent and parent["parent_run_id"]


def log_job(opened: tuple, job_dir: Path, config: Any, settings: TrackingSettings, exit_code: int) -> None:
    """Log the finished job into its run and end it; the run ends whatever happens here."""
    client, uri, experiment, run_id, parent_id = opened
    status = store.status_of(exit_code)
    try:
        run_dir = RunDir(job_dir)
        metrics, record = _read(run_dir)
        _record_run_id(
            run_dir,
            record,
            {
                "backend": "mlflow",
                "tracking_uri": uri,
                "experiment_id": experiment,
                "run_id": run_id,
                "parent_run_id": parent_id,
            },
        )
        store.log_params(client, run_id, (record or {}).get("config") or _job_config(config))
        store.log_metrics(client, run_id, metrics or {})
        client.set_tag(run_id, "runner.exit_code", str(exit_code))
        client.set_tag(run_id, "runner.status", str((metrics or {}).get("status") or "none"))
        rows_dir = Path((metrics or {}).get("run_dir") or job_dir)  # a resumed run wrote rows into its original
        files = [job_dir / name for name in RUN_FILES] + [job_dir / HYDRA_DIR]
        if settings.log_predictions:
            files += [rows_dir / name for name in ROW_FILES]
        store.log_files(client, run_id, files)
    except Exception:  # the job's outputs are intact; tracking must not turn a finished run into a failure
        log.exception("tracking: could not log run %s into %s", run_id, uri)
        status = "FAILED"
    finally:
        store.end_run(client, run_id, status)
    log.info("tracking: MLflow run %s (%s) in %s", run_id, status, uri)


def _read(run_dir: RunDir) -> tuple[dict | None, dict | None]:
    try:
        metrics = run_dir.read_metrics()
    except ValueError:
        metrics = None
    try:
        record = run_dir.read_record()
    except ValueError:
        record = None
    return (metrics.to_json() if metrics else None), (record.to_json() if record else None)


def _record_run_id(run_dir: RunDir, record: dict | None, tracking: dict) -> None:
    """run.json says where its MLflow run is (before run.json is logged, so the artifact says it too)."""
    if record is not None:
        run_dir.write_record({**record, "tracking": tracking})


def _job_config(config: Any) -> dict:
    """A job that wrote no run.json (a config error): Hydra's config, secrets redacted."""
    from omegaconf import OmegaConf

    from runner.core.redact import redact

    plain = dict(config) if isinstance(config, dict) else OmegaConf.to_container(config, resolve=False)
    plain.pop("hydra", None)
    return redact(plain)
