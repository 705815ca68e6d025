"""Which sweep points an earlier out-of-memory point rules out (bench.skip_after_oom): those of the same
combination at least as large in rows per batch and, with batching.max_tokens, in token budget."""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace

from runner.core.views import ConfigViews
from runner.job.invocation import OomLimits


@cache
def _base() -> dict:
    from runner.config.checked import check_run
    from runner.config.compose import compose_config

    return check_run(compose_config(["+task=text-classification", "model=tiny"])).cfg


def point(batch_size, max_tokens=None, dtype="float32"):
    """A sweep point's plan as OomLimits reads it: its config and that config's views."""
    base = _base()
    cfg = {
        **base,
        "batch_size": batch_size,
        "dtype": dtype,
        "batching": {**base["batching"], "sort_by_length": True, "max_tokens": max_tokens},
    }
    return SimpleNamespace(cfg=cfg, views=ConfigViews.from_config(cfg))


def test_without_a_budget_larger_batch_sizes_are_ruled_out():
    limits = OomLimits()
    limits.record(point(16), 16)
    assert limits.covering(point(8)) is None
    assert limits.covering(point(16)) == (16, None) and limits.covering(point(32)) == (16, None)
    assert limits.covering(point(32, dtype="bfloat16")) is None  # another combination
    assert limits.covering(point("auto")) is None


def test_a_budget_sweep_rules_out_larger_budgets_at_the_same_or_more_rows():
    limits = OomLimits()
    limits.record(point(64, 4096), 23)  # the batch that failed held 23 rows; the point allows 64
    assert limits.covering(point(64, 8192)) == (64, 4096)
    assert limits.covering(point(128, 4096)) == (64, 4096)
    assert limits.covering(point(64, 2048)) is None  # a smaller budget may fit
    assert limits.covering(point(32, 8192)) is None  # fewer rows may fit
    assert limits.covering(point(64)) == (64, 4096)  # no budget: at least as large as any


def test_a_point_with_a_budget_is_not_ruled_out_by_a_batch_size_without_one():
    limits = OomLimits()
    limits.record(point(16), 16)
    assert limits.covering(point(32, 512)) is None  # 32 rows at most, but 512 tokens may hold far fewer
