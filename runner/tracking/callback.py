"""The Hydra callback that tracks runs in MLflow (registered in conf/config.yaml as hydra.callbacks.tracking;
it does nothing unless the config says tracking=mlflow).

    on_multirun_start  the parent run of a sweep; its id written to <sweep dir>/mlflow_parent.json,
                       which every job reads, in this process or another (joblib, submitit)
    on_job_start       the job's run (a child of the parent in a sweep), RUNNING while the job runs
    on_job_end         params, metrics and files of the finished job; the run id into run.json;
                       the run ended FINISHED (exit code 0), KILLED (130) or FAILED (any other)
    on_multirun_end    the sweep report's files on the parent, which ends FINISHED when every child did;
                       each point's agreement with the sweep's reference point (sweep.json) on its child run,
                       since it can only be measured once every point has finished; and on the parent,
                       the recommendation (tags, metrics) and each point's figures as a metric series

Hydra calls the *_end hooks in reverse order of registration: this callback is listed before
sweep_report, so the report is written when on_multirun_end logs it. An atexit guard ends a run that a
crash left open, so no run stays RUNNING once the process is gone (short of SIGKILL).
"""

from __future__ import annotations

import atexit
import json
import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

from runner.tracking.settings import TrackingSettings

log = logging.getLogger("runner")

PARENT_FILE = "mlflow_parent.json"  # in the sweep dir: how jobs in other processes find their parent run
REPORT_FILES = ("sweep.md", "sweep.csv", "sweep.json", "sweep.png", "multirun.yaml")


class Tracking(Callback):
    def __init__(self) -> None:
        self._runs: dict[str, tuple] = {}  # job dir -> (client, uri, experiment id, run id, parent id)
        self._parent: tuple | None = None  # (settings, run id)

    def __getstate__(self) -> dict:
        """Launchers (joblib, submitit) pickle the callback to their jobs: open clients stay here."""
        return {"_runs": {}, "_parent": None}

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        settings = TrackingSettings.from_config(config)
        if not settings.enabled:
            return
        sweep_dir = Path(str(config.hydra.sweep.dir)).resolve()
        (sweep_dir / PARENT_FILE).unlink(missing_ok=True)  # a reused sweep dir: its jobs must not find an old parent
        try:
            self._start_parent(settings, config, sweep_dir)
        except Exception as error:  # the jobs still run and are tracked, each on its own
            log.error("tracking: could not start the sweep's MLflow run in %s: %s", settings.store_uri(), error)

    def _start_parent(self, settings: TrackingSettings, config: Any, sweep_dir: Path) -> None:
        from runner.tracking import store

        client, uri = store.client(settings)
        experiment = store.experiment_id(client, settings, uri, settings.experiment_for(config))
        name = settings.run_name or f"sweep {sweep_dir.parent.name}/{sweep_dir.name}"
        run = client.create_run(
            experiment,
            run_name=name,
            tags={**settings.tags, "runner.kind": "sweep", "runner.sweep_dir": str(sweep_dir)},
        )
        overrides = [str(o) for o in config.hydra.overrides.task]
        client.log_param(run.info.run_id, "overrides", store.param_value(" ".join(overrides)))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        handoff = {
            "tracking_uri": uri,
            "experiment_id": experiment,
            "parent_run_id": run.info.run_id,
            "swept": _swept_keys(overrides),
        }
        (sweep_dir / PARENT_FILE).write_text(json.dumps(handoff, indent=2) + "\n")
        self._parent = (TrackingSettings("mlflow", uri), run.info.run_id)
        atexit.register(store.end_quietly, client, run.info.run_id, "FAILED")
        log.info("tracking: MLflow sweep run %s in %s", run.info.run_id, uri)

    def on_job_start(self, config: Any, **kwargs: Any) -> None:
        settings = TrackingSettings.from_config(config)
        if not settings.enabled or _shows_graph(config):
            return
        from runner.tracking.job import start_run

        job_dir = Path(str(config.hydra.runtime.output_dir))
        parent = _read_parent(config)
        name = _job_name(config, parent) if parent else None
        try:
            self._runs[str(job_dir)] = start_run(settings, job_dir, config, parent, name)
        except Exception as error:  # the store is unreachable or refuses: the job runs untracked, said so
            log.error(
                "tracking: could not start an MLflow run in %s (the run goes on untracked): %s",
                parent["tracking_uri"] if parent else settings.store_uri(),
                error,
            )

    def on_job_end(self, config: Any, job_return: Any, **kwargs: Any) -> None:
        opened = self._runs.pop(str(config.hydra.runtime.output_dir), None)
        if opened is None:
            return
        from hydra.core.utils import JobStatus

        from runner.tracking.job import log_job

        job_dir = Path(str(config.hydra.runtime.output_dir))
        code = job_return.return_value if job_return.status == JobStatus.COMPLETED else 1
        if not isinstance(code, int) or isinstance(code, bool):  # a task function returning a metric (an objective)
            code = _exit_code_from_files(job_dir)
        log_job(opened, job_dir, config, TrackingSettings.from_config(config), code)

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        if self._parent is None:
            return
        from runner.tracking import store

        settings, run_id = self._parent
        self._parent = None
        client, _ = store.client(settings)
        sweep_dir = Path(str(config.hydra.sweep.dir))
        status = "FAILED"
        try:
            store.log_files(client, run_id, [sweep_dir / name for name in REPORT_FILES])
            points, recommended = _read_report(sweep_dir)
            _log_agreement(client, sweep_dir, points)
            _log_summary(client, run_id, points, recommended)
            status = _sweep_status(client, run_id)
        finally:
            store.end_run(client, run_id, status)


def _read_report(sweep_dir: Path) -> tuple[list[dict], list[dict]]:
    """sweep.json's points and recommendation(s); none when there is no report (nothing was compared)."""
    try:
        report = json.loads((sweep_dir / "sweep.json").read_text())
        return list(report["points"]), list(report.get("recommended") or [])
    except (OSError, ValueError, KeyError, TypeError):
        return [], []


def _log_agreement(client, sweep_dir: Path, points: list[dict]) -> None:
    """The quality figures of each point (runner.sweep.quality.metrics_of) as metrics of its child run, found
    through the run id its run.json holds. A finished run takes metrics still; a point without figures or a
    run is left alone."""
    from runner.sweep.quality import metrics_of
    from runner.tracking import store

    for point in points:
        figures = metrics_of(point)
        run_id = _child_run_id(sweep_dir / point["job"])
        if figures and run_id:
            try:
                store.log_metrics(client, run_id, figures)
            except Exception as error:  # one run the store refuses must not stop the others, nor the parent
                log.error("tracking: could not log the agreement of %s into run %s: %s", point["job"], run_id, error)


def _log_summary(client, run_id: str, points: list[dict], recommended: list[dict]) -> None:
    """The sweep at a glance on its parent run, where the MLflow UI lists it: the recommendation as tags
    (runner.recommended, one per group when the sweep has groups) and metrics (recommended.batch_size,
    recommended.items_per_second), the point counts, and each point's figures as a metric series whose
    step is the point's place in the report (`point.items_per_second` over the steps is the sweep's curve)."""
    import time

    from mlflow.entities import Metric, RunTag

    from runner.sweep.quality import metrics_of
    from runner.sweep.recommend import sentence

    now = int(time.time() * 1000)
    tags, metrics = (
        [],
        [
            Metric("points", float(len(points)), now, 0),
            Metric("points_ok", float(sum(p.get("status") == "ok" for p in points)), now, 0),
        ],
    )
    for best in recommended:
        suffix = f".{best['group']}" if best.get("group") else ""
        tags.append(RunTag(f"runner.recommended{suffix}", f"batch_size {sentence(best)}, job {best['job']}"))
        for key in ("batch_size", "items_per_second"):
            if isinstance(best.get(key), (int, float)):
                metrics.append(Metric(f"recommended{suffix}.{key}", float(best[key]), now, 0))
    if not recommended:
        tags.append(RunTag("runner.recommended", "none (see sweep.md)"))
    for step, point in enumerate(points):
        figures = {key: point.get(key) for key in ("batch_size", "items_per_second")}
        figures.update(metrics_of(point))
        metrics += [
            Metric(f"point.{key}", float(value), now, step)
            for key, value in figures.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)
        ]
    try:
        for start in range(0, len(metrics), 1000):  # MLflow takes up to 1000 metrics per request
            client.log_batch(run_id, metrics=metrics[start : start + 1000], tags=tags if start == 0 else [])
    except Exception as error:  # the report is on the run as files already; the summary is a view of it
        log.error("tracking: could not log the sweep's summary into run %s: %s", run_id, error)


def _child_run_id(job_dir: Path) -> str | None:
    try:
        return json.loads((job_dir / "run.json").read_text())["tracking"]["run_id"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _read_parent(config: Any) -> dict | None:
    """The sweep's parent run, from the sweep dir; None for a single run (or a sweep started untracked)."""
    from hydra.types import RunMode

    if config.hydra.mode != RunMode.MULTIRUN:
        return None
    path = Path(str(config.hydra.sweep.dir)) / PARENT_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _exit_code_from_files(job_dir: Path) -> int:
    """The job's exit code when its task function returned something else: from metrics.json's status
    (a finished run, out-of-memory points included: 0; interrupted: 130; anything else: 1)."""
    from runner.outputs.rundir import FINISHED, RunDir

    try:
        metrics = RunDir(job_dir).read_metrics()
    except ValueError:
        return 1
    status = metrics.status if metrics else None
    return 0 if status in FINISHED else 130 if status == "interrupted" else 1


def _shows_graph(config: Any) -> bool:
    """graph.show=true prints the graph and runs nothing: no run to track."""
    graph = config.get("graph")
    return bool(graph.get("show")) if hasattr(graph, "get") else False


def _swept_keys(overrides: list[str]) -> list[str]:
    """The keys a sweep varies (`batch_size=1,2` -> batch_size): its points are named by them."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception:  # Hydra reports a bad override itself; the points are then named by their number
        return []
    return [o.get_key_element().lstrip("+~") for o in parsed if o.is_sweep_override()]


def _job_name(config: Any, parent: dict) -> str:
    """A point's run is named by what sets it apart: its values of the swept keys."""
    swept = set(parent.get("swept") or ())
    own = [str(o) for o in config.hydra.overrides.task if str(o).split("=", 1)[0].lstrip("+~") in swept]
    return " ".join(own) or f"job {config.hydra.job.num}"


def _sweep_status(client, parent_run_id: str) -> str:
    children = client.search_runs(
        [client.get_run(parent_run_id).info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'"
    )
    return "FINISHED" if children and all(c.info.status == "FINISHED" for c in children) else "FAILED"
