"""dataset.skip / dataset.limit / shard pick rows by position; shards never overlap and cover every row."""

from __future__ import annotations

import json

import pytest

from runner.sources import open_source
from runner.tasks import TASKS


def _inline(n: int, **extra) -> dict:
    return {
        "type": "inline",
        "rows": [f"text {i}" for i in range(n)],
        "column": None,
        "fields": {},
        "id_column": None,
        "limit": None,
        "skip": 0,
        **extra,
    }


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


# --- each source reads only its shard's rows (issue 15) -------------------------------------------------

ROWS = 40  # rows in each test file; skip=3 leaves 37, which 4 shards do not split evenly
SHARDS = 4
FILE = {"type": "file", "format": "auto", "column": None, "fields": {}, "id_column": None, "limit": None, "skip": 3}
HF = {
    "type": "hf",
    "config": None,
    "split": "train",
    "data_files": None,
    "data_dir": None,
    "revision": None,
    "streaming": False,
    "column": None,
    "fields": {},
    "id_column": None,
    "limit": None,
    "skip": 3,
}


def _texts() -> list[str]:
    return [f"row {i}, with a comma" for i in range(ROWS)]


def _write(tmp_path, kind: str) -> dict:
    """A dataset of ROWS texts as `kind`, and the source config reading it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    texts = _texts()
    if kind == "csv":
        path = tmp_path / "data.csv"
        path.write_text("text,n\n" + "".join(f'"{t}",{i}\n' for i, t in enumerate(texts)))
    elif kind in ("jsonl", "json"):
        path = tmp_path / f"data.{kind}"
        lines = [json.dumps({"text": t, "n": i}) for i, t in enumerate(texts)]
        path.write_text("\n".join(lines) + "\n" if kind == "jsonl" else "[" + ",\n".join(lines) + "]")
    elif kind == "parquet":
        path = tmp_path / "data.parquet"
        pq.write_table(pa.table({"text": texts, "n": list(range(ROWS))}), path, row_group_size=5)  # 8 row groups
    else:
        return _write_hf(tmp_path, kind, texts)
    return {**FILE, "path": str(path)}


def _write_hf(tmp_path, kind: str, texts: list[str]) -> dict:
    import datasets

    if kind == "hf-saved":
        datasets.Dataset.from_dict({"text": texts, "n": list(range(ROWS))}).save_to_disk(str(tmp_path / "saved"))
        return {**HF, "name": str(tmp_path / "saved")}
    files = []  # hf-streaming: 4 JSON Lines files, read as one streaming dataset
    for part in range(4):
        files.append(str(tmp_path / f"part{part}.jsonl"))
        rows = range(part * ROWS // 4, (part + 1) * ROWS // 4)
        (tmp_path / f"part{part}.jsonl").write_text(
            "".join(json.dumps({"text": texts[i], "n": i}) + "\n" for i in rows)
        )
    return {**HF, "name": "json", "data_files": files, "streaming": True}


def _rows(cfg: dict, shard=None) -> list[tuple]:
    source = open_source(cfg, TASKS["text-classification"])
    return [(row.index, row.id, row.fields["text"]) for row in source.rows({"text": "text"}, shard)]


KINDS = ["csv", "jsonl", "json", "parquet", "hf-saved", "hf-streaming"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("limit", [None, 30])
def test_the_shards_of_each_source_hold_the_unsharded_rows_with_their_positions(tmp_path, kind, limit):
    cfg = {**_write(tmp_path, kind), "limit": limit}
    whole = _rows(cfg)
    assert [index for index, _, _ in whole] == list(range(limit or ROWS - 3))
    assert [text for _, _, text in whole] == _texts()[3 : 3 + len(whole)]
    shards = [_rows(cfg, {"index": i, "count": SHARDS}) for i in range(SHARDS)]
    assert sorted(sum(shards, [])) == whole  # same rows, same ids, same positions, none twice
    source = open_source(cfg, TASKS["text-classification"])
    totals = [source.total_rows({"index": i, "count": SHARDS}) for i in range(SHARDS)]
    sized = limit is not None or kind in ("parquet", "hf-saved")  # the others are not counted before the run
    assert totals == ([len(s) for s in shards] if sized else [None] * SHARDS)
    assert all(shard for shard in shards)


def _counting(monkeypatch, owner, name: str, rows=lambda *args: 1) -> list[int]:
    """Count what `owner.name` is called on: each call adds rows(*args) to the count."""
    count = [0]
    original = getattr(owner, name)

    def counted(*args, **kwargs):
        count[0] += rows(*args)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return count


def parsed_counter(monkeypatch, kind: str) -> list[int]:
    """A counter of the rows `kind`'s reader turns into records (the cost a shard should pay for its own only)."""
    from datasets.formatting import formatting

    from runner.sources import readers

    if kind == "parquet":
        import pyarrow.parquet as pq

        count = [0]
        original = pq.ParquetFile.iter_batches

        def iter_batches(self, *args, **kwargs):
            for batch in original(self, *args, **kwargs):
                count[0] += batch.num_rows
                yield batch

        monkeypatch.setattr(pq.ParquetFile, "iter_batches", iter_batches)
        return count
    if kind.startswith("hf"):  # the rows datasets turns from Arrow into Python
        return _counting(
            monkeypatch, formatting.PythonArrowExtractor, "extract_row", lambda _self, table: table.num_rows
        )
    hooks = {"csv": (readers, "_csv_record"), "jsonl": (readers, "_json_line"), "json": (readers, "_json_element")}
    return _counting(monkeypatch, *hooks[kind])


@pytest.mark.parametrize("kind", KINDS)
def test_a_shard_parses_only_about_its_share_of_the_rows(tmp_path, monkeypatch, kind):
    cfg = _write(tmp_path, kind)
    count = parsed_counter(monkeypatch, kind)
    for index in range(SHARDS):
        got = _rows(cfg, {"index": index, "count": SHARDS})
        # at least its own rows (the hook counts); a Parquet shard reads whole row groups of 5 rows, and
        # its 9 or 10 rows span at most 3 of them
        slack = 15 - len(got) if kind == "parquet" else 0
        assert len(got) <= count[0] <= len(got) + slack, (index, count[0])
        count[0] = 0


def test_a_parquet_shard_whose_block_is_empty_is_a_config_error_naming_the_rows(tmp_path, monkeypatch):
    """3 rows in 5 blocks: shard 0's block (positions 0*3//5 up to 1*3//5) is empty, found while planning."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    import runner
    from runner.core.errors import ConfigError

    pq.write_table(pa.table({"text": ["a", "b", "c"]}), tmp_path / "d.parquet")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        runner.run(
            [
                "+task=text-classification",
                "model=tiny",
                "dataset=file",
                "dataset.path=d.parquet",
                "shard.count=5",
                "shard.index=0",
            ],
            output_dir=tmp_path / "out",
        )
    assert caught.value.key == "shard.index"
    assert "shard 0 of 5 gets no rows: 'd.parquet' has only 3 rows" in caught.value.message
