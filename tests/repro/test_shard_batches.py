"""Shards own whole batches by global position (runner.sources.sharding), so each calls the model on the
batches an unsharded run calls it on, and `run merge=` of the shards equals the unsharded run byte for
byte: padding inside a batch moves floats in their last bits, which a shard batching its own rows showed
(3 rows of 2,343 at batch_size=7 on the tiny model, round-robin by row)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from runner.repro.merge import merge_multirun
from runner.sources.sharding import BLOCKS, ROUND_ROBIN, batch_unit, cut_units, owned, owned_count, owner, owns
from tests.conftest import read_jsonl, run_job

WORDS = "the quick brown fox jumps over lazy dogs while seven wizards quietly judge boxing matches".split()


def _rows(folder: Path, count: int) -> None:
    """Texts of 1 to 24 words, lengths mixed within every batch, so padding differs from batch to batch."""
    lines = (
        json.dumps({"text": " ".join(WORDS[(i * j) % len(WORDS)] for j in range((i * 37) % 24 + 1))})
        for i in range(count)
    )
    (folder / "rows.jsonl").write_text("\n".join(lines) + "\n")


BASE = (
    "+task=text-classification",
    "model=tiny",
    "dataset=file",
    "dataset.path=rows.jsonl",
    "batch_size=7",
    "progress=false",
)


def _whole_and_merged(tmp_path: Path, count: int, shards: int = 3) -> tuple[Path, Path]:
    _rows(tmp_path, count)
    result = run_job(*BASE, f"hydra.run.dir={tmp_path / 'whole'}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    for index in range(shards):
        result = run_job(
            *BASE,
            f"shard.count={shards}",
            f"shard.index={index}",
            f"hydra.run.dir={tmp_path / 'shards' / str(index)}",
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr[-2000:]
    merge_multirun(tmp_path / "shards")
    return tmp_path / "whole", tmp_path / "shards" / "merged"


def test_shards_own_whole_batches_and_their_merge_is_the_unsharded_run(tmp_path):
    whole, merged = _whole_and_merged(tmp_path, 45, shards=2)
    for index in range(2):  # shard i holds batches i, i+2, ...: positions 7k..7k+6 with k % 2 == i
        written = [r["index"] for r in read_jsonl(tmp_path / "shards" / str(index) / "predictions.jsonl")]
        assert written == [p for p in range(45) if (p // 7) % 2 == index]
    assert (merged / "predictions.jsonl").read_bytes() == (whole / "predictions.jsonl").read_bytes()


@pytest.mark.slow  # 20,000 rows twice through the tiny model: minutes on 2 busy cores
def test_20000_rows_at_batch_7_in_3_shards_merge_to_the_unsharded_run_byte_for_byte(tmp_path):
    whole, merged = _whole_and_merged(tmp_path, 20_000)
    for name in ("predictions.jsonl", "errors.jsonl"):
        assert (merged / name).read_bytes() == (whole / name).read_bytes(), name


@pytest.mark.parametrize("how", [ROUND_ROBIN, BLOCKS])
def test_units_partition_the_positions_and_owner_inverts_owned(how):
    for total, count, unit in itertools.product([0, 1, 6, 7, 20, 22, 101], [1, 2, 3, 5], [1, 3, 7]):
        seen = []
        for index in range(count):
            if how == BLOCKS:
                mine = list(owned(total, index, count, how, unit))
                assert not mine or mine[0] % unit == 0  # a block starts at a batch
            else:
                mine = [p for p in range(total) if owns(p, index, count, unit)]
            assert len(mine) == owned_count(total, index, count, how, unit)
            assert all(owner(p, total, count, how, unit) == index for p in mine)
            assert all(p // unit not in {q // unit for q in seen} for p in mine)  # no batch split across shards
            seen += mine
        assert sorted(seen) == list(range(total)), (total, count, unit)


def test_at_batch_size_1_the_assignment_is_the_one_before_units():
    assert [p for p in range(10) if owns(p, 1, 3)] == list(range(1, 10, 3))
    assert owned(10, 1, 3, BLOCKS) == range(3, 6)


@pytest.mark.parametrize(
    "cfg, unit",
    [
        ({"batch_size": 7}, 7),
        ({"batch_size": "auto"}, 1),
        ({"batch_size": 4, "batching": {"sort_by_length": True, "window_batches": 8}}, 32),
        ({"batch_size": 4, "batching": {"sort_by_length": False, "window_batches": 8}}, 4),
        ({"batch_size": 2, "graph": {"steps": {"a": {"batch_size": 5}, "b": {}}}}, 5),
        ({"batch_size": 2, "graph": {"steps": {"a": {"batch_size": "auto"}, "b": {}}}}, 1),
    ],
)
def test_the_batch_unit_comes_from_the_config(cfg, unit):
    assert batch_unit(cfg) == unit


def test_a_resume_redoes_only_the_batch_a_stop_cut():
    assert cut_units(set(range(75)), 4, 150) == {72, 73, 74}
    assert cut_units(set(range(150)), 4, 150) == set()  # the last, short batch is whole
    assert cut_units(set(range(150)), 4) == {148, 149}  # the size of the data unknown: redone
    assert cut_units(set(range(150)), 4, ends_after=lambda position: position == 149) == set()  # ... or read
    assert cut_units(set(range(150)), 4, ends_after=lambda position: False) == {148, 149}
    assert cut_units(set(range(75)), 1) == set()
