"""4 shards of a job each read about a quarter of the rows, and `run merge=` of them equals the
unsharded run byte for byte: a Parquet file (shards own contiguous blocks of row groups), a saved hf
Dataset and a streaming hf dataset of several files (round-robin)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli, run_job
from tests.sources.test_shard_skip import parsed_counter

ROWS, SHARDS = 120, 4
JOB = ["+experiment=tiny_sentiment", "progress=false", "dataset.skip=2"]  # 118 rows: shards of 29 or 30


def _texts() -> list[str]:
    return [f"review {i}: {'good' if i % 3 else 'bad'} film" for i in range(ROWS)]


def _parquet(tmp_path) -> list[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": _texts()}), tmp_path / "data.parquet", row_group_size=10)  # 12 row groups
    return ["dataset=file", "dataset.path=data.parquet"]


def _hf_saved(tmp_path) -> list[str]:
    import datasets

    datasets.Dataset.from_dict({"text": _texts()}).save_to_disk(str(tmp_path / "saved"))
    return ["dataset=hf", f"dataset.name={tmp_path / 'saved'}"]


def _hf_streaming(tmp_path) -> list[str]:
    names = []
    for part in range(3):  # 3 files: datasets' own "shards" split would not fit 4 shards anyway
        names.append(str(tmp_path / f"part{part}.jsonl"))
        lines = [json.dumps({"text": text}) for text in _texts()[part * 40 : (part + 1) * 40]]
        (tmp_path / f"part{part}.jsonl").write_text("\n".join(lines) + "\n")
    return ["dataset=hf", "dataset.name=json", f"dataset.data_files=[{','.join(names)}]", "dataset.streaming=true"]


@pytest.mark.parametrize(
    "kind, data", [("parquet", _parquet), ("hf-saved", _hf_saved), ("hf-streaming", _hf_streaming)]
)
def test_four_shards_read_a_quarter_each_and_merge_into_the_unsharded_run(tmp_path, monkeypatch, kind, data):
    dataset = data(tmp_path)
    whole = tmp_path / "whole"
    assert run_job(*JOB, *dataset, f"hydra.run.dir={whole}", cwd=tmp_path).returncode == 0
    count = parsed_counter(monkeypatch, kind)
    for index in range(SHARDS):
        count[0] = 0
        out = tmp_path / "sweep" / str(index)
        result = run_job(
            *JOB, *dataset, f"shard.count={SHARDS}", f"shard.index={index}", f"hydra.run.dir={out}", cwd=tmp_path
        )
        assert result.returncode == 0, result.stderr[-2000:]
        rows = len((out / "predictions.jsonl").read_text().splitlines())
        assert rows in (29, 30)
        # its own rows, plus the peek at its first rows while planning: 5 rows of a dataset, one batch of
        # Parquet, which holds here the shard's whole block and the rest of the row groups it starts and
        # ends in (10 rows each); the unsharded run reads 118 rows (and Parquet 2 x 120)
        most = 2 * (rows + 20) if kind == "parquet" else rows + 5
        assert rows <= count[0] <= most, (index, count[0])
    merged = run_cli(f"merge={tmp_path / 'sweep'}", cwd=tmp_path)
    assert merged.returncode == 0, merged.stderr[-2000:]
    assert (tmp_path / "sweep" / "merged" / "predictions.jsonl").read_bytes() == (
        whole / "predictions.jsonl"
    ).read_bytes()


def test_merge_refuses_a_row_outside_its_shards_block(tmp_path):
    """Parquet shards own blocks, not p % N: merge checks a row against the block its shard owns."""
    from runner.core.errors import RunError
    from runner.repro.merge import merge_multirun

    dataset = _parquet(tmp_path)
    for index in range(2):
        out = tmp_path / "sweep" / str(index)
        assert (
            run_job(
                *JOB, *dataset, "shard.count=2", f"shard.index={index}", f"hydra.run.dir={out}", cwd=tmp_path
            ).returncode
            == 0
        )
    first, second = (tmp_path / "sweep" / str(i) / "predictions.jsonl" for i in range(2))
    lines = [first.read_text().splitlines(True), second.read_text().splitlines(True)]
    assert json.loads(lines[0][-1])["index"] == 58 and json.loads(lines[1][0])["index"] == 59  # blocks 0-58, 59-117
    first.write_text("".join(lines[0][:-1] + lines[1][:1]))  # each shard keeps its count, one row swapped
    second.write_text("".join(lines[0][-1:] + lines[1][1:]))
    with pytest.raises(RunError, match="row 58 does not belong to shard 1 of 2"):
        merge_multirun(tmp_path / "sweep")


@pytest.mark.parametrize("how", ["round-robin", "blocks"])
def test_shard_assignments_partition_the_positions_and_owner_inverts_them(how):
    from runner.sources.sharding import owned, owner

    for total in (0, 1, 3, 4, 7, 118):
        for count in (1, 2, 4, 5):
            parts = [owned(total, index, count, how) for index in range(count)]
            assert sorted(p for part in parts for p in part) == list(range(total))
            assert all(owner(p, total, count, how) == index for index, part in enumerate(parts) for p in part)
            assert max(map(len, parts)) - min(map(len, parts)) <= 1  # balanced
