"""batch_size=auto for one step: the search of runner.bench.autobatch, run on this step's data."""

from __future__ import annotations

import logging

from runner.bench.autobatch import input_size, longest_rows, search_batch_size, worst_case_batch
from runner.bench.oom import check_injected_oom
from runner.engine.errors import OutOfMemory
from runner.engine.rows import Item, RowReader, step_view
from runner.engine.step_run import StepRun, seed_everything
from runner.core.errors import RunError

log = logging.getLogger(__name__)

# batch_size=auto tries batches made of this many of the probe's longest rows, repeated.
AUTO_DISTINCT_ROWS = 8


def choose_batch_size(run: StepRun, reader: RowReader) -> None:
    """batch_size=auto: trials on the longest inputs among the first bench.probe_rows rows.
    Sets run.batch_size and run.autobatch; raises OutOfMemory when even batch size 1 does not fit."""
    bench = run.view.bench
    probe = _Probe(run, reader, bench.probe_rows)
    # Padding makes a batch as long as its longest row, so a few of the longest rows, repeated,
    # are the worst case for every batch size; streaming keeps only those in memory.
    longest = longest_rows(probe.usable_inputs(), input_size, AUTO_DISTINCT_ROWS)
    if not longest:
        raise RunError(f"step {run.name}: batch_size=auto found no usable rows to try", "check the dataset")

    def try_batch(size: int) -> None:
        check_injected_oom(size)
        run.step.run(worst_case_batch(longest, size), batch_size=size)

    # A batch larger than the rows there are would never be filled: its timings would measure nothing.
    bound = min(bench.max_batch_size, probe.rows_known or bench.max_batch_size)
    result = search_batch_size(try_batch, bound, plateau=bench.auto_until == "plateau")
    stopped_by = "rows" if result.stopped_by == "max_batch_size" and bound < bench.max_batch_size else result.stopped_by
    run.autobatch = {
        "batch_size": result.batch_size,
        "stopped_by": stopped_by,
        "trials": result.trials,
        "probe_rows": probe.prepared,
        "rows_known": probe.rows_known,
        "max_batch_size": bench.max_batch_size,
    }
    if result.batch_size is None:
        raise OutOfMemory(run.name, 1, MemoryError("even batch size 1 does not fit"))
    log.info(
        "step %s: batch_size=auto chose %d after %d trials, stopped by %s (%s)",
        run.name,
        result.batch_size,
        len(result.trials),
        stopped_by,
        ", ".join(f"{t['batch_size']}:{t['status']}" for t in result.trials),
    )
    run.batch_size = run.step.batch_size = result.batch_size
    run.autobatch["agreement"] = _agreement_with_batch_one(run, longest, result.batch_size)
    if run.autobatch["agreement"] is not None and "error" not in run.autobatch["agreement"]:
        log.info("step %s: %s", run.name, agreement_text(run.autobatch["agreement"], result.batch_size))
    # the trials' count depends on timings: a sampling task's first batch must not depend on how many ran
    seed_everything(run.view.run.seed)


def _agreement_with_batch_one(run: StepRun, longest: list, batch_size: int) -> dict | None:
    """Quality beside speed for the chosen size: the probe's longest rows computed alone and inside a batch
    of the chosen size (padded to the longest, as the run will batch them), compared by the task's own
    measure. Padding moves scores in their last digits; a model that batches badly (generation without a
    pad token, a left/right padding mismatch) changes answers, and this says so. None at batch size 1."""
    if batch_size <= 1:
        return None
    from runner.engine.probe import compare_as_written

    rows = list(longest[:batch_size])
    try:
        alone = run.step.run(rows, batch_size=1)
        batched = run.step.run(worst_case_batch(rows, batch_size), batch_size=batch_size)[: len(rows)]
    except Exception as error:  # the figure is missing; the chosen size stands (it ran in the trials)
        log.warning("step %s: batch_size=auto could not compare with batch size 1 (%s)", run.name, error)
        return {"error": f"{type(error).__name__}: {error}"}
    return {"reference": "batch_size=1", **compare_as_written(run.spec, alone, batched)}


def agreement_text(result: dict, batch_size: int) -> str:
    """e.g. `batch_size=auto: outputs at batch size 16 vs each row alone, on 8 rows: label agreement 1.000`."""
    from runner.engine.probe import said

    return f"batch_size=auto: outputs at batch size {batch_size} vs each row alone, on {result['rows']} rows: {said(result)}"


class _Probe:
    """The first `limit` rows, prepared for the step; counts those that could be, and the rows left
    to run when the probe saw the end of the data (`rows_known`; None when there are more)."""

    def __init__(self, run: StepRun, reader: RowReader, limit: int):
        self.run, self.reader, self.limit = run, reader, limit
        self.prepared = 0
        self.rows_known: int | None = None

    def usable_inputs(self):
        read = left = 0
        for row in self.reader.rows(limit=self.limit + 1):  # one more: did the data end within the limit?
            read += 1
            if read > self.limit:
                return
            left += row.index not in self.reader.done  # a resumed run's written rows are not run again
            try:
                yield self.run.step.prepare(step_view(self.run, Item(row)))
                self.prepared += 1
            except Exception:  # a bad row is not a candidate; the run reports it later
                continue
        self.rows_known = left
