"""Config tests run the `run` command in this process where they can: its own entry (runner.cli.main,
the checks before Hydra, then Hydra's app and the job) at ~0.7 s a case instead of ~1.5 s for a
subprocess, with a guard that fails the test if a model is loaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_main


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
    """`run <argv>` in this process from `cwd` (tests.conftest.run_main): its exit code. That a config error is
    found before any model loads is `no_model_loads`' guard; how fast it is, benchmarks/startup.py's "config
    error" ratio measures (a wall-clock bound here failed on a loaded machine)."""

    def run(argv: list[str], cwd: Path) -> int:
        return run_main(monkeypatch, *argv, cwd=cwd)

    return run
