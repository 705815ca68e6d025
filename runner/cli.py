"""The `run` command: Hydra composes the config, then compose -> validate -> plan -> execute.

Exit codes: 0 done, 1 the run failed (a one-line cause on screen, the traceback in run.log),
2 the config is wrong (key, value, allowed values; no traceback). torch and transformers are
imported only once a valid config runs, so `run --help` and config errors stay fast.
"""
from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path

from runner.config.choices import normalize_overrides
from runner.config.compose import check_composes
from runner.errors import ConfigError, RunError
from runner.paths import CONF_DIR

log = logging.getLogger("runner")

_exit_codes: list[int] = []


def main() -> None:
    try:
        sys.argv = [sys.argv[0], *normalize_overrides(sys.argv[1:])]
        check_composes(sys.argv[1:])
    except ConfigError as error:
        print(f"config error: {error.render()}", file=sys.stderr)
        sys.exit(2)
    _hydra_entry()
    sys.exit(max(_exit_codes, default=0))


def _hydra_entry() -> None:
    import hydra

    hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")(_job)()


def _job(cfg) -> int:
    from hydra.core.hydra_config import HydraConfig

    from runner.config.compose import to_plain

    from hydra.types import RunMode

    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    code = run_job(to_plain(cfg), run_dir, argv=sys.argv, cwd=Path.cwd(), multirun=multirun)
    _exit_codes.append(code)
    return code


def run_job(raw_cfg: dict, run_dir: Path, argv: list[str], cwd: Path, multirun: bool = False) -> int:
    from runner.job import make_plan, run_plan

    try:
        plan = make_plan(raw_cfg)
        if plan.cfg["graph"]["show"]:
            print(plan.describe())
            return 0
        metrics = run_plan(plan, run_dir, argv, cwd, multirun=multirun)
    except ConfigError as error:
        log.error("config error: %s", error.render())
        return error.exit_code
    except RunError as error:
        _report_failure(run_dir, error.message, error.hint)
        return error.exit_code
    except KeyboardInterrupt:
        log.error("interrupted: outputs so far are in %s", run_dir)
        return 130
    except Exception as error:  # anything else: one line on screen, the traceback in run.log
        _report_failure(run_dir, f"{type(error).__name__}: {_first_line(error)}", None)
        return 1
    _report_success(metrics, run_dir)
    return 0


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else ""


def _report_failure(run_dir: Path, message: str, hint: str | None) -> None:
    log.debug("traceback:\n%s", traceback.format_exc())
    log.error("error: %s", message)
    if hint:
        log.error("  hint: %s", hint)
    log.error("  full traceback: %s", run_dir / "run.log")


def _report_success(metrics: dict, run_dir: Path) -> None:
    if metrics.get("status") in ("oom", "skipped_after_oom"):
        log.warning("%s at batch_size=%s: %s (recorded in %s)", metrics["status"], metrics.get("batch_size"),
                    metrics.get("error"), run_dir / "metrics.json")
        return
    rate = metrics.get("items_per_second")
    run_dir = Path(metrics.get("run_dir") or run_dir)  # a resumed run writes into the run it resumes
    log.info(
        "done: %d rows -> %s (%d errors%s), %s rows/s, model load %.2fs",
        metrics["rows_out"], run_dir / "predictions.jsonl", metrics["rows_error"],
        f", see {run_dir / 'errors.jsonl'}" if metrics["rows_error"] else "", rate, metrics["model_load_seconds"],
    )


if __name__ == "__main__":
    main()
