"""One job from a composed config to its outcome: the path every entry point takes (the `run` command
and its sweeps, the Python API; a child process runs the `run` stage of it, runner.job.policies).

    plan    rerun= swaps in the saved config; validate and plan (ConfigError: exit code 2)
    run     the plan into the run dir through the run-level policies (runner.job.policies): resume,
            SIGTERM, out of memory, process isolation
    report  "done: ..." or an out-of-memory sweep point, on screen and in run.log; a failure in one
            line with its hint, the traceback in run.log, raised as RunError (exit code 1)
    rerun   compare a rerun with its original: rerun.json, the verdict (exit code 0 or 3)
    rows    a finished run with failed rows beyond max_error_fraction: exit code 4 (engine.error_summary)

run_job raises (the API lets the exceptions reach the caller); job_exit_code maps them to exit codes
(the command). What happens is logged here either way.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.config.compose import Composed
from runner.config.search import ConfigSession
from runner.core.errors import ConfigError, RunError
from runner.job.invocation import Invocation
from runner.outputs.rundir import ERRORS, LOG, METRICS, RECORD, RERUN, Metrics, RunDir

log = logging.getLogger("runner")

# Exit code of a job stopped by Ctrl-C or SIGTERM (128 + SIGINT).
INTERRUPTED = 130


@dataclass
class Job:
    """One job as an entry point hands it over: the composed config and where it came from."""

    composed: Composed
    config_session: ConfigSession
    argv: list[str]  # recorded in run.json
    cwd: Path
    overrides: list[str] = field(default_factory=list)
    run_dir: Path | None = None  # the command's: Hydra made it before planning
    claim_run_dir: Callable[[Any], Path] | None = None  # the API's: made once the plan is checked
    multirun: bool = False
    rows: Any = None  # the API's in-memory rows (dataset.type=python), never part of the config
    keep: dict[str, list] | None = None  # lists that receive each prediction and error as written
    planned: tuple | None = None  # (plan, rerun) of plan_job, when the entry point planned before the run dir existed


@dataclass
class Outcome:
    plan: Any  # runner.plan.Plan
    run_dir: Path | None  # None: graph.show printed the graph and ran nothing
    metrics: Metrics | None
    exit_code: int = 0  # 0; rerun.DIFFERS (3) for a rerun whose predictions differ; ROWS_FAILED (4)


@dataclass
class Rerun:
    original: Path
    filled: list[str] = field(default_factory=list)  # top-level keys taken from today's defaults


def job_exit_code(job: Job, invocation: Invocation) -> int:
    """run_job for the command line: its outcome, or its failure, as an exit code."""
    try:
        return run_job(job, invocation).exit_code
    except (ConfigError, RunError) as error:
        return error.exit_code
    except KeyboardInterrupt:
        return INTERRUPTED


def run_job(job: Job, invocation: Invocation) -> Outcome:
    """plan -> run -> report -> rerun verdict. Raises ConfigError, RunError or KeyboardInterrupt."""
    plan, rerun = _plan_reported(job)
    if plan.views.graph.show:
        print(plan.describe())
        return Outcome(plan, None, None)
    run_dir = job.claim_run_dir(plan) if job.claim_run_dir else job.run_dir
    with _resumed_dir_held(job, plan.views.run.resume, run_dir):
        metrics = execute_job(plan, run_dir, job.argv, job.cwd, invocation, job.multirun, job.keep)
        from runner.engine.error_summary import rows_failed_code  # exit code 4: rows failed beyond max_error_fraction

        code = rows_failed_code(plan.views.run, metrics)
        return Outcome(plan, run_dir, metrics, max(code, finish_rerun(rerun, run_dir) if rerun else 0))


@contextmanager
def _resumed_dir_held(job: Job, resume: str | None, run_dir: Path):
    """The dir a resume= writes into, held (runner.outputs.rundir_lock) like the job's own run dir, which its
    entry point (runner.cli, runner.api) holds, and refuses when it already holds a run."""
    from runner.outputs.rundir_lock import RunDirLock

    with ExitStack() as held:
        target = Path(resume).expanduser() if resume else None
        if target is not None and target.resolve() != Path(run_dir).resolve():
            try:
                held.enter_context(RunDirLock(target, "resume", job.argv))
            except ConfigError as error:
                if job.run_dir is not None:  # on screen and in run.log, as a planning error is
                    log.error("config error: %s", error.render())
                raise
            if (target / RECORD).is_file():  # a run to resume (else resume= refuses it, said in the job's log)
                from runner.outputs.runlog import SegmentLog

                held.enter_context(SegmentLog(target / LOG, job.argv))
        yield


def _plan_reported(job: Job):
    if job.planned is not None:
        return job.planned
    try:
        return plan_job(job.composed, job.config_session, job.overrides, job.run_dir, job.rows)
    except ConfigError as error:
        if job.run_dir is not None:  # said on screen and in Hydra's run.log; the API's caller gets the exception
            log.error("config error: %s", error.render())
        raise


def plan_job(
    composed: Composed, session: ConfigSession, overrides: list[str], run_dir: Path | None = None, rows: Any = None
):
    """The checked plan (runner.plan.Plan) and, for `rerun=<dir>`, what to compare with afterwards."""
    from runner.plan import make_plan

    cfg, conf, rerun = composed.cfg, composed.conf, None
    if cfg.get("rerun"):
        from runner.repro.rerun import rerun_config

        cfg, filled, conf = rerun_config(cfg, list(overrides), run_dir, session)
        rerun = Rerun(Path(cfg["rerun"]), filled)
    plan = make_plan(cfg, conf, rows)
    check_rows_fit(plan)
    return plan, rerun


def kept_point_exit_code(point, cfg: dict, overrides: list[str]) -> int:
    """A point that a resumed sweep (sweep.resume) finds finished: checked to have run this config
    (ConfigError naming the point), kept as it is; its exit code is the one it had (4 when more rows
    failed than max_error_fraction allows)."""
    from runner.engine.error_summary import rows_failed_code
    from runner.repro.sweep_resume import check_same_config

    from runner.config.checked import check_run

    checked = check_run(cfg)  # as planned and recorded (run.json's config hash)
    check_same_config(point, checked.cfg, overrides)
    return rows_failed_code(checked.views.run, RunDir(point.run_dir).read_metrics())


def check_rows_fit(plan) -> None:
    """In-memory rows (the API's inputs=) cannot reach a child process, and an iterator cannot be read twice."""
    from runner.sources.python import ONE_PASS, PythonSource

    if not isinstance(plan.source, PythonSource):
        return
    if plan.views.bench.isolation == "process":
        raise ConfigError(
            "bench.isolation",
            "inputs= rows live in this process; a child process cannot read them",
            "use bench.isolation=none, or write the rows to a file and use dataset=file",
        )
    if plan.source.kind not in ONE_PASS:
        return
    engine = plan.engine.engine
    if not engine.reads_iterators:
        raise ConfigError(
            "engine",
            f"engine={engine.name} reads the rows in another process; an iterator lives in this process only",
            "pass the rows as a list, or use engine=local",
        )
    if any(step.run.batch_size == "auto" for step in plan.step_views.values()):
        raise ConfigError(
            "batch_size",
            "batch_size=auto reads the first rows twice (trials, then the run); an iterator gives its rows once",
            "give a number, or pass the rows as a list",
        )
    if plan.views.graph.free_finished_models and len(plan.steps) > 1:
        raise ConfigError(
            "graph.free_finished_models",
            "a staged graph reads the rows once per step; an iterator gives them once",
            "pass the rows as a list, or drop free_finished_models",
        )


def execute_job(
    plan,
    run_dir: Path,
    argv: list[str],
    cwd: Path,
    invocation: Invocation,
    multirun: bool = False,
    keep: dict[str, list] | None = None,
) -> Metrics:
    """runner.job.policies.run_plan, reported: returns the metrics of a finished run, else logs and raises."""
    from runner.job.policies import run_plan

    try:
        metrics = run_plan(plan, run_dir, argv, cwd, invocation, multirun=multirun, keep=keep)
    except ConfigError as error:  # found once the run starts (a resume whose config differs)
        log.error("config error: %s", error.render())
        raise
    except RunError as error:
        report_failure(run_dir, error.message, error.hint)
        raise
    except (KeyboardInterrupt, SystemExit):  # SystemExit: submitit stops a job it requeues (runner.repro.requeue)
        log.error("interrupted: outputs so far are in %s", run_dir)
        raise
    except Exception as error:  # anything else: one line on screen, the traceback in run.log
        message = f"{type(error).__name__}: {_first_line(error)}"
        report_failure(run_dir, message, None)
        raise RunError(message, f"full traceback: {run_dir / LOG}") from error
    if not metrics.finished:
        message = f"the run ended with status {metrics.status}: {metrics.error}"
        report_failure(run_dir, message, None)
        raise RunError(message, f"see {run_dir / LOG}")
    report_success(metrics, run_dir)
    return metrics


def finish_rerun(rerun: Rerun, run_dir: Path) -> int:
    """Compare with the original, write rerun.json beside the new outputs, say the verdict."""
    import json

    from runner.repro.rerun import compare, report

    verdict = compare(rerun.original, run_dir, rerun.filled)
    from runner.outputs.sinks import open_output, writing

    with writing(run_dir / RERUN), open_output(run_dir / RERUN) as f:
        f.write(json.dumps(verdict, indent=2, default=str) + "\n")
    return report(verdict)


def report_failure(run_dir: Path, message: str, hint: str | None) -> None:
    if sys.exc_info()[0] is not None:
        log.debug("traceback:\n%s", traceback.format_exc())
    log.error("error: %s", message)
    if hint:
        log.error("  hint: %s", hint)
    log.error("  full traceback: %s", run_dir / LOG)


def report_success(metrics: Metrics, run_dir: Path) -> None:
    if metrics.status in ("oom", "skipped_after_oom"):
        log.warning(
            "%s at batch_size=%s: %s (recorded in %s)",
            metrics.status,
            metrics.batch_size,
            metrics.error,
            run_dir / METRICS,
        )
        return
    done = RunDir(metrics.run_dir or run_dir)  # a resumed run writes into the run it resumes
    log.info(
        "done: %d rows -> %s (%d errors%s), %s, model load %.2fs",
        metrics.rows_out,
        done.predictions,
        metrics.rows_error,
        f", see {done / ERRORS}" if metrics.rows_error else "",
        rate_text(metrics),
        metrics.model_load_seconds,
    )
    for line in agreement_lines(metrics):
        log.info("%s", line)


def agreement_lines(metrics: Metrics) -> list[str]:
    """quantization=int8's agreement with float32, one line per quantized step, said beside the rate."""
    from runner.engine.probe import agreement_text

    steps = metrics.rest.get("steps") or {}
    lines = []
    for name, step in steps.items():
        text = agreement_text(step.get("quantization"))
        if text is not None:
            lines.append(text if len(steps) == 1 else f"step {name}: {text}")
    return lines


def rate_text(metrics: Metrics) -> str:
    """items/s as the run's last line says it: never "None rows/s", and a too-short benchmark says so."""
    rate = (
        "no timed rows" if metrics.items_per_second is None else f"{metrics.items_per_second} rows/s in pipeline calls"
    )
    end_to_end = metrics.rest.get("end_to_end_items_per_second")
    if end_to_end is not None:  # the progress bar's rate: reading, preparing and writing rows included
        rate += f", {end_to_end} rows/s end to end (the progress bar's rate)"
    measurement = metrics.rest.get("measurement") or {}
    if measurement.get("status") == "too_short":
        return f"{rate} (too short to measure: {measurement.get('reason')})"
    return rate


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else ""
