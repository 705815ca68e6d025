"""Tracking for the Python API (runner.run), which runs its job without Hydra's callbacks: the same
MLflow run as the command's (runner.tracking.job), opened once the run dir is claimed."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from runner.core.errors import ConfigError
from runner.tracking.settings import TrackingSettings

INTERRUPTED = 130
log = logging.getLogger("runner")


class ApiTracking:
    def __init__(self, cfg: dict, claim_run_dir: Callable[[Any], Path]):
        self.settings = TrackingSettings.from_config(cfg)
        self.cfg = cfg
        self._claim = claim_run_dir
        self.opened: tuple | None = None
        self.run_dir: Path | None = None
        self.exit_code = 0  # the finished job's (runner.job.app.Outcome.exit_code), set by the caller

    def claim(self, plan) -> Path:
        """The API's claim_run_dir, opening the MLflow run once the dir is there."""
        self.run_dir = self._claim(plan)
        if self.settings.enabled:
            from runner.tracking.job import start_run

            try:
                self.opened = start_run(self.settings, self.run_dir, plan.cfg)
            except Exception as error:  # as the command's callback: the run goes on untracked, said so
                log.error(
                    "tracking: could not start an MLflow run in %s (the run goes on untracked): %s",
                    self.settings.store_uri(),
                    error,
                )
        return self.run_dir


@contextmanager
def tracked(cfg: dict, claim_run_dir: Callable[[Any], Path]) -> Iterator[ApiTracking]:
    """Around runner.job.app.run_job: the run logged and ended with the exit code the command would give."""
    tracking = ApiTracking(cfg, claim_run_dir)
    code = None
    try:
        yield tracking
        code = tracking.exit_code
    except ConfigError:
        code = 2
        raise
    except KeyboardInterrupt:
        code = INTERRUPTED
        raise
    except Exception:  # RunError and whatever else ended the run
        code = 1
        raise
    finally:
        if tracking.opened is not None:
            from runner.tracking.job import log_job

            log_job(tracking.opened, tracking.run_dir, cfg, tracking.settings, 1 if code is None else code)
