"""Input identity: run.json records a fingerprint of the source, and resume= refuses a source that changed
since the stop unless resume_allow_changed=true (issue 29, item 2)."""

from __future__ import annotations

import json
import os

import pytest

from runner.errors import ConfigError
from runner.repro.resume import check_source
from runner.sources.fingerprint import BLOCK, SAMPLED_BYTES, changes, file_fingerprint
from tests.conftest import read_jsonl, run_job
from tests.faults.conftest import BASE, interrupted


def _cut(run_dir, keep: int):
    """The run as if stopped after `keep` rows."""
    predictions = run_dir / "predictions.jsonl"
    predictions.write_text("".join(predictions.read_text().splitlines(keepends=True)[:keep]))
    return interrupted(run_dir)


def test_run_json_records_the_source(finished_run):
    source = json.loads((finished_run / "run.json").read_text())["source"]
    rows = finished_run.parent / "rows.jsonl"
    assert source["path"] == str(rows.resolve()) and source["size"] == rows.stat().st_size
    assert source == file_fingerprint(rows) | {"mtime_ns": source["mtime_ns"]}


@pytest.mark.parametrize("edit", ["insert_at_top", "append", "edit_a_row", "truncate"])
def test_resume_refuses_a_source_that_changed(copied_run, tmp_path, edit):
    rows = tmp_path / "rows.jsonl"
    lines = rows.read_text().splitlines(keepends=True)
    if edit == "insert_at_top":
        lines = [json.dumps({"text": f"new {i}"}) + "\n" for i in range(5)] + lines
    elif edit == "append":
        lines.append(json.dumps({"text": "one more"}) + "\n")
    elif edit == "edit_a_row":
        lines[1] = lines[1].replace("row", "ROW")
    else:
        lines = lines[:2]
    rows.write_text("".join(lines))
    _cut(copied_run, 3)
    result = run_job(*BASE, f"resume={copied_run}", cwd=tmp_path)
    assert result.returncode == 2
    assert len(read_jsonl(copied_run / "predictions.jsonl")) == 3  # nothing appended


def test_resume_allow_changed_resumes_anyway(copied_run, tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text(rows.read_text() + json.dumps({"text": "one more"}) + "\n")
    _cut(copied_run, 3)
    result = run_job(*BASE, f"resume={copied_run}", "resume_allow_changed=true", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [p["index"] for p in read_jsonl(copied_run / "predictions.jsonl")] == list(range(7))


def test_a_source_only_touched_resumes(copied_run, tmp_path):
    rows = tmp_path / "rows.jsonl"
    os.utime(rows, ns=(1, 1))
    _cut(copied_run, 3)
    assert run_job(*BASE, f"resume={copied_run}", cwd=tmp_path).returncode == 0
    assert [p["index"] for p in read_jsonl(copied_run / "predictions.jsonl")] == list(range(6))


@pytest.mark.parametrize("where", [0, BLOCK * 5 + 7, -1])
def test_a_large_file_changed_in_a_sampled_block_is_told(tmp_path, where):
    path = tmp_path / "big.txt"
    data = bytearray(b"abcdefgh" * ((SAMPLED_BYTES * 3) // 8))
    path.write_bytes(bytes(data))
    before = file_fingerprint(path)
    assert before["sampled"].startswith("16 blocks")
    step = (len(data) - BLOCK) // 15
    position = {0: 0, -1: len(data) - 1}.get(where, step + 3)  # inside a sampled block
    data[position] ^= 0xFF
    path.write_bytes(bytes(data))
    assert changes(before, file_fingerprint(path)) == ["its content differs"]


def test_check_source_names_the_path_and_what_changed():
    before = {"path": "/d/rows.jsonl", "size": 10, "sha256_sampled": "a", "mtime_ns": 1}
    with pytest.raises(ConfigError) as caught:
        check_source(before, {**before, "size": 12, "sha256_sampled": "b"}, allow_changed=False)
    assert (
        caught.value.key == "resume"
        and "/d/rows.jsonl" in caught.value.message
        and "size 10 then, 12 now" in caught.value.message
        and "resume_allow_changed=true" in caught.value.hint
    )
    check_source(before, {**before, "size": 12}, allow_changed=True)
    check_source(None, before, allow_changed=False)  # a run recorded before fingerprints: nothing to compare


def test_resume_allow_changed_must_be_a_boolean(tmp_path):
    import runner

    with pytest.raises(ConfigError) as caught:
        runner.run(
            ["+task=text-classification", "model=tiny", "resume_allow_changed=maybe"], output_dir=tmp_path / "out"
        )
    assert caught.value.key == "resume_allow_changed"
