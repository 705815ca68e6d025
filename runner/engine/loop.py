"""The row loop: each chunk of rows (one batch) goes through the steps, then its rows are settled at
once, in input order: every finished row handed on (predictions.jsonl), every failed one recorded.

A row that cannot be prepared or that breaks its batch fails alone (errors.jsonl with its id,
index, step and error; or skipped, or the run stops: `on_error`); every other row reaches
predictions.jsonl in input order. Both files are written chunk by chunk in index order, so
errors.jsonl is in input order too (a prepare failure of a later row is found before a run failure
of an earlier one, but written after it)."""

from __future__ import annotations

import logging
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Callable, Iterable

from runner.engine.calls import call_step
from runner.engine.contention import ContentionWatch
from runner.engine.error_summary import cause_of, hint_for
from runner.engine.errors import RowFailed
from runner.engine.pipeline_step import to_jsonable
from runner.engine.rows import Item, step_view
from runner.engine.settings import Settings
from runner.engine.step_run import StepRun
from runner.outputs.media import MediaFiles
from runner.outputs.sinks import JsonlSink
from runner.sources import REFERENCE

log = logging.getLogger(__name__)

Finish = Callable[[Item], None]  # what becomes of a row that went through every step of the loop
# Failing rows said one by one on screen; after these, one line says the rest go to run.log only (the
# count by cause closes the run: runner.engine.error_summary).
ROWS_SHOWN = 10


@dataclass
class Counters:
    """This segment's rows, counted when they are settled: rows_in = rows_out + rows_error +
    rows_skipped always, also when the run is stopped mid-chunk (rows not settled then are not in)."""

    rows_in: int = 0
    rows_out: int = 0
    rows_error: int = 0
    rows_skipped: int = 0  # on_error=skip
    skipped_causes: Counter = field(default_factory=Counter)  # skipped rows' causes (they are in no file)
    stopped_early: bool = False  # the benchmark budget was reached


def cpu_threads() -> int:
    """The CPU threads the steps compute with: torch's (set by `threads`), once torch is loaded; else one
    per core (a backend with its own thread pool sizes it from the same setting)."""
    torch = sys.modules.get("torch")
    return torch.get_num_threads() if torch is not None else os.cpu_count() or 1


class RowLoop:
    def __init__(
        self,
        settings: Settings,
        run_dir: Path,
        counters: Counters,
        errors: JsonlSink,
        bar,
        say_failures: bool = True,
        watch: ContentionWatch | None = None,
    ):
        self.settings = settings
        self.run_dir = run_dir
        self.counters = counters
        self.errors = errors
        self.bar = bar
        # False for a benchmark's re-timing passes: their rows failed (and were said) in the written pass
        self.say_failures = say_failures
        self.failures_said = 0
        # the execution's, shared by its passes and stages: says at most once per run that others take the cores
        self.watch = watch

    def run_chunks(self, chunks: Iterable[list[Item]], runs: list[StepRun], finish: Finish) -> None:
        """Every chunk through every step; in benchmark mode, until the last step's budget is spent."""
        for chunk in chunks:
            self.run_chunk(chunk, runs, finish)
            if runs[-1].recorder.done:
                self.counters.stopped_early = True
                log.info("benchmark budget reached after %d timed rows: stopping", runs[-1].recorder.rows)
                break

    def run_chunk(self, chunk: list[Item], runs: list[StepRun], finish: Finish) -> None:
        try:
            self.run_steps(chunk, runs)
        except RowFailed:
            batches = [list(items) for _, items in groupby(chunk, key=lambda item: item.batch)]
            if len(batches) == 1:
                raise
            # on_error=fail in a chunk of grouped batches: its batches again one at a time, so the ones
            # before the failing row's are written, as they would have been alone; that one raises again.
            for item in chunk:
                for run in runs:
                    item.outputs.pop(run.name, None)
            for batch in batches:
                self.run_chunk(batch, runs, finish)
            return
        self.settle(chunk, finish)
        if self.watch is not None:
            self.watch.check()

    def run_steps(self, chunk: list[Item], runs: list[StepRun]) -> None:
        """The chunk's live rows through each step: outputs kept on the items, failures marked on them
        (engine=ray runs one step per stage and settles the chunk in its last stage)."""
        for run in runs:
            prepared = self._prepare(run, [item for item in chunk if not item.failed])
            groups = [len(list(rows)) for _, rows in groupby(prepared, key=lambda pair: pair[0].batch)]
            outputs = call_step(run, [p for _, p in prepared], self.settings, groups)
            for (item, inputs), (output, error) in zip(prepared, outputs):
                if error is not None:
                    self.fail(item, run.name, "run", error)
                else:
                    item.outputs[run.name] = output
                    if run.probe is not None:
                        run.probe.keep(item.row.index, inputs, output)

    def settle(self, chunk: list[Item], finish: Finish) -> None:
        """The chunk's rows in input order: failed ones recorded, the others finished; then the bar moves."""
        for item in chunk:
            if item.error is None:
                finish(item)
            else:
                self._record(item.error)
        self.bar.update(len(chunk))

    def _prepare(self, run: StepRun, alive: list[Item]) -> list[tuple[Item, object]]:
        prepared = []
        for item in alive:
            try:
                prepared.append((item, run.step.prepare(step_view(run, item), item.ahead.pop(run.name, None))))
            except Exception as error:  # a decode failure belongs to this row alone
                self.fail(item, run.name, "prepare", error)
        return prepared

    def fail(self, item: Item, step_name: str, stage: str, error: BaseException) -> None:
        """Apply on_error to a row that failed: raise (fail), or keep its error record for settle():
        skipped (logged) or written to errors.jsonl (record)."""
        message = f"{type(error).__name__}: {error}"
        policy = self.settings.on_error
        if policy == "fail":
            known = hint_for(cause_of(message))
            raise RowFailed(
                f"row {item.row.id!r} (index {item.row.index}) failed in step {step_name} ({stage}): {message}",
                (f"{known}; " if known else "") + f"outputs so far are kept in {self.run_dir}; on_error=record "
                f"writes failing rows to errors.jsonl and goes on; resume={self.run_dir} continues after a fix",
            )
        if policy == "skip":
            self._say(f"row {item.row.id!r} skipped: {step_name} failed ({stage}): {message}")
        else:
            self._say(f"row {item.row.id!r} failed in {step_name} ({stage}): {message}")
        item.error = {"id": item.row.id, "index": item.row.index, "step": step_name, "stage": stage, "error": message}

    def _say(self, line: str) -> None:
        """A failing row, once per run: the first ROWS_SHOWN on screen, then run.log only."""
        if not self.say_failures:
            return
        self.failures_said += 1
        if self.failures_said <= ROWS_SHOWN:
            log.warning("%s", line)
            return
        if self.failures_said == ROWS_SHOWN + 1:
            where = "" if self.settings.on_error == "skip" else "; errors.jsonl has each"
            log.warning(
                "more rows failed: the rest are not shown one by one (run.log has them%s; the count by "
                "cause comes at the end)",
                where,
            )
        log.debug("%s", line)

    def _record(self, record: dict) -> None:
        self.counters.rows_in += 1
        if self.settings.on_error == "skip":
            self.counters.rows_skipped += 1
            self.counters.skipped_causes[cause_of(record["error"])] += 1
            return
        self.counters.rows_error += 1
        self.errors.write(record)


class PredictionWriter:
    """Writes a finished row to predictions.jsonl: its id, index, inputs (optional) and outputs."""

    def __init__(
        self,
        sink: JsonlSink,
        settings: Settings,
        steps: list[StepRun],
        one_task: bool,
        counters: Counters,
        media: MediaFiles,
    ):
        self.sink = sink
        self.settings = settings
        self.steps = steps  # read at write time: a staged run loads its later steps as it goes
        self.one_task = one_task  # the output as it is, not keyed by step
        self.counters = counters
        self.media = media  # where a task's record_output puts the images and audio its outputs carry

    def write(self, item: Item) -> None:
        record = {"id": item.row.id, "index": item.row.index}
        if self.settings.include_inputs:
            # text and file paths; never decoded audio or image data
            record["input"] = {k: v for k, v in item.row.fields.items() if isinstance(v, str) and k != REFERENCE}
        if item.row.fields.get(REFERENCE) is not None:  # dataset.fields.reference: what the sweep report scores against
            record[REFERENCE] = to_jsonable(item.row.fields[REFERENCE])
        if self.one_task:
            record["output"] = self._output(self.steps[0], item)
        else:
            written = self.steps if self.settings.output_steps == "all" else self.steps[-1:]
            record["output"] = {run.output: self._output(run, item) for run in written}
        self.sink.write(record)
        self.counters.rows_in += 1
        self.counters.rows_out += 1

    def _output(self, run: StepRun, item: Item):
        output = run.spec.record_output(item.outputs[run.name], self.media.for_row(run.output, item.row.index))
        return to_jsonable(output)
