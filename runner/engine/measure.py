"""Benchmark mode: time the same rows again, unwritten, until the last step holds enough repeats.

The first pass writes every row as usual. When its timed batches are too few or too short for
bench.repeats parts of bench.min_batches batches and bench.min_seconds each (runner/bench/repeats.py),
the rows are read again and run through the steps, outputs dropped, until they are. Small datasets
and large batches (200 rows at batch 64 is 4 batches, 2 of them warm-up) are what need this."""

from __future__ import annotations

import logging
import time
from contextlib import closing
from dataclasses import dataclass
from typing import TYPE_CHECKING

from runner.bench.repeats import split_repeats
from runner.engine.loop import Counters, RowLoop
from runner.engine.rows import Item, RowReader, chunk_size

if TYPE_CHECKING:
    from runner.engine.execution import Execution

log = logging.getLogger(__name__)

# Re-reading and preparing rows is not timed; when it costs this much more than the timed calls it
# buys (plus a grace period), the point is left too short rather than re-read for ever.
OVERHEAD_LIMIT, GRACE_SECONDS = 10.0, 30.0


@dataclass
class Measuring:
    passes: int = 1  # passes over the rows: the written one, then the re-timed ones
    cut_short_by: str | None = None  # what stopped the measuring before it was enough, when it stopped


def measure_more(execution: Execution) -> Measuring:
    """Extra passes over the rows until the last step's timings are enough; what was done."""
    runs, settings = execution.steps, execution.settings
    recorder = runs[-1].recorder
    if _enough(execution):
        return Measuring()
    if execution.staged:
        return Measuring(cut_short_by="graph.free_finished_models runs the rows once")
    if recorder.done:
        return Measuring(cut_short_by="the bench.max_rows / bench.max_seconds budget ended it")
    loop = RowLoop(
        settings, execution.run_dir, Counters(), _Discard(), _Discard(), say_failures=False, watch=execution.watch
    )
    reader, size, measuring = RowReader(execution.plan, execution.reader.done), chunk_size(runs, settings), Measuring()
    started, timed_before = time.perf_counter(), recorder.seconds
    while not _enough(execution):
        if recorder.done:
            measuring.cut_short_by = "the bench.max_rows / bench.max_seconds budget ended it"
            break
        if time.perf_counter() - started > GRACE_SECONDS + OVERHEAD_LIMIT * (recorder.seconds - timed_before):
            measuring.cut_short_by = (
                f"after {measuring.passes} passes, reading the rows again cost over "
                f"{OVERHEAD_LIMIT:g}x the time it timed"
            )
            break
        before = recorder.calls_seen
        _one_pass(execution, loop, reader, size)
        measuring.passes += 1
        if recorder.calls_seen == before:
            measuring.cut_short_by = "no rows to time"
            break
    log.info("benchmark: the rows were timed in %d passes (only the first written)", measuring.passes)
    return measuring


def _one_pass(execution: Execution, loop: RowLoop, reader: RowReader, size: int) -> None:
    with closing(reader.chunks(size)) as chunks:
        for chunk in chunks:
            loop.run_chunk(chunk, execution.steps, _drop)
            if _enough(execution) or execution.steps[-1].recorder.done:
                return


def _enough(execution: Execution) -> bool:
    return split_repeats(execution.steps[-1].recorder.calls, execution.settings.minimum) is not None


def _drop(item: Item) -> None:
    """A re-timed row's outputs: already written by the first pass."""


class _Discard:
    """Stands in for the errors sink and the progress bar of a re-timing pass: its rows were
    recorded (and counted) by the first pass."""

    def write(self, record: dict) -> None:
        pass

    def update(self, count: int) -> None:
        pass
