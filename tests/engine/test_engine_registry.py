"""Engines are units registered once (runner.config.engine.ENGINES) and chosen by config, not by an `if`:
a new engine is one registry entry, and the config check, the schema's enum and the job's call all follow it."""

from __future__ import annotations

import pytest

import runner
from runner.config.engine import ENGINES, Engine
from runner.core.errors import ConfigError

TEXTS = ["a great film", "an awful plot, truly", "fine"]
CALLS: list[str] = []


def recording_execute(plan, run_dir, **kwargs):
    """An engine for the test: says it ran, then computes as engine=local does."""
    from runner.engine import execute

    CALLS.append(plan.cfg["engine"]["name"])
    return execute(plan, run_dir, **kwargs)


@pytest.fixture
def recorder(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    CALLS.clear()
    monkeypatch.setitem(ENGINES, "recorder", Engine("recorder", f"{__name__}:recording_execute"))


def test_a_registered_engine_is_picked_by_its_name_and_runs_the_plan(recorder):
    result = runner.run("sentiment", inputs=TEXTS, model="tiny", progress=False, overrides=["engine.name=recorder"])
    assert CALLS == ["recorder"]
    assert [p["input"]["text"] for p in result.predictions] == TEXTS
    local = runner.run("sentiment", inputs=TEXTS, model="tiny", progress=False)
    assert CALLS == ["recorder"]  # engine=local did not go through it
    assert [p["output"] for p in result.predictions] == [p["output"] for p in local.predictions]


def test_an_unregistered_engine_is_a_config_error_listing_the_registered_ones(recorder):
    with pytest.raises(ConfigError) as error:
        runner.compose("sentiment", model="tiny", overrides=["engine.name=recordr"])
    assert error.value.key == "engine.name"
    assert "recorder" in str(error.value) and "local" in str(error.value) and "ray" in str(error.value)


def test_an_engine_that_reads_no_iterators_refuses_one_before_running(recorder, monkeypatch):
    monkeypatch.setitem(ENGINES, "recorder", Engine("recorder", f"{__name__}:recording_execute", reads_iterators=False))
    with pytest.raises(ConfigError, match="engine=recorder reads the rows in another process"):
        runner.run("sentiment", inputs=iter(TEXTS), model="tiny", progress=False, overrides=["engine.name=recorder"])
    assert CALLS == []
