"""output.format=parquet|csv keep native types: embeddings as float lists, top-k labels as structs, ids
as the source gave them, failed rows left out as in predictions.jsonl; type drift across row groups."""

from __future__ import annotations

import csv
import json

import pyarrow as pa
import pyarrow.parquet as pq

from runner.outputs.tables import export_table
from tests.conftest import read_jsonl, run_job


def _rows(path, texts: list[str], first_id: int = 10) -> None:
    path.write_text("".join(json.dumps({"id": first_id + i, "text": t}) + "\n" for i, t in enumerate(texts)))


def test_embeddings_round_trip_as_float_lists_with_int_ids(tmp_path):
    _rows(tmp_path / "rows.jsonl", ["hello there", "", "good bye world", "a third sentence here"])
    out = tmp_path / "out"
    result = run_job(
        "+task=feature-extraction",
        "model=tiny",
        "dataset=file",
        "dataset.path=rows.jsonl",
        "dataset.id_column=id",
        "output.format=[jsonl,parquet,csv]",
        "progress=false",
        f"hydra.run.dir={out}",
        cwd=tmp_path,
    )
    assert result.returncode == 4, result.stderr  # the empty text failed its row
    assert [e["id"] for e in read_jsonl(out / "errors.jsonl")] == [11]
    predictions = read_jsonl(out / "predictions.jsonl")

    table = pq.read_table(out / "predictions.parquet")
    assert table.schema.field("id").type == pa.int64() and table.schema.field("index").type == pa.int64()
    embedding = table.schema.field("output").type
    while pa.types.is_list(embedding):
        embedding = embedding.value_type
    assert embedding == pa.float64()  # the JSONL's numbers exactly: no float32 rounding
    rows = table.to_pylist()
    assert [r["id"] for r in rows] == [p["id"] for p in predictions] == [10, 12, 13]
    assert [r["output"] for r in rows] == [p["output"] for p in predictions]  # equal, not approximately

    with open(out / "predictions.csv", newline="") as f:
        cells = list(csv.DictReader(f))
    assert [c["id"] for c in cells] == ["10", "12", "13"]  # not "10.0", not quoted JSON
    assert [json.loads(c["output"]) for c in cells] == [p["output"] for p in predictions]


def test_top_k_labels_are_a_list_of_structs(tmp_path):
    _rows(tmp_path / "rows.jsonl", ["fine", "not fine at all", "so so"])
    out = tmp_path / "out"
    result = run_job(
        "+task=text-classification",
        "model=tiny",
        "dataset=file",
        "dataset.path=rows.jsonl",
        "task.params.top_k=2",
        "output.format=parquet",
        "progress=false",
        f"hydra.run.dir={out}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    table = pq.read_table(out / "predictions.parquet")
    assert table.schema.field("output").type == pa.list_(pa.struct([("label", pa.string()), ("score", pa.float64())]))
    assert [r["output"] for r in table.to_pylist()] == [p["output"] for p in read_jsonl(out / "predictions.jsonl")]
    assert table.schema.field("id").type == pa.int64()


def _record(index: int, record_id, output) -> dict:
    return {"id": record_id, "index": index, "input": {"text": f"row {index}"}, "output": output}


def test_types_drifting_across_row_groups_merge(tmp_path):
    """Row groups of 2: null outputs in the first (failed steps), ints then floats, a struct that gains
    a field, a column holding a string here and a number there (JSON text, named in the log)."""
    records = [
        _record(0, 1, None),
        _record(1, 2, {"score": 1, "labels": []}),
        _record(2, 3, {"score": 0.5, "labels": ["a"], "extra": {"k": "v"}}),
        _record(3, 4, {"score": 2, "labels": ["b"]}),
        _record(4, 5, None),
    ]
    records[1]["input"]["mixed"], records[3]["input"]["mixed"] = "text", 7
    path = tmp_path / "predictions.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))

    table = pq.read_table(export_table(path, "parquet", rows_per_group=2))
    assert pq.ParquetFile(path.with_suffix(".parquet")).metadata.num_row_groups == 3
    output = table.schema.field("output").type
    assert output == pa.struct(
        [("score", pa.float64()), ("labels", pa.list_(pa.string())), ("extra", pa.struct([("k", pa.string())]))]
    )
    rows = table.to_pylist()
    assert [r["id"] for r in rows] == [1, 2, 3, 4, 5] and rows[0]["output"] is None and rows[4]["output"] is None
    assert rows[1]["output"] == {"score": 1.0, "labels": [], "extra": None}
    assert rows[2]["output"] == {"score": 0.5, "labels": ["a"], "extra": {"k": "v"}}
    assert table.schema.field("input_mixed").type == pa.string()
    assert [r["input_mixed"] for r in rows] == [None, '"text"', None, "7", None]
    assert table.column_names == ["id", "index", "input_text", "output", "input_mixed"]


def test_string_ids_and_step_columns(tmp_path):
    records = [
        {"id": "a.wav", "index": 0, "output": {"asr": {"text": "hi"}, "sum": {"summary_text": "h"}}},
        {"id": "b.wav", "index": 1, "output": None},
    ]
    path = tmp_path / "predictions.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    table = pq.read_table(export_table(path, "parquet", step_names=["asr", "sum"]))
    assert table.schema.field("id").type == pa.string()
    assert table.to_pylist() == [
        {"id": "a.wav", "index": 0, "output_asr": {"text": "hi"}, "output_sum": {"summary_text": "h"}},
        {"id": "b.wav", "index": 1, "output_asr": None, "output_sum": None},
    ]
    with open(export_table(path, "csv", step_names=["asr", "sum"]), newline="") as f:
        cells = list(csv.DictReader(f))
    assert cells[0] == {
        "id": "a.wav",
        "index": "0",
        "output_asr": '{"text": "hi"}',
        "output_sum": '{"summary_text": "h"}',
    }
    assert cells[1]["output_asr"] == "null"
