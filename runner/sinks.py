"""Output writers. JSONL, one object per line, flushed as written: a killed run leaves complete lines,
and a resumed run reads back which rows are done. Parquet and CSV tables are made from the JSONL
when a run completes (runner.tables), streaming, so they never hold the whole run in memory."""
from __future__ import annotations

import json
import os
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
    """Whole or not at all (a temporary file renamed over it): a run stopped while writing run.json or
    metrics.json (a scheduler's signal, a kill) leaves the previous version, never a file cut short that a
    requeued or resumed run cannot read back."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    os.replace(temporary, path)


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
