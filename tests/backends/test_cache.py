"""PipelineCache: reuse by load key, freeing what the next job does not need, one cache per owner."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from runner.backends import cache as cache_module
from runner.backends.cache import PipelineCache, load_key
from tests.conftest import step_view


def _cfg(model: str, batch_size: int = 1):
    """A text-classification step on the cpu whose model is named `model` (never loaded: see `loads`)."""
    step = step_view("+task=text-classification", "device=cpu")
    return replace(step, model=replace(step.model, name=model), run=replace(step.run, batch_size=batch_size))


@pytest.fixture
def loads(monkeypatch):
    """Loading is replaced by a counter: every load returns a new stand-in pipeline."""
    loaded = []

    def load_pipeline(step, spec):
        loaded.append(step.model.name)
        return SimpleNamespace(pipe=object(), ref=SimpleNamespace(origin="hub", location=step.model.name))

    monkeypatch.setattr(cache_module, "load_pipeline", load_pipeline)
    monkeypatch.setattr(cache_module, "prepare_for_batching", lambda pipe, spec, batch_size: None)
    return loaded


def test_same_load_key_is_reused_and_batch_size_is_not_part_of_it(loads):
    cache = PipelineCache()
    first, reused_first = cache.get(_cfg("a", batch_size=1), spec=None)
    again, reused_again = cache.get(_cfg("a", batch_size=8), spec=None)
    assert (reused_first, reused_again) == (False, True) and again is first and loads == ["a"]


def test_keep_only_forget_and_clear(loads):
    cache = PipelineCache()
    cache.get(_cfg("a"), spec=None)
    cache.get(_cfg("b"), spec=None)
    cache.keep_only({load_key(_cfg("b"))})
    assert cache.get(_cfg("b"), spec=None)[1] is True
    assert cache.get(_cfg("a"), spec=None)[1] is False  # freed, so loaded again
    cache.forget(_cfg("a"))
    assert cache.get(_cfg("a"), spec=None)[1] is False
    cache.clear()
    assert cache.get(_cfg("b"), spec=None)[1] is False
    assert loads == ["a", "b", "a", "a", "b"]


def test_caches_do_not_share(loads):
    PipelineCache().get(_cfg("a"), spec=None)
    assert PipelineCache().get(_cfg("a"), spec=None)[1] is False
    assert loads == ["a", "a"]
