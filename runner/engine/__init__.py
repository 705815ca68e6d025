"""Stream rows from the source through the steps into the sinks: batching, length bucketing, timing,
out-of-memory detection, and the error policy.

No Hydra here: the CLI, the Python API and the tests all call `execute` with a plan. engine=ray runs
the same plan on Ray Data actors with this package's row loop (runner/engine/ray/; runner.job.policies picks).
Rows travel in chunks (one batch, or a bucketing window): each step runs over the chunk's rows
that are still alive, then every finished row is written at once, so memory holds one chunk whatever
the dataset's size and a `kill -9` loses at most the chunk in flight. A row that cannot be prepared or that breaks its batch fails alone (errors.jsonl
with its id, index, step and error; or skipped, or the run stops: `on_error`); every other row
reaches predictions.jsonl in input order. An out-of-memory error is never retried row by row: it
ends the run (or the sweep point) as `oom`, which the caller records.

The parts, one job each:

- settings.py    the config keys the engine reads
- step_run.py    a step at run time; loading its model through the pipeline cache
- autobatch.py   batch_size=auto for a step, on its own data
- rows.py        rows in chunks, resumed rows skipped; a row as one step sees it
- prefetch.py    dataset.prefetch: rows read and decoded ahead in a background thread, bounded
- loop.py        the row loop: steps over each chunk, writing finished rows, the error policy
- calls.py       the batched pipeline call: timing, OOM detection, row-by-row retry of a failed batch
- budget.py      batching.max_tokens: a sorted window cut into batches by padded tokens
- staged.py      graph.free_finished_models: one stage (and one model) at a time
- measure.py     benchmark mode: the rows re-timed, unwritten, until the repeats are long enough
- metrics.py     metrics.json
- segments.py    a resumed run's metrics: totals over every segment, and the list of segments
- error_summary.py  failed rows grouped by cause with hints; exit code 4 above max_error_fraction
- progress.py    the progress bar
"""

from __future__ import annotations

import time
from pathlib import Path

from runner.bench.memory import reset_peak_memory
from runner.engine.errors import OutOfMemory, RowFailed, ended_by
from runner.engine.execution import Execution
from runner.engine.progress import library_progress_bars
from runner.engine.settings import Settings
from runner.engine.step_run import apply_threads, seed_everything
from runner.backends.cache import PipelineCache
from runner.outputs.rundir import Metrics, RunDir

__all__ = ["execute", "OutOfMemory", "RowFailed"]


def execute(
    plan,
    run_dir: Path,
    bench: bool = False,
    done: set[int] | None = None,
    append: bool = False,
    keep: dict[str, list] | None = None,
    cache: PipelineCache | None = None,
) -> Metrics:
    """Run the plan into run_dir: predictions.jsonl, errors.jsonl, metrics.json; return the metrics.

    `done`: dataset positions already written (a resumed run) - skipped, and the files appended to.
    `keep`: {"predictions": list, "errors": list}, each also given every record as it is written.
    `cache`: loaded pipelines to reuse and leave loaded for the next run (a sweep passes the same one
    to every point); None loads into a fresh cache for this run only.
    Raises OutOfMemory (metrics.json then says `oom`), RowFailed (on_error=fail) or the load error."""
    run_dir = Path(run_dir)
    started = time.perf_counter()
    top = plan.views.run
    apply_threads(top.threads)
    seed_everything(top.seed, top.deterministic)
    reset_peak_memory()
    execution = Execution(
        plan,
        run_dir,
        Settings.from_views(plan.views, bench),
        done or set(),
        PipelineCache() if cache is None else cache,
        append,
    )
    status, error = "error", None
    try:
        with library_progress_bars(execution.settings.progress):
            execution.load_steps()
            execution.run(append, keep or {})
        status = "ok"
    except BaseException as failure:
        status, error = ended_by(failure)
        if status == "oom":
            _free_after_oom()
        raise
    finally:
        metrics = Metrics.from_json(execution.metrics(status, started, error))
        if status == "oom" and execution.steps:
            metrics.batch_size = max(run.batch_size for run in execution.steps)
        RunDir(run_dir).write_metrics(metrics)
    return metrics


def _free_after_oom() -> None:
    from runner.bench.oom import release_memory

    release_memory()
