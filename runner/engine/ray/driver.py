"""execute() for engine=ray: the plan's chunks through one Ray Data stage per step, the records
written by the driver in input order (Ray keeps the order: DataContext.preserve_order).

Multi-step graphs run as chained stages, one actor pool per step: each pool holds one model, Ray
streams chunks from stage to stage (a GPU stage and a CPU stage overlap), and a step's actors get
their own resources. Items travel pickled between stages, so a later step sees an earlier step's
outputs exactly as in this process (not re-read from JSON).

An actor that dies is restarted (engine.max_restarts) and its chunk run again; a chunk that
reaches the driver twice (a retried task that had already sent it) is dropped by its first index,
so no row is lost or written twice."""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections import Counter
from pathlib import Path

from runner.bench.memory import reset_peak_memory
from runner.engine.errors import OutOfMemory, RowFailed, ended_by
from runner.engine.progress import library_progress_bars, progress_bar
from runner.engine.rows import chunk_size
from runner.engine.segments import earlier_segments
from runner.engine.settings import Settings
from runner.engine.ray.chunk import COLUMN, Chunk, loads
from runner.engine.ray.cluster import ordered_data_context, ray_cluster
from runner.engine.ray.metrics import build_ray_metrics
from runner.engine.ray.probe import ProbeRows
from runner.config.engine import EngineSettings
from runner.outputs.rundir import Metrics, RunDir, open_journal
from runner.outputs.sinks import JsonlSink

log = logging.getLogger(__name__)


def execute(
    plan,
    run_dir: Path,
    bench: bool = False,
    done: set[int] | None = None,
    append: bool = False,
    keep: dict[str, list] | None = None,
    cache=None,
) -> Metrics:
    """runner.engine.execute's contract on Ray: the same files and metrics keys. `bench` is off on Ray
    (bench.enabled=true is a config error; auto in a sweep runs as a normal run); `cache` is unused:
    models live in the actors."""
    run = RayRun(plan, Path(run_dir), plan.engine, done or set(), append)
    started, status, error = time.perf_counter(), "error", None
    reset_peak_memory()
    try:
        with (
            library_progress_bars(run.settings.progress),
            ray_cluster(run.engine, len(plan.steps)) as cluster,
            ordered_data_context(),
        ):
            run.cluster = cluster
            run.run(keep or {})
        status = "ok"
    except BaseException as failure:  # SystemExit too: a requeue under submitit is an interruption here as well
        status, error = ended_by(failure)
        raise
    finally:
        metrics = Metrics.from_json(build_ray_metrics(run, status, started, error))
        RunDir(run.run_dir).write_metrics(metrics)
    return metrics


class RayRun:
    def __init__(self, plan, run_dir: Path, engine: EngineSettings, done: set[int], append: bool):
        self.plan, self.run_dir, self.engine, self.done, self.append = plan, run_dir, engine, done, append
        self.settings = Settings.from_views(plan.views, bench=False)
        self.earlier = earlier_segments(run_dir, append)
        self.counters = Counter()  # rows_in, rows_out, rows_error, rows_skipped
        self.skipped_causes: Counter = Counter()
        self.stats: list[dict] = []  # every stage's figures for every chunk written
        self.step_metrics: dict[str, dict] = {}
        self.cluster: dict = {}
        self.started = time.perf_counter()
        self.first_chunk_seconds: float | None = None  # from the cluster's start to the first chunk written
        self.steady: list = [None, None, 0]  # first and last chunk's write time, rows written after the first chunk
        self.rows_seconds: float | None = None
        self.dropped_chunks = 0
        self.probe = ProbeRows(plan.step_views)  # quantization=int8: the rows of the agreement probe

    def run(self, keep: dict[str, list]) -> None:
        rows_started = time.perf_counter()
        with (
            open_journal(self.run_dir, self.append, keep) as (predictions, errors),
            progress_bar(
                self.plan,
                self.settings.progress,
                len(self.done),
                False,
                [s.task.name for s in self.plan.step_views.values()],
            ) as bar,
        ):
            last_first = -1
            for row in self.dataset().iter_rows():
                chunk = loads(row[COLUMN])
                if chunk.first <= last_first:  # resent by a retried task: already written
                    self.dropped_chunks += 1
                    continue
                last_first = chunk.first
                self._write(chunk, predictions, errors)
                bar.update(len(chunk.records) + sum(chunk.skipped.values()))
        self.rows_seconds = time.perf_counter() - rows_started
        self.probe.run(self.stage_plan(), self.engine, self.step_metrics)  # untimed, as on engine=local
        if self.done and not self.counters["rows_in"]:
            log.info("nothing left to do: the %d rows of %s were already done", len(self.done), self.run_dir)

    def dataset(self):
        import ray.data

        from runner.engine.ray.reader import ChunkSource

        size = chunk_size([_Sized(s.run.batch_size) for s in self.plan.step_views.values()], self.settings)
        dataset = ray.data.read_datasource(
            ChunkSource(self.plan, self.done, size, os.getcwd()), num_cpus=0, override_num_blocks=1
        )
        stage = self.stage_plan()
        names = list(self.plan.steps)
        for position, name in enumerate(names):
            with warnings.catch_warnings():  # max_restarts has no named parameter in Ray 2.60 (see _restarts)
                warnings.simplefilter("ignore", DeprecationWarning)
                dataset = self._stage(dataset, stage, name, position == len(names) - 1)
        return dataset

    def stage_plan(self):
        """What an actor (or the int8 probe's task) needs of the plan."""
        from runner.engine.ray.stage import BaseDir, StagePlan

        return StagePlan(
            self.plan.views,
            self.plan.step_views,
            self.plan.graph,
            BaseDir(self.plan.source.base_dir()),
            str(self.run_dir),
            os.getcwd(),
            self.engine.actor_threads(self.plan.views.run.threads),
        )

    def _stage(self, dataset, stage, name: str, last: bool):
        import ray.data

        from runner.engine.ray.stage import StageActor, fault_from_env

        # batch_size=1: a row of the dataset is one whole chunk of the local engine
        return dataset.map_batches(
            StageActor,
            batch_size=1,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=self.engine.actors),
            num_cpus=self.engine.cpus_per_actor,
            num_gpus=self.engine.gpus_per_actor or None,
            fn_constructor_kwargs={"stage": stage, "name": name, "last": last, "fault": fault_from_env()},
            **_restarts(self.engine.max_restarts),
        )

    def _write(self, chunk: Chunk, predictions: JsonlSink, errors: JsonlSink) -> None:
        if chunk.failure is not None:
            _raise(chunk.failure)
        now = time.perf_counter()
        if self.first_chunk_seconds is None:
            self.first_chunk_seconds = now - self.started
            self.steady[0] = now
        else:
            self.steady[1:] = [now, self.steady[2] + len(chunk.records) + sum(chunk.skipped.values())]
        for kind, record in chunk.records:
            self.counters["rows_in"] += 1
            if kind == "prediction":
                predictions.write(record)
                self.counters["rows_out"] += 1
            else:
                log.warning(
                    "row %r failed in %s (%s): %s", record["id"], record["step"], record["stage"], record["error"]
                )
                errors.write(record)
                self.counters["rows_error"] += 1
        skipped = sum(chunk.skipped.values())
        self.counters["rows_in"] += skipped
        self.counters["rows_skipped"] += skipped
        self.skipped_causes.update(chunk.skipped)
        self.stats.extend(chunk.stats)
        self.step_metrics.update(chunk.step_metrics)
        self.probe.add(chunk)


def _restarts(count: int) -> dict:
    """A dead actor restarts and its chunk runs again, `count` times at most (Ray Data's default is
    forever: a row that kills its actor every time would never end the run). Ray 2.60 takes these as
    ray_remote_args only, which it calls deprecated (the named parameters have no such keys yet)."""
    return {"max_restarts": count, "max_task_retries": count}


class _Sized:
    def __init__(self, batch_size: int):
        self.batch_size = batch_size


def _raise(failure: dict) -> None:
    """A chunk's on_error=fail or out-of-memory, raised here once every earlier chunk is written."""
    if failure["kind"] == "oom":
        raise OutOfMemory(failure["step"], failure["batch_size"], RuntimeError(failure["message"]))
    raise RowFailed(failure["message"], failure["hint"])
