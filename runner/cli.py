"""The `run` command: Hydra composes the config, then compose -> validate -> plan -> execute.

Exit codes: 0 done, 1 the run failed (a one-line cause on screen, the traceback in run.log),
2 the config is wrong (key, value, allowed values; no traceback), 3 a `rerun=` finished but its
predictions differ from the original's. `run -m` exits with the highest code of its jobs, whichever
launcher ran them. torch and transformers are imported only once a valid config runs, so
`run --help` and config errors stay fast.

`-cd/--config-dir <dir>` and `hydra.searchpath=[...]` add the user's own config dirs (experiments,
model and dataset presets) to the runner's; every check below asks Hydra about that search path.
`run --version` prints the runner's version and those of the packages that decide its outputs.

`merge=<multirun dir>` is not a job: it reads finished jobs' files and bypasses Hydra. `rerun=<run dir>`
is a job like any other (a fresh run dir, run.log, sweepable with -m) that swaps in the saved config.
"""
from __future__ import annotations

import json
import logging
import sys
import traceback
from pathlib import Path

from runner.config.choices import normalize_overrides
from runner.config.compose import Composed, check_composes
from runner.config.search import ConfigSearch, ConfigSession
from runner.errors import ConfigError, RunError
from runner.paths import PRIMARY_CONFIG

log = logging.getLogger("runner")

_exit_codes: list[int] = []


def main() -> None:
    if any(arg in ("--version", "-V") for arg in sys.argv[1:]):
        print(version_text())
        sys.exit(0)
    try:
        merge_dir = merge_request(sys.argv[1:])
        if merge_dir is not None:
            sys.exit(_merge(merge_dir))
        session = ConfigSession(ConfigSearch.from_argv(sys.argv[1:]))
        sys.argv = [sys.argv[0], *normalize_overrides(sys.argv[1:], session)]
        check_composes(sys.argv[1:], session)
    except ConfigError as error:
        print(f"config error: {_with_rerun_hint(error, sys.argv[1:]).render()}", file=sys.stderr)
        sys.exit(2)
    _hydra_entry()
    from runner.launchers import SWEEP_EXIT_CODES  # jobs that other launchers ran in other processes

    sys.exit(max([*_exit_codes, *SWEEP_EXIT_CODES], default=0))


def version_text() -> str:
    """`run --version`: this package's version, then the libraries that decide what a run does."""
    from importlib import metadata

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    others = ", ".join(f"{name} {version(name)}" for name in ("hydra-core", "transformers", "torch"))
    return f"hf-pipeline-runner {version('hf-pipeline-runner')} ({others})"


def merge_request(argv: list[str]) -> str | None:
    """The dir of `run merge=<dir>`, or None when this is not a merge; merge takes nothing else."""
    given = [arg for arg in argv if arg.startswith("merge=")]
    if not given:
        return None
    if len(argv) > 1:
        others = " ".join(arg for arg in argv if not arg.startswith("merge="))
        raise ConfigError("merge", f"merge takes no other arguments, got: {others}", "run merge=<multirun dir> alone")
    value = given[0].split("=", 1)[1].strip().strip("'\"")
    if not value or value == "null":
        raise ConfigError("merge", "needs the multirun dir of a sharded `run -m`", "run merge=multirun/<date>/<time>")
    return value


def _with_rerun_hint(error: ConfigError, argv: list[str]) -> ConfigError:
    """Hydra composes today's defaults before a rerun swaps in the saved config; they have no `task`,
    so `task.params.x=1` beside rerun= needs a `+` to get through that first composition."""
    culprit = next((a for a in argv if a.split("=", 1)[0].startswith(f"{error.key}.")), None)
    if error.message != "unknown key" or culprit is None or not any(a.startswith("rerun=") for a in argv):
        return error
    return ConfigError(error.key, error.message, f"beside rerun=, write keys the defaults lack with a +: +{culprit}")


def _merge(multirun_dir: str) -> int:
    from runner.merge import merge_multirun, report

    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        report(merge_multirun(Path(multirun_dir)))
    except RunError as error:
        log.error("merge failed: %s", error.message)
        if error.hint:
            log.error("  hint: %s", error.hint)
        return error.exit_code
    return 0


def _hydra_entry() -> None:
    import hydra

    hydra.main(config_path=PRIMARY_CONFIG, config_name="config", version_base="1.3")(_job)()


def _job(cfg) -> int:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from omegaconf import OmegaConf

    from runner.config.compose import finish_composed, to_plain

    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    overrides = list(hydra_cfg.overrides.task)
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    # In a multirun this job may run in another process (joblib, submitit): record its own overrides.
    argv = ["run", *overrides] if multirun else sys.argv
    # The search path this job was composed on (the user's -cd dir included), wherever it runs.
    sources = OmegaConf.to_container(hydra_cfg.runtime.config_sources, resolve=True)
    session = ConfigSession(ConfigSearch.from_config_sources(sources))
    try:
        composed = finish_composed(to_plain(cfg), overrides, session)
    except ConfigError as error:
        log.error("config error: %s", error.render())
        code = error.exit_code
    else:
        code = run_job(composed, session, run_dir, argv=argv, cwd=Path.cwd(), overrides=overrides, multirun=multirun)
    _exit_codes.append(code)
    return code


def run_job(composed: Composed, session: ConfigSession, run_dir: Path, argv: list[str], cwd: Path,
            overrides: list[str] = (), multirun: bool = False) -> int:
    from runner.job import make_plan, run_plan

    raw_cfg, conf = composed.cfg, composed.conf
    rerun_of, filled = raw_cfg.get("rerun"), []
    try:
        if rerun_of:
            from runner.rerun import rerun_config

            raw_cfg, filled, conf = rerun_config(raw_cfg, list(overrides), run_dir, session)
        plan = make_plan(raw_cfg, conf)
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
    return _report_rerun(Path(rerun_of), run_dir, filled) if rerun_of else 0


def _report_rerun(original: Path, run_dir: Path, filled: list[str]) -> int:
    """Compare with the original, write rerun.json beside the new outputs, say the verdict."""
    from runner.rerun import compare, report

    verdict = compare(original, run_dir, filled)
    (run_dir / "rerun.json").write_text(json.dumps(verdict, indent=2, default=str) + "\n")
    return report(verdict)


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
