"""output.format=parquet: predictions.parquet.

Parquet keeps the JSON types: `id` as the source gave it (an int stays an int), the output as Arrow
values (an embedding is a list<double>, a text classification with top_k a list<struct<label, score>>),
a failed row's output null. JSON numbers are read as Python floats (doubles), so the Parquet values are
exactly those of predictions.jsonl. The schema comes from the data, in two streaming passes over the
JSONL (one row group in memory at a time): the first infers each group's types and merges them (an int
column that meets a float becomes double, null takes the other rows' type, a struct gets every field
seen), the second writes each group with the merged schema. A column whose values cannot share one Arrow
type (a string in one row, a number in another) is written as JSON text, and the log names it."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from runner.outputs.sinks import open_output
from runner.outputs.tables.base import Groups, OutputFormat

log = logging.getLogger("runner")


def write_parquet(target: Path, groups: Groups) -> None:
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


FORMAT = OutputFormat("parquet", ".parquet", write_parquet)
