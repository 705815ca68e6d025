"""One step of the plan as a Ray Data stage: an actor that loads the step's model once (the local
engine's load_step) and runs each chunk through it with the local RowLoop, so prepare, batching,
the row-by-row retry of a failed batch, on_error and the records themselves are engine=local's code.
The last stage also settles the chunk: its records, in input order, go back to the driver."""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from runner.engine.errors import OutOfMemory, RowFailed
from runner.engine.loop import Counters, PredictionWriter, RowLoop
from runner.engine.metrics import step_metrics
from runner.engine.progress import NoBar
from runner.engine.settings import Settings
from runner.engine.ray.chunk import COLUMN, Chunk, loads
from runner.core.views import ConfigViews, StepView

log = logging.getLogger(__name__)

# Opt-in fault hook for tests (like runner/bench/oom.py's RUNNER_INJECT_OOM_ABOVE): the actor that gets
# the row with this index kills itself with SIGKILL, once (the marker file says it happened).
KILL_AT_INDEX = "RUNNER_RAY_KILL_AT_INDEX"
KILL_MARKER = "RUNNER_RAY_KILL_MARKER"


@dataclass(frozen=True)
class BaseDir:
    path: object

    def base_dir(self):
        return self.path


@dataclass
class StagePlan:
    """What an actor needs of the plan (load_step reads step_views, graph and source.base_dir()): the
    plan's views, frozen dataclasses, pickle to the actors as they are."""

    views: ConfigViews
    step_views: dict[str, StepView]
    graph: object
    source: BaseDir
    run_dir: str
    cwd: str  # the driver's: relative model and data paths mean what they mean to the user
    threads: int


@dataclass(frozen=True)
class _EarlierStep:
    """An earlier stage's step as the last stage's PredictionWriter reads it (its outputs travel on the items)."""

    name: str
    output: str
    spec: object


class _Collected:
    """Stands in for a JsonlSink: the records of one chunk, in the order they are settled."""

    def __init__(self, records: list, kind: str):
        self.records, self.kind = records, kind

    def write(self, record: dict) -> None:
        self.records.append((self.kind, record))


class StageActor:
    def __init__(self, stage: StagePlan, name: str, last: bool, fault: tuple[int, str] | None = None):
        self.stage, self.name, self.last, self.fault = stage, name, last, fault
        self.settings = Settings.from_views(stage.views, bench=False)
        self.run = load_stage_step(stage, name, self.settings)
        # quantization=int8: the actor keeps its first probe rows and sends them to the driver on their
        # chunks; the float32 comparison runs once at the end (runner/engine/ray/probe.py), so the float32
        # copy is not kept here.
        self.run.loaded.reference = None
        self.probe_sent = 0
        self.actor = _actor_id()
        self.pid, self.node = os.getpid(), socket.gethostname()

    def __call__(self, batch: dict) -> dict:
        out = [self._chunk(loads(blob)).dumps() for blob in batch[COLUMN]]
        return {COLUMN: np.array(out, dtype=object)}

    def _chunk(self, chunk: Chunk) -> Chunk:
        if chunk.failure is not None:  # an earlier stage stopped on it: the driver raises it
            return chunk
        self._maybe_die(chunk)
        started, seconds, timed = time.perf_counter(), self.run.recorder.seconds, self.run.recorder.rows
        try:
            self._run(chunk)
        except RowFailed as failed:
            chunk.failure = {"kind": "row_failed", "message": failed.message, "hint": failed.hint, "step": self.name}
        except OutOfMemory as oom:
            chunk.failure = {
                "kind": "oom",
                "message": f"{type(oom.error).__name__}: {oom.error}",
                "hint": None,
                "step": oom.step,
                "batch_size": oom.batch_size,
            }
        chunk.stats.append(
            {
                "actor": self.actor,
                "pid": self.pid,
                "node": self.node,
                "step": self.name,
                "rows": self.run.recorder.rows - timed,
                "seconds": self.run.recorder.seconds - seconds,
                "wall_seconds": time.perf_counter() - started,
                "load_seconds": self.run.loaded.load_seconds,
            }
        )
        chunk.step_metrics[self.name] = step_metrics(self.run)
        self._send_probe_rows(chunk)
        return chunk

    def _send_probe_rows(self, chunk: Chunk) -> None:
        """The rows kept for the int8 probe while running this chunk travel on it to the driver."""
        probe = self.run.probe
        if probe is None or chunk.failure is not None or len(probe.indices) == self.probe_sent:
            return
        new = slice(self.probe_sent, len(probe.indices))
        chunk.probe[self.name] = list(zip(probe.indices[new], probe.inputs[new], probe.outputs[new]))
        self.probe_sent = len(probe.indices)

    def _run(self, chunk: Chunk) -> None:
        counters = Counters()
        loop = RowLoop(self.settings, Path(self.stage.run_dir), counters, _Collected(chunk.records, "error"), NoBar())
        loop.run_steps(chunk.items, [self.run])
        if not self.last:
            return
        from runner.outputs.media import MediaFiles

        writer = PredictionWriter(
            _Collected(chunk.records, "prediction"),
            self.settings,
            self._written(),
            self.stage.graph.one_task,
            counters,
            MediaFiles(Path(self.stage.run_dir)),
        )
        loop.settle(chunk.items, writer.write)
        chunk.skipped = counters.skipped_causes
        chunk.items = []  # settled: only the records travel back

    def _written(self) -> list:
        """Every step, in order, for output.steps=all: the earlier ones by name, output key and task."""
        from runner.tasks import TASKS

        earlier = [
            _EarlierStep(name, step.output, TASKS[step.task.name])
            for name, step in self.stage.step_views.items()
            if name != self.name
        ]
        return [*earlier, self.run]

    def _maybe_die(self, chunk: Chunk) -> None:
        if self.fault is None:
            return
        index, marker = self.fault
        if any(item.row.index == index for item in chunk.items) and not os.path.exists(marker):
            Path(marker).write_text(f"{self.actor} {self.pid}\n")
            log.warning("fault hook: actor %s (pid %d) kills itself at row %d", self.actor, self.pid, index)
            os.kill(os.getpid(), signal.SIGKILL)


def load_stage_step(stage: StagePlan, name: str, settings: Settings):
    """The step loaded in this Ray worker as engine=local loads it, from the driver's working dir, with
    the actor's threads and the run's seed."""
    from runner.backends.cache import PipelineCache
    from runner.engine.step_run import apply_threads, load_step, seed_everything

    if os.path.isdir(stage.cwd):
        os.chdir(stage.cwd)
    apply_threads(stage.threads)
    run = stage.views.run
    seed_everything(run.seed, run.deterministic)
    return load_step(stage, name, PipelineCache(), settings)


def fault_from_env() -> tuple[int, str] | None:
    """The fault hook's settings, read on the driver (actors of a running cluster do not see its env)."""
    index, marker = os.environ.get(KILL_AT_INDEX), os.environ.get(KILL_MARKER)
    return (int(index), marker) if index and marker else None


def _actor_id() -> str:
    import ray

    return ray.get_runtime_context().get_actor_id() or f"pid-{os.getpid()}"
