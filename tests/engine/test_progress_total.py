"""The progress bar has an end (issue 30): a total for every source kind, known up front where it is cheap
(len() of rows, a Parquet footer, a folder's files) and estimated from the bytes read for text files."""

from __future__ import annotations

import io
import json
import sys

import pytest

from runner.engine.progress import RowBar
from runner.sources import open_source, resolve_mapping
from runner.tasks import TASKS

COMMON = {"column": None, "fields": {"text": None, "audio": None, "image": None}, "id_column": None, "limit": None}
ROWS = 2000
# ~300 bytes a row: csv reads through a text buffer 8 KiB ahead of its rows, which a file this size makes small
TEXTS = [f"sentence number {i} of the progress test " + "words " * 45 for i in range(ROWS)]


def source_of(cfg, rows=None):
    return open_source({**COMMON, **cfg}, TASKS["text-classification"], rows)


def bar_for(source, monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # what tqdm draws, kept for the test to read
    return RowBar(source, None, 0, 1, "text-classification")


def test_sources_that_know_their_size_give_the_bar_its_total(tmp_path, monkeypatch):
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": TEXTS}), tmp_path / "d.parquet")
    datasets.Dataset.from_dict({"text": TEXTS[:7]}).save_to_disk(str(tmp_path / "saved"))
    (tmp_path / "docs").mkdir()
    for i in range(4):
        (tmp_path / "docs" / f"{i}.txt").write_text(TEXTS[i])
    hf = {
        "type": "hf",
        "name": str(tmp_path / "saved"),
        "config": None,
        "split": "train",
        "data_files": None,
        "data_dir": None,
        "revision": None,
        "streaming": False,
    }
    cases = {
        "inline": (source_of({"type": "inline", "rows": TEXTS[:5]}), 5),
        "sample": (source_of({"type": "sample"}), None),
        "python list": (source_of({"type": "python"}, rows=TEXTS[:6]), 6),
        "hf": (source_of(hf), 7),
        "parquet": (source_of({"type": "file", "path": str(tmp_path / "d.parquet"), "format": "auto"}), ROWS),
        "folder": (
            source_of({"type": "folder", "path": str(tmp_path / "docs"), "recursive": True, "extensions": None}),
            4,
        ),
    }
    for kind, (source, expected) in cases.items():
        bar = bar_for(source, monkeypatch)
        assert not bar.estimated, kind
        assert bar.bar.total == (expected if expected is not None else source.size()) and bar.bar.total > 0, kind
        bar.bar.close()


def write_text_file(path, fmt):
    if fmt == "jsonl":
        path.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS))
    elif fmt == "json":
        path.write_text(json.dumps([{"text": t} for t in TEXTS]))
    elif fmt == "csv":
        path.write_text("text\n" + "".join(f'"{t}"\n' for t in TEXTS))
    else:
        path.write_text("".join(t + "\n" for t in TEXTS))


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "txt", "json"])
def test_a_text_file_gets_a_total_estimated_from_the_bytes_read(tmp_path, monkeypatch, fmt):
    path = tmp_path / f"d.{fmt}"
    write_text_file(path, fmt)
    source = source_of({"type": "file", "path": str(path), "format": "auto"})
    bar = bar_for(source, monkeypatch)
    assert bar.estimated and bar.bar.total is None  # nothing read yet: no guess
    rows = source.rows(resolve_mapping(source))
    with bar:
        for _ in range(ROWS // 2):
            next(rows)
        bar.update(ROWS // 2)
        assert abs(bar.bar.total - ROWS) <= ROWS * 0.05, bar.bar.total  # half read: the estimate is close
        bar.bar.refresh()  # drawn now, not after tqdm's half-second
        shown = sys.stderr.getvalue()
        assert f"/~{bar.bar.total}" in shown and "%|" in shown and "<" in shown  # "~total", percentage, ETA
        rest = sum(1 for _ in rows)
        bar.update(rest)
    assert bar.bar.total == bar.bar.n == ROWS  # read to the end: the count replaces the estimate
    assert f"{ROWS}/{ROWS}" in sys.stderr.getvalue()


def test_skip_limit_and_shards_apply_to_the_estimate(tmp_path, monkeypatch):
    path = tmp_path / "d.jsonl"
    write_text_file(path, "jsonl")
    source = source_of({"type": "file", "path": str(path), "format": "auto", "skip": 100})
    rows = source.rows(resolve_mapping(source))
    for _ in range(ROWS // 2):
        next(rows)
    assert abs(source.total_rows(estimated=True) - (ROWS - 100)) <= ROWS * 0.05
    assert source.total_rows() is None  # unestimated: still unknown
    sharded = source.total_rows({"index": 0, "count": 2}, estimated=True)
    assert abs(sharded - (ROWS - 100) / 2) <= ROWS * 0.05


def test_the_done_line_names_both_rates():
    """The bar counts rows end to end; items_per_second times the pipeline calls only: the done line says which."""
    from runner.job.app import rate_text
    from runner.outputs.rundir import Metrics

    text = rate_text(Metrics(items_per_second=116.198, rest={"end_to_end_items_per_second": 76.67}))
    assert text == "116.198 rows/s in pipeline calls, 76.67 rows/s end to end (the progress bar's rate)"
