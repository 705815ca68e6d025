"""The `run` command: Hydra composes the config, then compose -> validate -> plan -> execute.

Exit codes: 0 done, 1 the run failed (a one-line cause on screen, the traceback in run.log),
2 the config is wrong (key, value, allowed values; no traceback), 3 a `rerun=` finished but its
predictions differ from the original's, 4 the run finished but more rows failed than
max_error_fraction allows (or none was written), 130 interrupted. `run -m` exits with the highest code of its jobs, whichever
launcher ran them. torch and transformers are imported only once a valid config runs, so
`run --help` and config errors stay fast.

`-cd/--config-dir <dir>` and `hydra.searchpath=[...]` add the user's own config dirs (experiments,
model and dataset presets) to the runner's; every check below asks Hydra about that search path.
`run --version` prints the runner's version and those of the packages that decide its outputs.

`merge=<multirun dir>` is not a job: it reads finished jobs' files and bypasses Hydra. `rerun=<run dir>`
is a job like any other (a fresh run dir, run.log, sweepable with -m) that swaps in the saved config.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from runner.config.choices import normalize_overrides
from runner.config.compose import check_composes, is_plain_multirun, is_single_run, job_overrides
from runner.config.search import ConfigSearch, ConfigSession
from runner.core.errors import ConfigError, RunError
from runner.job.invocation import Invocation
from runner.core.paths import PRIMARY_CONFIG
from runner.core.redact import redact_text

log = logging.getLogger("runner")


def main() -> None:
    from runner.config.completion import completion_argv

    sys.argv = [sys.argv[0], *completion_argv(sys.argv[1:], os.environ.get("COMP_LINE"))]
    if any(arg in ("--version", "-V") for arg in sys.argv[1:]):
        print(version_text())
        sys.exit(0)
    try:
        merge_dir = merge_request(sys.argv[1:])
        if merge_dir is not None:
            sys.exit(_merge(merge_dir))
        session = ConfigSession(ConfigSearch.from_argv(sys.argv[1:]))
        _print_help(sys.argv[1:], session)
        sys.argv = [sys.argv[0], *normalize_overrides(sys.argv[1:], session)]
        sys.argv = [sys.argv[0], *_sweep_resumed(sys.argv[1:])]
        prepared = _prepared(sys.argv[1:], session)
    except ConfigError as error:
        print(f"config error: {redact_text(_with_rerun_hint(error, sys.argv[1:]).render())}", file=sys.stderr)
        sys.exit(2)
    invocation = Invocation()
    if prepared is not None:
        from runner.job.prepared import run_prepared

        run_prepared(prepared, _task_function(invocation, prepared))
    else:
        invocation.config_sessions[session.search] = session  # a sweep's jobs here reuse it
        _run_hydra(invocation, session)
    sys.exit(invocation.exit_code())


def command() -> None:
    """The `run` console script and `python -m runner`: main(), then the process ends without Python's
    interpreter teardown (runner/core/fast_exit.py). main() itself exits the normal way, so code that calls
    it in its own process (the tests, a notebook) is never cut short."""
    from runner.core.fast_exit import exit_process

    try:
        main()
        code = 0
    except SystemExit as stop:
        code = stop.code
    except BrokenPipeError:
        # `run --help | head`: the reader stopped reading. No traceback; what is left unprinted goes nowhere
        # (a later flush would fail again), and the status is 1, as Python's own is on a broken pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
    if code is None or isinstance(code, int):
        exit_process(code or 0)
    sys.exit(code)  # a message: printed, exit status 1, as sys.exit does


def _print_help(argv: list[str], session: ConfigSession) -> None:
    """`run --help` from our own knowledge of the config groups (runner.config.help); Hydra renders
    the rare help config that needs more of it."""
    from runner.config.help import render_help, wants_help

    if wants_help(argv):
        text = render_help(argv, session)
        if text is not None:
            print(text)
            sys.exit(0)


def _prepared(argv: list[str], session: ConfigSession):
    """A single run composed once and planned (runner.job.prepared); None for what Hydra's app runs: a
    sweep (checked here at its first point), Hydra's own commands (--cfg, --info ...)."""
    if any("hydra/sweeper=" in arg for arg in argv):
        from runner.sweep.objective import check_search_plugin

        check_search_plugin(argv)
    if is_single_run(argv):
        from runner.job.prepared import prepare

        prepared = prepare(job_overrides(argv), session)
        if prepared is not None:
            return prepared
    check_composes(argv, session)
    return None


def _sweep_resumed(argv: list[str]) -> list[str]:
    """`run -m ... sweep.resume=<sweep dir>`: checked against that sweep, launched into it
    (runner.repro.sweep_resume); any other command as it is."""
    from runner.config.compose import MULTIRUN
    from runner.repro.sweep_resume import launch_overrides, requested

    overrides = job_overrides(argv)
    if requested(overrides) is None:
        return argv
    flags = [arg for arg in argv if arg not in overrides]
    return [*flags, *launch_overrides(overrides, any(arg in MULTIRUN for arg in argv))]


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
    from runner.repro.merge import merge_multirun, report

    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        report(merge_multirun(Path(multirun_dir)))
    except RunError as error:
        log.error("merge failed: %s", error.message)
        if error.hint:
            log.error("  hint: %s", error.hint)
        return error.exit_code
    return 0


def _run_hydra(invocation: Invocation, session: ConfigSession) -> None:
    """Hydra runs the jobs: each one's exit code lands in `invocation`, also those that other launchers
    ran in other processes (runner.sweep.exit_codes hands those back once the multirun ends). A plain
    `run -m` runs Hydra's multirun on our config loader (runner.job.prepared); Hydra's own commands
    (--cfg, --info, -cp ...) go through hydra.main."""
    import hydra

    from runner.sweep.exit_codes import launched_exit_codes

    logging.getLogger("alembic").setLevel(logging.WARNING)  # optuna imports it; it logs every plugin it sets up

    with launched_exit_codes() as collected:
        if is_plain_multirun(sys.argv[1:]):
            from runner.job.prepared import run_multirun

            stopped = run_multirun(job_overrides(sys.argv[1:]), session, _task_function(invocation))
        else:
            stopped = None
            hydra.main(config_path=PRIMARY_CONFIG, config_name="config", version_base="1.3")(
                _task_function(invocation)
            )()
        jobs = collected()
        invocation.exit_codes.extend(jobs)
    if stopped:
        _report_stopped_sweeper(stopped, jobs, invocation)


def _report_stopped_sweeper(stopped: str, jobs: list[int], invocation: Invocation) -> None:
    """A sweeper that raised after its jobs (their report is written): one line, no traceback, and a
    failing exit code (the jobs' highest, or 1 where none failed)."""
    if jobs and all(code != 0 for code in jobs):
        log.error("error: all %d trials failed, so the sweeper has no best point (it said: %s)", len(jobs), stopped)
        log.error(
            "  hint: sweep.md in the sweep dir lists each trial with its status and exit code (the sweeper's "
            "traceback: sweeper_error.txt beside it)"
        )
    else:
        log.error("error: the sweeper stopped after %d jobs: %s", len(jobs), stopped)
    if max(invocation.exit_codes, default=0) == 0:
        invocation.exit_codes.append(1)


def _task_function(invocation: Invocation, prepared=None):
    """Hydra's task function, bound to this invocation and, for a single run, to its prepared job
    (a closure: Hydra reads the function's module and code, which a functools.partial lacks)."""

    def job(cfg):
        code = _job(cfg, invocation, prepared)
        invocation.exit_codes.append(code)
        return _return_value(cfg, code)

    return job


def _return_value(cfg, code: int):
    """What Hydra gets back: the exit code or, with `objective` set, the metric an optimizing sweeper
    reads, a FailedTrial for a point without one (runner.sweep.objective)."""
    objective = cfg.get("objective")
    if objective is None:
        return code
    from hydra.core.hydra_config import HydraConfig

    from runner.sweep.objective import direction_mismatch, job_return_value

    hydra_cfg = HydraConfig.get()
    mismatch = direction_mismatch(objective, hydra_cfg.sweeper.get("direction"))
    if mismatch:
        log.warning("warning: %s", mismatch)
    value = job_return_value(objective, Path(hydra_cfg.runtime.output_dir), code)
    log.info("objective %s: %s", objective, value)
    return value


def _job(cfg, invocation: Invocation, prepared=None) -> int:
    """One job in the run dir Hydra made: held (runner.outputs.rundir_lock) before the runner writes into it,
    beginning with Hydra's config copies, redacted (runner.outputs.hydra_files)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from runner.outputs.hydra_files import redact_multirun_file, write_job_configs
    from runner.repro.requeue import requeued_from
    from runner.outputs.rundir_lock import RunDirLock, refuse_written

    hydra_cfg = HydraConfig.get()
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    run_dir = Path(hydra_cfg.runtime.output_dir)
    # In a multirun this job may run in another process (joblib, submitit): record its own overrides.
    argv = ["run", *hydra_cfg.overrides.task] if multirun else sys.argv
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    from runner.outputs.runlog import LibraryLogs

    try:
        with RunDirLock(run_dir, key, argv), LibraryLogs():
            # A job its scheduler requeued (SLURM time limit, preemption) finds its own earlier attempt
            # here and resumes it; any other run already in the dir is refused.
            point = _sweep_point(cfg, run_dir) if multirun else None
            requeued = not cfg.get("resume") and point is None and requeued_from(run_dir) is not None
            resumed = requeued or (point is not None and point.action == "resume")
            if not (cfg.get("resume") or resumed or point is not None):  # a finished run's dir keeps its configs
                refuse_written(run_dir, key)
            if point is None or point.action != "skip":
                write_job_configs(run_dir, cfg, HydraConfig.instance().cfg)
            if multirun:
                redact_multirun_file(Path(hydra_cfg.sweep.dir))
            resume = run_dir if resumed else None
            if prepared is not None:
                return _prepared_job(prepared, argv, invocation, resume)
            return _job_in(run_dir, cfg, argv, invocation, resume, point)
    except ConfigError as error:  # the dir is another run's, or holds one: nothing of ours was written into it
        log.error("config error: %s", error.render())
        return error.exit_code


def _sweep_point(cfg, run_dir: Path):
    """With sweep.resume: what this job's dir holds and what the job does about it (a Point of
    runner.repro.sweep_resume), said in the job's log; None for any other job."""
    if not (cfg.get("sweep") or {}).get("resume"):
        return None
    from runner.repro.sweep_resume import FRESH, RERUN, examine_point

    point = examine_point(run_dir)
    if point.action == RERUN:
        log.warning("sweep.resume: point %s: %s: running it again", run_dir.name, point.why)
        point.clear()
    elif point.action != FRESH:
        said = "kept" if point.action == "skip" else "resuming it"
        log.info("sweep.resume: point %s: %s: %s", run_dir.name, point.why, said)
    return point


def _job_in(run_dir: Path, cfg, argv: list[str], invocation: Invocation, resume: Path | None = None, point=None) -> int:
    """The job of a Hydra-composed config; `resume`: the dir a requeued job (or an interrupted point of a
    resumed sweep) resumes (its own); `point`: what a resumed sweep found in the job dir."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from omegaconf import OmegaConf

    from runner.job.app import Job, job_exit_code
    from runner.config.compose import finish_composed, to_plain

    hydra_cfg = HydraConfig.get()
    overrides = list(hydra_cfg.overrides.task)
    # The search path this job was composed on (the user's -cd dir included), wherever it runs.
    sources = OmegaConf.to_container(hydra_cfg.runtime.config_sources, resolve=True)
    session = _session(ConfigSearch.from_config_sources(sources), invocation)
    try:
        plain = to_plain(cfg)
        if resume is not None:
            plain["resume"] = str(resume)
        composed = finish_composed(plain, overrides, session)
        if point is not None and point.action == "skip":
            from runner.job.app import kept_point_exit_code

            return kept_point_exit_code(point, composed.cfg, overrides)
    except ConfigError as error:
        log.error("config error: %s", error.render())
        return error.exit_code
    job = Job(
        composed, session, argv, Path.cwd(), overrides, run_dir=run_dir, multirun=hydra_cfg.mode == RunMode.MULTIRUN
    )
    return job_exit_code(job, invocation)


def _prepared_job(prepared, argv: list[str], invocation: Invocation, resume: Path | None = None) -> int:
    from runner.job.app import Job, job_exit_code

    if resume is not None:  # planned before the run dir existed: a requeued job resumes its own dir
        prepared.planned[0].cfg["resume"] = str(resume)
    job = Job(
        prepared.composed,
        prepared.session,
        argv,
        Path.cwd(),
        prepared.overrides,
        run_dir=prepared.run_dir,
        planned=prepared.planned,
    )
    return job_exit_code(job, invocation)


def _session(search: ConfigSearch, invocation: Invocation) -> ConfigSession:
    """One ConfigSession per search path per invocation: a sweep's jobs in this process share it."""
    if search not in invocation.config_sessions:
        invocation.config_sessions[search] = ConfigSession(search)
    return invocation.config_sessions[search]


if __name__ == "__main__":
    main()
