"""The run-level policies around the engine (runner.engine), for every entry point alike:

resume         resume=<dir> runs into that dir, appending the rows it had not written (runner.repro.resume)
SIGTERM        a scheduler's or `kill`'s stop ends the run like Ctrl-C, outputs closed cleanly (in a
               submitit job submitit's handlers stay: its SIGUSR2 requeue ends the run the same way)
out of memory  a benchmark point that runs out of memory is a result (status oom), and the larger
               batch sizes of that point are skipped (status skipped_after_oom; Invocation.oom)
isolation      bench.isolation=process runs the point in a child process (run_in_child; runner.job.child is
               the child's side)
run.json       written before the run (status running) and after it, whatever happened
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from runner.core.errors import OutputError, RunError
from runner.job.invocation import Invocation
from runner.plan import Plan
from runner.repro.resume import resume_target
from runner.core.redact import redact, redact_text
from runner.outputs.rundir import CHILD_LOG, CHILD_REQUEST, Metrics, RunDir
from runner.outputs.sinks import open_output, write_json

log = logging.getLogger(__name__)


def run_plan(
    plan: Plan,
    run_dir: Path,
    argv: list[str],
    cwd: Path,
    invocation: Invocation,
    multirun: bool = False,
    keep: dict[str, list] | None = None,
) -> Metrics:
    """Execute the plan into run_dir (or into the run being resumed); always leaves run.json and
    metrics.json with the run's status: ok, oom, skipped_after_oom, error or interrupted.
    `keep`: {"predictions": [...], "errors": [...]} lists that also receive each record written
    (the Python API returns them from memory); a run in a child process fills none."""
    views = plan.views
    bench = views.bench.enabled is True or (views.bench.enabled == "auto" and multirun)
    if views.bench.isolation == "process":
        return run_in_child(plan, Path(run_dir), argv, cwd, multirun)
    from runner.sources.fingerprint import fingerprint

    source = fingerprint(plan.source)
    total = plan.source.total_rows() if views.run.resume else None  # the last batch of the data may be short
    run_dir, done = resume_target(plan, Path(run_dir), source, total, lambda position: _ends_after(plan, position))
    run_dir.mkdir(parents=True, exist_ok=True)
    skipped = _skip_after_oom(plan, bench, RunDir(run_dir), invocation)
    if skipped is not None:
        return skipped
    return _execute_recorded(plan, RunDir(run_dir), argv, cwd, invocation, bench, done, keep, source)


def _ends_after(plan: Plan, position: int) -> bool:
    """Whether the run's rows (its shard's) end at `position`: read to find out, for a resume whose last
    batch is short and whose source cannot count its rows (resume.cut_batches); an iterator, which cannot
    be read twice, is taken to end there."""
    if not plan.source.rereadable():
        return True
    return all(row.index <= position for row in plan.source.rows(plan.source_mapping, plan.shard))


def run_in_child(plan, run_dir: Path, argv, cwd, multirun: bool) -> Metrics:
    """A crash (even a segfault or the kernel's OOM killer) becomes this point's `error` status,
    and the next point starts clean."""
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg = {**plan.cfg, "bench": {**plan.cfg["bench"], "isolation": "none"}}  # the child's config: runs in place
    request = {
        "cfg": cfg,
        "conf": plan.conf,
        "run_dir": str(run_dir),
        "argv": argv,
        "cwd": str(cwd),
        "multirun": multirun,
    }
    write_json(run_dir / CHILD_REQUEST, redact(request))  # for the record; the child reads the real one on stdin
    # The parent holds the run dir's lock (runner.outputs.rundir_lock); the child runs the policies, which take none.
    child = subprocess.run(
        [sys.executable, "-m", "runner.job.child", "-"], input=json.dumps(request), capture_output=True, text=True
    )
    with open_output(run_dir / CHILD_LOG) as f:
        f.write(redact_text(child.stdout + child.stderr))
    written = RunDir(run_dir).read_metrics()
    if child.returncode == 0 and written is not None:
        return written
    # After a failure an oom the child recorded stands; anything else is recorded here as an error.
    metrics = written if written is not None and written.status == "oom" else _record_crash(plan, run_dir, child)
    if metrics.status == "oom" and (plan.views.bench.enabled is True or multirun):
        return metrics
    raise RunError(f"the isolated run failed: {metrics.error}", f"its output is in {run_dir / CHILD_LOG}")


def _record_crash(plan, run_dir: Path, child: subprocess.CompletedProcess) -> Metrics:
    tail = (child.stderr.strip().splitlines() or ["(no output)"])[-1]
    metrics = Metrics(
        status="error",
        error=f"child process exited with {child.returncode}: {tail}",
        batch_size=plan.views.run.batch_size,
        batch_size_requested=plan.views.run.batch_size,
    )
    RunDir(run_dir).write_metrics(metrics)
    return metrics


def _execute_recorded(
    plan: Plan,
    run_dir: RunDir,
    argv,
    cwd,
    invocation: Invocation,
    bench: bool,
    done: set[int],
    keep: dict[str, list] | None,
    source: dict | None = None,
) -> Metrics:
    from runner.engine import OutOfMemory
    from runner.repro.record import build_record, now_iso, quantized_steps

    execute = plan.engine.engine.executor()  # engine=local, engine=ray ...
    started_at = now_iso()
    status, metrics = "error", None
    first = build_record(plan, run_dir.path, argv, cwd, "running", started_at, conf=plan.conf)
    if source is not None:  # what was read: resume= refuses a source that changed (runner.sources.fingerprint)
        first["source"] = source
    run_dir.write_record(first)
    try:
        with _sigterm_as_interrupt():
            append = bool(done) or plan.views.run.resume is not None
            metrics = execute(
                plan, run_dir.path, bench=bench, done=done, append=append, keep=keep, cache=invocation.pipelines()
            )
        _export_tables(plan, run_dir)
        status = "ok"
        return metrics
    except OutOfMemory as oom:
        status = "oom"
        invocation.oom.record(plan, oom.batch_size)
        metrics = run_dir.read_metrics()
        if bench:  # a sweep point that does not fit is a result, not a failure
            log.warning("%s: recorded as oom", oom)
            return metrics
        raise RunError(str(oom), "lower batch_size, or let batch_size=auto find the largest that fits") from oom
    except (KeyboardInterrupt, SystemExit):  # SystemExit: submitit's requeue on SIGUSR2 (runner.repro.requeue)
        status = "interrupted"
        raise
    except OutputError as error:  # a full disk, a read-only dir: what was written stays, resume= goes on
        status = "interrupted"
        error.hint = error.hint_for(run_dir.path)
        raise
    finally:
        model = metrics.model if metrics else None
        quantization = quantized_steps(metrics.to_json() if metrics else None)
        final = build_record(plan, run_dir.path, argv, cwd, status, started_at, model, plan.conf, first, quantization)
        _write_final_record(run_dir, {**final, **({"source": source} if source is not None else {})}, status)


def _write_final_record(run_dir: RunDir, record: dict, status: str) -> None:
    """run.json at the run's end. A disk full by then fails a finished run (exit code 1, resume= next);
    a run already failing keeps its own error, and the log says run.json still says running."""
    try:
        run_dir.write_record(record)
    except OutputError as error:
        if status == "ok":
            error.hint = error.hint_for(run_dir.path)
            raise
        log.error("error: run.json not updated (%s): it still says running", error.message)


def _export_tables(plan: Plan, run_dir: RunDir) -> None:
    """output.format beyond jsonl: predictions.parquet / .csv, converted from predictions.jsonl."""
    from runner.outputs.tables import export_tables

    outputs = None if plan.graph.one_task else list(plan.graph.nodes["predictions"].consumes)
    for written in export_tables(run_dir.predictions, plan.views.output.formats, outputs):
        log.info("wrote %s", written)


@contextmanager
def _sigterm_as_interrupt():
    """SIGTERM (a scheduler's or `kill`'s stop) ends the run like Ctrl-C: outputs closed on a line boundary.
    Not in a submitit job: submitit logs and lets a SIGTERM pass on purpose (some clusters send one before
    the SIGUSR2 of a preemption, on which submitit requeues the job); ending the run there would end the
    job before it can be requeued."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    if _is_submitits(signal.getsignal(signal.SIGTERM)):
        yield
        return
    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread (e.g. a launcher's worker thread): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _is_submitits(handler) -> bool:
    """Whether a signal handler is submitit's (a method of its SignalHandler)."""
    owner = getattr(handler, "__self__", None)
    return type(owner).__module__.startswith("submitit.")


def _skip_after_oom(plan: Plan, bench: bool, run_dir: RunDir, invocation: Invocation) -> Metrics | None:
    """A benchmark point at least as large as one that already ran out of memory in this invocation
    (batch size, and token budget when set) is not run: metrics.json says skipped_after_oom."""
    if not (bench and plan.views.bench.skip_after_oom):
        return None
    covering = invocation.oom.covering(plan)
    if covering is None:
        return None
    size = plan.views.run.batch_size
    failed = f"batch size {covering[0]}" + (
        f" with batching.max_tokens={covering[1]}" if covering[1] is not None else ""
    )
    log.warning("batch_size=%d skipped: %s already ran out of memory in this sweep", size, failed)
    metrics = Metrics(
        status="skipped_after_oom",
        error=f"{failed} ran out of memory earlier in this sweep",
        batch_size=size,
        batch_size_requested=size,
        rest={"benchmark": True},
    )
    run_dir.write_metrics(metrics)
    return metrics
