"""Input identity: run.json records a fingerprint of the source, and resume= refuses a source that changed
since the stop unless resume_allow_changed=true (issue 29, item 2)."""

from __future__ import annotations

import json
import os

import pytest

from runner.core.errors import ConfigError
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


# -- row streams: the Python API's inputs, hf datasets --------------------------------------------------
PY = dict(model="tiny", batch_size=2, progress=False)


def _python_run(tmp_path, rows, **extra):
    import runner

    return runner.run("text-classification", inputs=rows, **{"output_dir": tmp_path / "run", **PY, **extra})


PYTHON_ROWS = [f"row number {i}" for i in range(6)]


@pytest.fixture(scope="module")
def finished_python_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("python-rows")
    _python_run(base, PYTHON_ROWS)
    return base / "run"


@pytest.fixture
def cut_python_run(finished_python_run, tmp_path):
    """A copy of a finished run of 6 Python rows, cut back to 2 written and marked interrupted."""
    import shutil

    shutil.copytree(finished_python_run, tmp_path / "run")
    (tmp_path / "run" / "run.lock").unlink(missing_ok=True)
    return _cut(tmp_path / "run", 2), list(PYTHON_ROWS)


def test_run_json_records_the_row_stream_of_python_inputs(cut_python_run):
    run_dir, rows = cut_python_run
    source = json.loads((run_dir / "run.json").read_text())["source"]
    assert source["rows_of"] == "the inputs (list)" and source["size"] == 6 and source["sampled_rows"] == 6
    assert len(source["sha256_first_rows"]) == 64


@pytest.mark.parametrize("edit", ["insert_at_top", "append", "edit_a_row", "drop_a_row"])
def test_resume_refuses_python_inputs_that_changed_naming_them(cut_python_run, tmp_path, edit):
    """Before: the list's hash was a config key (dataset.fingerprint), so resume said the config differs
    and resume_allow_changed could not let it pass; a datasets.Dataset had no hash at all."""
    run_dir, rows = cut_python_run
    changed = {
        "insert_at_top": ["new row", *rows],
        "append": [*rows, "one more"],
        "edit_a_row": [rows[0], "edited", *rows[2:]],
        "drop_a_row": rows[1:],
    }[edit]
    with pytest.raises(ConfigError) as refused:
        _python_run(tmp_path, changed, resume=str(run_dir), output_dir=tmp_path / "again")
    assert refused.value.key == "resume" and "the inputs (list) changed" in refused.value.message
    assert len(read_jsonl(run_dir / "predictions.jsonl")) == 2  # nothing appended


def test_resume_of_unchanged_python_inputs_finishes_and_allow_changed_lets_a_change_pass(cut_python_run, tmp_path):
    run_dir, rows = cut_python_run
    _python_run(tmp_path, rows, resume=str(run_dir), output_dir=tmp_path / "same")
    assert sorted(r["index"] for r in read_jsonl(run_dir / "predictions.jsonl")) == list(range(6))
    _cut(run_dir, 2)
    _python_run(
        tmp_path, [*rows[:5], "edited"], resume=str(run_dir), resume_allow_changed=True, output_dir=tmp_path / "ok"
    )
    assert len(read_jsonl(run_dir / "predictions.jsonl")) == 6


def test_resume_refuses_a_changed_datasets_dataset(tmp_path):
    """A datasets.Dataset (rows held as Arrow, no JSON hash in the config) is fingerprinted by its rows too."""
    datasets = pytest.importorskip("datasets")
    import runner

    rows = [{"text": f"row number {i}"} for i in range(6)]
    runner.run("text-classification", inputs=datasets.Dataset.from_list(rows), output_dir=tmp_path / "run", **PY)
    _cut(tmp_path / "run", 2)
    rows[1]["text"] = "edited"
    with pytest.raises(ConfigError) as refused:
        runner.run(
            "text-classification",
            inputs=datasets.Dataset.from_list(rows),
            resume=str(tmp_path / "run"),
            output_dir=tmp_path / "again",
            **PY,
        )
    assert "the inputs (Dataset) changed" in refused.value.message and "first 6 rows differ" in refused.value.message


def test_a_one_pass_iterator_has_no_row_fingerprint(tmp_path):
    import runner

    result = runner.run("text-classification", inputs=iter(["a", "b"]), output_dir=tmp_path / "run", **PY)
    assert "source" not in json.loads((result.run_dir / "run.json").read_text())


def test_row_values_hash_by_content_not_by_identity():
    import numpy as np

    from runner.sources.fingerprint import _canonical

    a, b = np.arange(4, dtype=np.float32), np.arange(4, dtype=np.float32)
    assert _canonical(a) == _canonical(b) != _canonical(b + 1)
    assert _canonical(b"x") == {"sha256": __import__("hashlib").sha256(b"x").hexdigest()}
    assert _canonical(object()) == {"type": "object"}


def test_a_saved_hf_dataset_that_changed_is_told_without_reading_its_rows(tmp_path):
    """An hf dataset is identified by its row count and datasets' own fingerprint (no row read twice)."""
    datasets = pytest.importorskip("datasets")
    from runner.sources.fingerprint import fingerprint
    from runner.sources.hf import HFSource
    from runner.tasks import TASKS

    def saved(texts, name):
        datasets.Dataset.from_list([{"text": t} for t in texts]).save_to_disk(str(tmp_path / name))
        return fingerprint(HFSource({"type": "hf", "name": str(tmp_path / name)}, TASKS["text-classification"]))

    first = saved(["a", "b", "c"], "one")
    assert first["size"] == 3 and first["rows_of"] == f"dataset.name={tmp_path / 'one'}"
    assert fingerprint(HFSource({"type": "hf", "name": str(tmp_path / "one")}, TASKS["text-classification"])) == first
    edited = saved(["a", "x", "c"], "two")
    assert changes(first, edited) == ["its datasets fingerprint differs"]
    with pytest.raises(ConfigError, match="dataset.name=.* changed"):
        check_source(first, edited, allow_changed=False)
