"""Output writers. JSONL, one object per line, flushed as written: a killed run leaves complete lines,
and a resumed run reads back which rows are done. Parquet and CSV tables are made from the JSONL
when a run completes, streaming, so they never hold the whole run in memory."""
from __future__ import annotations

import json
from pathlib import Path


class JsonlSink:
    """`keep`: a list that also receives each record written, so a caller (the Python API) holds the
    outputs in memory without reading the file back."""

    def __init__(self, path: Path, mode: str = "w", keep: list | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, mode, encoding="utf-8")
        self.count = 0
        self.keep = keep

    def write(self, record: dict) -> None:
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()
        self.count += 1
        if self.keep is not None:
            self.keep.append(record)

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def write_json(path: Path, data: dict) -> None:
    Path(path).write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")


def completed_indices(path: Path) -> set[int]:
    """Dataset positions of the complete records in a JSONL output. A run killed mid-write can leave
    a partial last line: it is cut off here, so appending continues from a clean line boundary."""
    path = Path(path)
    if not path.is_file():
        return set()
    indices: set[int] = set()
    good_bytes = 0
    with open(path, "rb") as f:
        for line in f:
            if not line.endswith(b"\n"):
                break
            try:
                indices.add(int(json.loads(line)["index"]))
            except (ValueError, KeyError, TypeError):
                break
            good_bytes += len(line)
    if good_bytes != path.stat().st_size:
        with open(path, "r+b") as f:
            f.truncate(good_bytes)
    return indices


def line_count(path: Path) -> int:
    """Complete lines in a JSONL output (records written), 0 when there is no file; counted, not parsed."""
    path = Path(path)
    if not path.is_file():
        return 0
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def iter_jsonl(path: Path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def flat_record(record: dict) -> dict:
    """A prediction as flat columns for tables: id, index, input_<field>, and the output as JSON
    (one output_<step> column per step when the output holds several steps)."""
    row = {"id": str(record["id"]), "index": record.get("index")}
    for key, value in (record.get("input") or {}).items():
        row[f"input_{key}"] = value
    output = record.get("output")
    if isinstance(output, dict) and record.get("steps"):
        for step in record["steps"]:
            row[f"output_{step}"] = json.dumps(output.get(step), ensure_ascii=False)
    else:
        row["output"] = json.dumps(output, ensure_ascii=False)
    return row


def export_table(predictions: Path, fmt: str, step_names: list[str] | None = None, rows_per_group: int = 2048) -> Path:
    """predictions.<fmt> (parquet or csv) from predictions.jsonl, streaming: a few thousand rows in
    memory at a time, whatever the file's size."""
    columns: dict[str, None] = {}
    for record in iter_jsonl(predictions):
        columns.update(dict.fromkeys(flat_record(_tag(record, step_names))))
    target = Path(predictions).with_suffix(f".{fmt}")
    writer = _ParquetTable(target, list(columns)) if fmt == "parquet" else _CsvTable(target, list(columns))
    with writer:
        batch = []
        for record in iter_jsonl(predictions):
            batch.append(flat_record(_tag(record, step_names)))
            if len(batch) >= rows_per_group:
                writer.write(batch)
                batch = []
        writer.write(batch)
    return target


def _tag(record: dict, step_names: list[str] | None) -> dict:
    return {**record, "steps": step_names} if step_names else record


class _CsvTable:
    def __init__(self, path: Path, columns: list[str]):
        import csv

        self._file = open(path, "w", encoding="utf-8", newline="")
        self._writer = csv.DictWriter(self._file, fieldnames=columns)
        self._writer.writeheader()

    def write(self, rows: list[dict]) -> None:
        self._writer.writerows(rows)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._file.close()


class _ParquetTable:
    def __init__(self, path: Path, columns: list[str]):
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._pa = pa
        self._schema = pa.schema([(c, pa.int64() if c == "index" else pa.string()) for c in columns])
        self._writer = pq.ParquetWriter(path, self._schema)

    def write(self, rows: list[dict]) -> None:
        if rows:
            table = self._pa.Table.from_pylist(
                [{c: (r.get(c) if c == "index" or r.get(c) is None else str(r.get(c))) for c in self._schema.names} for r in rows],
                schema=self._schema,
            )
            self._writer.write_table(table)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._writer.close()
