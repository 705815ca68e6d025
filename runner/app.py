"""One job from a composed config to its outputs, shared by the `run` command and the Python API.

    plan_job     rerun= swaps in the saved config; validate and plan (ConfigError: exit code 2)
    execute_job  run the plan into the run dir and say how it went, on screen and in run.log:
                 "done: ..." or an out-of-memory sweep point; a failure in one line with its hint,
                 the traceback in run.log, raised as RunError (exit code 1)
    finish_rerun compare a rerun with its original: rerun.json, the verdict (exit code 0 or 3)

The command turns the exceptions into exit codes; the API lets them reach the caller.
"""
from __future__ import annotations

import json
import logging
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.config.compose import Composed
from runner.config.search import ConfigSession
from runner.errors import ConfigError, RunError
from runner.rundir import LOG, METRICS, PREDICTIONS, RERUN

log = logging.getLogger("runner")

# What a finished run's metrics.json may say; a benchmark point that ran out of memory is a result.
FINISHED = ("ok", "oom", "skipped_after_oom")


@dataclass
class Rerun:
    original: Path
    filled: list[str] = field(default_factory=list)  # top-level keys taken from today's defaults


def plan_job(composed: Composed, session: ConfigSession, overrides: list[str], run_dir: Path | None = None,
             rows: Any = None):
    """The checked plan (runner.job.Plan) and, for `rerun=<dir>`, what to compare with afterwards."""
    from runner.job import make_plan

    cfg, conf, rerun = composed.cfg, composed.conf, None
    if cfg.get("rerun"):
        from runner.rerun import rerun_config

        cfg, filled, conf = rerun_config(cfg, list(overrides), run_dir, session)
        rerun = Rerun(Path(cfg["rerun"]), filled)
    return make_plan(cfg, conf, rows), rerun


def execute_job(plan, run_dir: Path, argv: list[str], cwd: Path, multirun: bool = False,
                keep: dict[str, list] | None = None) -> dict:
    """runner.job.run_plan, reported: returns the metrics of a finished run, else logs and raises."""
    from runner.job import run_plan

    try:
        metrics = run_plan(plan, run_dir, argv, cwd, multirun=multirun, keep=keep)
    except ConfigError as error:  # found once the run starts (a resume whose config differs)
        log.error("config error: %s", error.render())
        raise
    except RunError as error:
        report_failure(run_dir, error.message, error.hint)
        raise
    except KeyboardInterrupt:
        log.error("interrupted: outputs so far are in %s", run_dir)
        raise
    except Exception as error:  # anything else: one line on screen, the traceback in run.log
        message = f"{type(error).__name__}: {_first_line(error)}"
        report_failure(run_dir, message, None)
        raise RunError(message, f"full traceback: {run_dir / 'run.log'}") from error
    if metrics.get("status") not in FINISHED:
        message = f"the run ended with status {metrics.get('status')}: {metrics.get('error')}"
        report_failure(run_dir, message, None)
        raise RunError(message, f"see {run_dir / 'run.log'}")
    report_success(metrics, run_dir)
    return metrics


def finish_rerun(rerun: Rerun, run_dir: Path) -> int:
    """Compare with the original, write rerun.json beside the new outputs, say the verdict."""
    from runner.rerun import compare, report

    verdict = compare(rerun.original, run_dir, rerun.filled)
    (run_dir / RERUN).write_text(json.dumps(verdict, indent=2, default=str) + "\n")
    return report(verdict)


def report_failure(run_dir: Path, message: str, hint: str | None) -> None:
    if sys.exc_info()[0] is not None:
        log.debug("traceback:\n%s", traceback.format_exc())
    log.error("error: %s", message)
    if hint:
        log.error("  hint: %s", hint)
    log.error("  full traceback: %s", run_dir / LOG)


def report_success(metrics: dict, run_dir: Path) -> None:
    if metrics.get("status") in ("oom", "skipped_after_oom"):
        log.warning("%s at batch_size=%s: %s (recorded in %s)", metrics["status"], metrics.get("batch_size"),
                    metrics.get("error"), run_dir / METRICS)
        return
    rate = metrics.get("items_per_second")
    run_dir = Path(metrics.get("run_dir") or run_dir)  # a resumed run writes into the run it resumes
    log.info(
        "done: %d rows -> %s (%d errors%s), %s rows/s, model load %.2fs",
        metrics["rows_out"], run_dir / PREDICTIONS, metrics["rows_error"],
        f", see {run_dir / 'errors.jsonl'}" if metrics["rows_error"] else "", rate, metrics["model_load_seconds"],
    )


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else ""
