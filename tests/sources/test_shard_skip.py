"""dataset.skip / dataset.limit / shard pick rows by position; shards never overlap and cover every row."""
from __future__ import annotations

from runner.sources import open_source
from runner.tasks import TASKS


def _inline(n: int, **extra) -> dict:
    return {"type": "inline", "rows": [f"text {i}" for i in range(n)], "column": None, "fields": {},
            "id_column": None, "limit": None, "skip": 0, **extra}


def _indices(cfg: dict, shard=None) -> list[int]:
    source = open_source(cfg, TASKS["text-classification"])
    return [row.index for row in source.rows({"text": "text"}, shard)]


def test_skip_then_limit_counts_positions_after_the_skip():
    assert _indices(_inline(10, skip=3, limit=4)) == [0, 1, 2, 3]
    rows = list(open_source(_inline(10, skip=3, limit=4), TASKS["text-classification"]).rows({"text": "text"}))
    assert [r.fields["text"] for r in rows] == ["text 3", "text 4", "text 5", "text 6"]


def test_shards_partition_the_rows():
    cfg = _inline(11, skip=1)
    shards = [_indices(cfg, {"index": i, "count": 3}) for i in range(3)]
    assert sorted(sum(shards, [])) == list(range(10))
    assert all(not set(a) & set(b) for a in shards for b in shards if a is not b)
    source = open_source(cfg, TASKS["text-classification"])
    assert [source.total_rows({"index": i, "count": 3}) for i in range(3)] == [len(s) for s in shards]
