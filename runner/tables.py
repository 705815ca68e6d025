"""predictions.parquet / predictions.csv, made from predictions.jsonl when a run completes (output.format).

Parquet keeps the JSON types: `id` as the source gave it (an int stays an int), the output as Arrow
values (an embedding is a list<double>, a text classification with top_k a list<struct<label, score>>),
a failed row's output null. JSON numbers are read as Python floats (doubles), so the Parquet values are
exactly those of predictions.jsonl. The schema comes from the data, in two streaming passes over the
JSONL (one row group in memory at a time): the first infers each group's types and merges them (an int
column that meets a float becomes double, null takes the other rows' type, a struct gets every field
seen), the second writes each group with the merged schema. A column whose values cannot share one Arrow
type (a string in one row, a number in another) is written as JSON text, and the log names it.

CSV has neither types nor nesting: cells are text, lists and mappings are JSON text, and the output
columns are JSON text as they always were (a string output keeps its quotes, so every cell parses)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

from runner.sinks import iter_jsonl, open_output

log = logging.getLogger("runner")

ROWS_PER_GROUP = 2048


def flat_record(record: dict, step_names: list[str] | None = None) -> dict:
    """A prediction as flat columns: id, index, input_<field>, and output (one output_<step> column per
    step when the output holds several steps), values as they are in the JSONL."""
    row = {"id": record["id"], "index": record.get("index")}
    for key, value in (record.get("input") or {}).items():
        row[f"input_{key}"] = value
    output = record.get("output")
    if step_names and (output is None or isinstance(output, dict)):
        for step in step_names:
            row[f"output_{step}"] = None if output is None else output.get(step)
    else:
        row["output"] = output
    return row


def export_table(
    predictions: Path, fmt: str, step_names: list[str] | None = None, rows_per_group: int = ROWS_PER_GROUP
) -> Path:
    """predictions.<fmt> (parquet or csv) beside predictions.jsonl; returns its path."""
    target = Path(predictions).with_suffix(f".{fmt}")
    groups = lambda: _groups(predictions, step_names, rows_per_group)  # noqa: E731 - read twice
    if fmt == "parquet":
        _write_parquet(target, groups)
    else:
        _write_csv(target, groups)
    return target


def _groups(predictions: Path, step_names: list[str] | None, size: int) -> Iterator[list[dict]]:
    group: list[dict] = []
    for record in iter_jsonl(predictions):
        group.append(flat_record(record, step_names))
        if len(group) >= size:
            yield group
            group = []
    if group:
        yield group


def _write_csv(target: Path, groups) -> None:
    import csv

    columns: dict[str, None] = {}
    for group in groups():
        for row in group:
            columns.update(dict.fromkeys(row))
    with open_output(target, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns))
        writer.writeheader()
        for group in groups():
            writer.writerows([{c: _csv_cell(c, v) for c, v in row.items()} for row in group])


def _csv_cell(column: str, value):
    if column == "output" or column.startswith("output_") or isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return value


def _write_parquet(target: Path, groups) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema, as_json = infer_schema(groups())
    if as_json:
        log.warning(
            "%s: column(s) %s hold values of different types; written as JSON text",
            target.name,
            ", ".join(sorted(as_json)),
        )
    with open_output(target, "wb", encoding=None) as f, pq.ParquetWriter(f, schema) as writer:
        for group in groups():
            rows = [{c: _json_text(row.get(c)) if c in as_json else row.get(c) for c in schema.names} for row in group]
            writer.write_table(pa.Table.from_pylist(rows, schema=schema))


def _json_text(value):
    return None if value is None else json.dumps(value, ensure_ascii=False)


def infer_schema(groups) -> tuple:
    """(the Arrow schema for every group, the columns that need JSON text): each group's types, merged."""
    import pyarrow as pa

    order: dict[str, None] = {}  # columns in the order first seen
    types: dict[str, object] = {}
    as_json: set[str] = set()
    for group in groups:
        for column in dict.fromkeys(c for row in group for c in row):
            order[column] = None
            if column in as_json:
                continue
            try:
                found = pa.array([row.get(column) for row in group]).type
                types[column] = _merged(types.get(column, pa.null()), found)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
                as_json.add(column)
    as_json |= {column for column, kind in types.items() if not _parquet_writable(kind)}
    fields = [pa.field(c, pa.string() if c in as_json else types[c]) for c in order]
    return pa.schema(fields), as_json


def _merged(first, second):
    """The type both fit in: int and float -> double, null -> the other, structs -> every field."""
    import pyarrow as pa

    schemas = [pa.schema([("value", first)]), pa.schema([("value", second)])]
    return pa.unify_schemas(schemas, promote_options="permissive").field("value").type


def _parquet_writable(kind) -> bool:
    """Parquet cannot store a struct without fields (an output of `{}` in every row)."""
    import pyarrow as pa

    if pa.types.is_struct(kind):
        return kind.num_fields > 0 and all(_parquet_writable(kind.field(i).type) for i in range(kind.num_fields))
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        return _parquet_writable(kind.value_type)
    return True
