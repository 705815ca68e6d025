"""A run config checked whole: the top level against the schemas, then each step once."""

from __future__ import annotations

from dataclasses import dataclass

from runner.config.batching import check_token_budget
from runner.config.graph_steps import step_configs
from runner.config.validate import check_config
from runner.config.engine import EngineSettings, check_engine
from runner.core.views import ConfigViews, StepView
from runner.tracking.settings import check_tracking


@dataclass(frozen=True)
class CheckedRun:
    cfg: dict  # the checked top level, as run.json records it
    steps: dict[str, dict]  # step name -> its complete single-task config (one step, "main", without graph.steps)
    views: ConfigViews  # of cfg, built once here (runner/plan's Plan keeps them)
    step_views: dict[str, StepView]  # of each step's config
    engine: EngineSettings  # `engine` (engine=local, engine=ray ...)


def check_run(raw_cfg: dict) -> CheckedRun:
    """Raise ConfigError (or ConfigErrors) on the first level that is wrong."""
    cfg = check_config(raw_cfg)
    check_tracking(cfg)  # the [mlflow] extra, when tracking=mlflow
    steps = step_configs(cfg)
    engine = EngineSettings.from_config(cfg)
    check_engine(engine, cfg, steps)  # the engine's extra ([ray]), and keys it cannot honour
    views = ConfigViews.from_config(cfg)
    step_views = {name: StepView.from_config(step) for name, step in steps.items()}
    check_token_budget(views, step_views)
    return CheckedRun(cfg, steps, views, step_views, engine)


def validate_config(raw_cfg: dict) -> dict:
    """The checked top-level config (every step checked too), or ConfigError."""
    return check_run(raw_cfg).cfg
