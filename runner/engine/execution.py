"""One execution of a plan: load the steps, stream the rows through them, count what happened."""

from __future__ import annotations

import logging
import time
from contextlib import closing
from functools import partial
from pathlib import Path
from typing import Iterator

from runner.engine.autobatch import choose_batch_size
from runner.engine.heap import frozen_heap
from runner.engine.contention import ContentionWatch
from runner.engine.loop import Counters, PredictionWriter, RowLoop, cpu_threads
from runner.engine.measure import Measuring, measure_more
from runner.engine.metrics import build_metrics
from runner.engine.progress import progress_bar
from runner.engine.prefetch import decode_ahead, prefetch_depth
from runner.engine.probe import run_probe
from runner.engine.rows import Item, RowReader, chunk_size, chunk_sizes
from runner.engine.segments import earlier_segments
from runner.engine.settings import Settings
from runner.engine.staged import run_staged
from runner.engine.step_run import StepRun, load_step
from runner.outputs.media import MediaFiles
from runner.backends.cache import PipelineCache, load_key
from runner.outputs.rundir import open_journal

log = logging.getLogger(__name__)


class Execution:
    def __init__(
        self, plan, run_dir: Path, settings: Settings, done: set[int], cache: PipelineCache, append: bool = False
    ):
        self.plan = plan
        self.run_dir = Path(run_dir)
        self.settings = settings
        self.cache = cache
        self.reader = RowReader(plan, done)
        self.counters = Counters()
        self.steps: list[StepRun] = []  # loaded so far (a staged run loads them one stage at a time)
        self.earlier = earlier_segments(self.run_dir, append)  # a resumed run's segments so far
        self.staged = plan.views.graph.free_finished_models and len(plan.steps) > 1
        self.rows_seconds: float | None = None  # run(): first row read to last row written, loads excluded
        self.prefetch_rows = 0  # dataset.prefetch as resolved for the rows read so far (the largest, staged)
        self.measuring: Measuring | None = None  # benchmark mode: the passes that timed the rows
        self.watch: ContentionWatch | None = None  # made once the first models are loaded (torch's threads set)

    def load_steps(self) -> None:
        """Load every step's model now, or (graph.free_finished_models) only the first: the staged
        run loads each step's model when its stage starts and frees it when the stage ends."""
        names = list(self.plan.steps)
        first = names[:1] if self.staged else names
        self.cache.keep_only({load_key(self.plan.step_views[n]) for n in first})
        for name in first:
            self.load_step(name)

    def load_step(self, name: str) -> StepRun:
        run = load_step(self.plan, name, self.cache, self.settings)
        self.steps.append(run)  # before the batch size search, so an oom there still reports the step
        if run.view.run.batch_size == "auto":
            choose_batch_size(run, self.reader)
        return run

    def run(self, append: bool, keep: dict[str, list]) -> None:
        with frozen_heap():  # the models and libraries loaded so far stay out of full collections
            started, loaded = time.perf_counter(), len(self.steps)
            try:
                self._run(append, keep)
            finally:  # a staged run loads its later steps' models in here: their load time is not the rows'
                loads = sum(run.loaded.load_seconds for run in self.steps[loaded:] if not run.reused)
                self.rows_seconds = time.perf_counter() - started - loads
            if self.settings.bench and self.steps:  # after the rows are written, outside their end-to-end time
                self.measuring = measure_more(self)
            for run in self.steps:  # quantization=int8: the float32 probe, untimed (a staged run's ran already)
                run_probe(run)

    def _run(self, append: bool, keep: dict[str, list]) -> None:
        with (
            open_journal(self.run_dir, append, keep) as (predictions, errors),
            progress_bar(
                self.plan,
                self.settings.progress,
                len(self.reader.done),
                self.staged,
                [run.spec.id for run in self.steps],
            ) as bar,
        ):
            self.watch = self.watch or ContentionWatch(cpu_threads())
            loop = RowLoop(self.settings, self.run_dir, self.counters, errors, bar, watch=self.watch)
            writer = PredictionWriter(
                predictions,
                self.settings,
                self.steps,
                self.plan.graph.one_task,
                self.counters,
                MediaFiles(self.run_dir),
            )
            if self.staged:
                run_staged(self, loop, writer.write)
            else:
                with closing(self.chunks(self.steps)) as chunks:
                    loop.run_chunks(chunks, self.steps, writer.write)
        if self.reader.done and not self.reader.rows_read:
            log.info("nothing left to do: the %d rows of %s were already done", len(self.reader.done), self.run_dir)

    def chunks(self, runs: list[StepRun], state: Path | None = None) -> Iterator[list[Item]]:
        """The rows for `runs` in chunks; with dataset.prefetch, their source inputs already decoded."""
        size = chunk_size(self.steps, self.settings)
        depth = prefetch_depth(self.settings.prefetch, runs, size)
        self.prefetch_rows = max(self.prefetch_rows, depth)
        sizes = chunk_sizes(size, self.settings, depth)
        if not depth:
            return self.reader.chunks(sizes, state)  # each row decoded when its step prepares it
        log.info("decoding up to %d rows ahead in a background thread (dataset.prefetch)", depth)
        return self.reader.chunks(sizes, state, partial(decode_ahead, runs), depth)

    def metrics(self, status: str, started: float, error: str | None = None) -> dict:
        return build_metrics(self, status, started, error)
