"""Every integer key takes a whole Python int within its bounds: a float (2.0, 1e300), a value past its
maximum, or an int past int64 is a ConfigError naming the key. Every number key takes a finite number."""

from __future__ import annotations

import copy
import json

import pytest

from runner.config import validate_config
from runner.config.compose import compose_config
from runner.config.validate import INT64_MAX
from runner.core.errors import ConfigError
from runner.core.paths import SCHEMA_DIR
from runner.tasks import TASKS

# (dotted key, its maximum) for the top-level integer keys
TOP_LEVEL = [
    ("batch_size", 65536),
    ("seed", 2**32 - 1),
    ("shard.count", 65536),
    ("dataset.limit", INT64_MAX),
    ("dataset.skip", INT64_MAX),
    ("batching.window_batches", 65536),
    ("bench.warmup_batches", INT64_MAX),
    ("bench.max_rows", INT64_MAX),
    ("bench.max_batch_size", 65536),
    ("bench.probe_rows", 65536),
]


def rejected_keys(cfg: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        validate_config(cfg)
    return [e.key for e in getattr(caught.value, "errors", [caught.value])]


def with_value(cfg: dict, key: str, value) -> dict:
    cfg = copy.deepcopy(cfg)
    *parents, leaf = key.split(".")
    node = cfg
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    return cfg


@pytest.fixture(scope="module")
def base() -> dict:
    return compose_config(["+task=text-generation"])


@pytest.mark.parametrize("key,maximum", TOP_LEVEL)
def test_top_level_integers(base, key, maximum):
    validate_config(with_value(base, key, 1))
    for bad in (2.0, 1e300, maximum + 1, float("nan")):
        assert key in rejected_keys(with_value(base, key, bad)), (key, bad)
    assert "shard.index" in rejected_keys(with_value(base, "shard", {"index": 0.0, "count": 1}))


@pytest.mark.parametrize("task", sorted(TASKS))
def test_task_integers(task):
    base = compose_config([f"+task={task}"])
    base["task"]["params"] = {"candidate_labels": ["a", "b"]} if "candidate_labels" in _params(task) else {}
    for param, schema in _params(task).items():
        kinds = schema.get("type") if isinstance(schema.get("type"), list) else [schema.get("type")]
        if "integer" not in kinds:
            continue
        assert schema["maximum"] <= 2**20, f"{task}: {param} has no sensible maximum"
        for bad in (3.0, 1e300, schema["maximum"] + 1):
            cfg = with_value(base, f"task.params.{param}", bad)
            assert f"task.params.{param}" in rejected_keys(cfg), (task, param, bad)


def test_numbers_must_be_finite(base):
    for bad in (float("nan"), float("inf"), float("-inf")):
        assert "task.params.temperature" in rejected_keys(with_value(base, "task.params.temperature", bad))
    assert "bench.max_seconds" in rejected_keys(with_value(base, "bench.max_seconds", float("inf")))


def test_a_float_for_an_integer_says_so(base):
    with pytest.raises(ConfigError) as caught:
        validate_config(with_value(base, "batch_size", 1e300))
    assert caught.value.message == "expected integer, got the float 1e+300"
    assert "whole number" in caught.value.hint


def _params(task: str) -> dict:
    return json.loads((SCHEMA_DIR / "tasks" / f"{task}.schema.json").read_text())["properties"]
