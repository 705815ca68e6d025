"""A single `run` job (no -m, no Hydra command such as --cfg), composed once and planned before any
run dir exists, then handed to Hydra's own `run_job`, which makes the run dir, sets up run.log
(conf/hydra/job_logging) and calls the runner's task function as `hydra.main` would.

`hydra.main` composes the config twice (once to read hydra.mode, once to run) after the runner's own
check, and finds a config error only inside the job, when the run dir and its run.log exist. Here
Hydra's config loader composes once, on the same search path; validation and planning follow; a
config error is printed (exit code 2) with nothing written. Log records of that phase are held and
written to run.log (and the screen) once the job's logging is set up.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.config.search import ConfigSession
from runner.outputs.runlog import HeldRecords


def JobRuntime():  # noqa: N802 - Hydra's singleton, imported when first used
    from hydra.core.utils import JobRuntime as runtime

    return runtime()


CONFIG_NAME = "config"
SWEEPER_TRACEBACK = "sweeper_error.txt"  # in the sweep dir: the traceback of a sweeper that raised
JOB_NAME = "cli"  # what hydra.main names the job of runner/cli.py (hydra.job.name)


@dataclass
class PreparedJob:
    hydra_cfg: Any  # Hydra's composition, its `hydra` node included (a DictConfig)
    composed: Any  # runner.config.compose.Composed
    planned: tuple  # plan_job's (plan, rerun)
    session: ConfigSession
    run_dir: Path
    held: HeldRecords

    @property
    def overrides(self) -> list[str]:
        return list(self.hydra_cfg.hydra.overrides.task)


def prepare(overrides: list[str], session: ConfigSession) -> PreparedJob | None:
    """Compose, validate and plan. Raises ConfigError; None when the config sets hydra.mode=MULTIRUN
    (then Hydra's own app runs it)."""
    from hydra.types import RunMode

    from runner.job.app import plan_job
    from runner.config.compose import Composed, explain_composition_error, to_plain
    from runner.config.presets import expand_step_presets
    from runner.config.provenance import describe

    with HeldRecords() as held:
        JobRuntime().set("name", JOB_NAME)
        # The session's search path holds hydra.searchpath's dirs already; passed again they would repeat.
        overrides = [o for o in overrides if not o.lstrip("+~").startswith("hydra.searchpath=")]
        try:
            cfg = session.compose(overrides)
        except Exception as error:  # hydra/omegaconf/yaml raise several types; all mean "this config is wrong"
            raise explain_composition_error(error, overrides, session) from None
        if cfg.hydra.mode == RunMode.MULTIRUN:
            return None
        cfg.hydra.mode = RunMode.RUN  # as Hydra's run sets it
        run_dir = _run_dir(cfg)
        from runner.outputs.rundir_lock import check_run_dir

        check_run_dir(run_dir, "hydra.run.dir")
        task_overrides = list(cfg.hydra.overrides.task)
        composed = Composed(expand_step_presets(to_plain(cfg), session), describe(session, task_overrides))
        planned = plan_job(composed, session, task_overrides, run_dir)
    return PreparedJob(cfg, composed, planned, session, run_dir, held)


def _run_dir(cfg) -> Path:
    """hydra.run.dir as Hydra's run_job will read it (the same config object: ${now:...} is cached)."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    HydraConfig.instance().set_config(cfg)
    return Path(os.path.abspath(str(OmegaConf.select(cfg, "hydra.run.dir"))))


def run_prepared(prepared: PreparedJob, task_function) -> None:
    """What hydra.main does for a run, from the composed config on: callbacks, Hydra's logging, and
    run_job (the run dir, run.log, the task function). The held records go out first."""
    from hydra.core.utils import configure_log, run_job
    from hydra.types import HydraContext

    from runner.config.hydra_private import Callbacks

    cfg = prepared.hydra_cfg
    callbacks = Callbacks(cfg)
    callbacks.on_run_start(config=cfg, config_name=CONFIG_NAME)
    configure_log(cfg.hydra.hydra_logging, cfg.hydra.verbose)

    def job(task_cfg):
        prepared.held.replay()
        return task_function(task_cfg)

    result = run_job(
        hydra_context=HydraContext(config_loader=prepared.session.loader, callbacks=callbacks),
        task_function=job,
        config=cfg,
        job_dir_key="hydra.run.dir",
        job_subdir_key=None,
    )
    callbacks.on_run_end(config=cfg, config_name=CONFIG_NAME, job_return=result)
    _ = result.return_value  # raises what the task function raised, as hydra.main does


def run_multirun(overrides: list[str], session: ConfigSession, task_function) -> str | None:
    """`run -m`: Hydra's multirun (its sweeper, launcher and callbacks) on the session's loader,
    without hydra.main's extra composition to read hydra.mode; the jobs the basic launcher runs here
    compose through the same loader, which keeps what each read for run.json."""
    from hydra.core.global_hydra import GlobalHydra

    from runner.config.hydra_private import Hydra, run_and_report

    JobRuntime().set("name", JOB_NAME)
    hydra = Hydra(task_name=JOB_NAME, config_loader=session.loader)
    GlobalHydra.instance().clear()
    GlobalHydra.instance().initialize(hydra)
    overrides = [*overrides, "hydra.mode=MULTIRUN"]  # as hydra.main adds it for -m
    return run_and_report(lambda: _multirun(hydra, overrides, task_function))


def _multirun(hydra, overrides: list[str], task_function) -> str | None:
    """Hydra.multirun, except that a sweeper which raises once its jobs ran (Optuna when every trial
    failed: "No trials are completed yet.") still ends the multirun: the callbacks' on_multirun_end
    writes sweep.md and hands the jobs' exit codes back. Returns what stopped the sweeper, said in one
    line (the traceback goes to the log at debug level), or None."""
    import traceback

    from hydra.core.plugins import Plugins
    from hydra.types import HydraContext, RunMode
    from omegaconf import OmegaConf

    from runner.config.hydra_private import Callbacks

    cfg = hydra.compose_config(
        config_name=CONFIG_NAME, overrides=overrides, with_log_configuration=True, run_mode=RunMode.MULTIRUN
    )
    callbacks = Callbacks(cfg)
    callbacks.on_multirun_start(config=cfg, config_name=CONFIG_NAME)
    sweeper = Plugins.instance().instantiate_sweeper(
        config=cfg,
        hydra_context=HydraContext(config_loader=hydra.config_loader, callbacks=callbacks),
        task_function=task_function,
    )
    task_overrides = OmegaConf.to_container(cfg.hydra.overrides.task, resolve=False)
    stopped = None
    try:
        sweeper.sweep(arguments=task_overrides)
    except Exception as error:  # the jobs' outputs stand: report them, say what stopped the sweeper
        stopped = f"{type(error).__name__}: {error}"
        where = Path(str(cfg.hydra.sweep.dir)) / SWEEPER_TRACEBACK
        try:
            where.parent.mkdir(parents=True, exist_ok=True)
            where.write_text(traceback.format_exc())
        except OSError:
            pass
    callbacks.on_multirun_end(config=cfg, config_name=CONFIG_NAME)
    return stopped
