"""Config tests run the `run` command in this process where they can: its own entry (runner.cli.main,
the checks before Hydra, then Hydra's app and the job) at ~0.7 s a case instead of ~1.5 s for a
subprocess, with a guard that fails the test if a model is loaded."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest


@pytest.fixture
def no_model_loads(monkeypatch):
    """A config error must be found before any model loads: loading one fails the test."""
    import runner.backends.cache
    import runner.models.loading

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded for a bad config")

    for module in (runner.models.loading, runner.backends.cache):
        monkeypatch.setattr(module, "load_pipeline", refuse)
    monkeypatch.setattr(runner.models.loading, "resolve_model", refuse)


@pytest.fixture
def run_in_process(monkeypatch, no_model_loads):
    """`run <argv>` through the command's own entry, in this process, from `cwd`: its exit code. That a config
    error is found before any model loads is `no_model_loads`' guard; how fast it is, benchmarks/startup.py's
    "config error" ratio measures (a wall-clock bound here failed on a loaded machine)."""
    from runner.cli import main

    def run(argv: list[str], cwd: Path) -> int:
        monkeypatch.chdir(cwd)
        monkeypatch.setattr(sys, "argv", ["run", *argv])
        try:
            with pytest.raises(SystemExit) as exited:
                main()
        finally:
            _restore_logging(*saved)
            _clear_hydra()
        return exited.value.code

    # Hydra's job logging sets handlers on the root logger bound to this test's captured streams; left
    # there, later tests log into closed files ("--- Logging error ---").
    saved = (logging.root.level, list(logging.root.handlers))

    return run


def _clear_hydra() -> None:
    """A run that stopped inside Hydra (a config error, shell completion) can leave its global state set; the
    next in-process run would then fail with "GlobalHydra is already initialized"."""
    from hydra.core.global_hydra import GlobalHydra

    if GlobalHydra.instance().is_initialized():
        GlobalHydra.instance().clear()


def _restore_logging(level: int, handlers: list) -> None:
    for handler in [h for h in logging.root.handlers if h not in handlers]:
        logging.root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        if handler not in logging.root.handlers:
            logging.root.addHandler(handler)
    logging.root.setLevel(level)
