"""Output writers. JSONL, one object per line, flushed as written: a killed run leaves complete lines,
and a resumed run reads back which rows are done. Parquet and CSV tables are made from the JSONL
when a run completes (runner.tables), streaming, so they never hold the whole run in memory."""
from __future__ import annotations

import functools
import json
import os
from pathlib import Path


class JsonNumbers:
    """A float32 vector written as JSON numbers with 9 significant digits: the fewest that read back as
    exactly the same float32 for every value. A 384-d sentence embedding takes ~4 kB per line instead of
    the ~7 kB of its values' float64 digits, and formatting it costs a third less."""

    __slots__ = ("array", "_text")

    def __init__(self, array):
        self.array = array
        self._text = None

    def json(self) -> str:
        # Kept once made: a sink writes the line, then the Python API's `keep` reads the same values back.
        if self._text is None:
            import numpy as np

            values = self.array.tolist()
            if not np.isfinite(self.array).all():  # NaN / Infinity: as json.dumps writes them
                self._text = json.dumps(values)
            else:
                self._text = "[" + _number_format(len(values)) % tuple(values) + "]"
        return self._text

    def tolist(self) -> list:
        """The values as a reader of the JSONL gets them."""
        return json.loads(self.json())


@functools.lru_cache(maxsize=8)
def _number_format(count: int) -> str:
    """One %-format for a whole vector: a single C formatting call, ~2x faster than one per number."""
    return ",".join(["%.9g"] * count)


def dumps(record) -> str:
    """`record` as one line of JSON; JsonNumbers inside are written by their own formatting. Records without
    them take json.dumps' C path alone: the walk below starts only when it meets one."""
    try:
        return json.dumps(record, ensure_ascii=False, default=_not_plain)
    except _HoldsNumbers:
        return _encode(record)


class _HoldsNumbers(Exception):
    pass


def _not_plain(value):
    if isinstance(value, JsonNumbers):
        raise _HoldsNumbers
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _encode(value) -> str:
    """json.dumps' own layout (", " and ": " separators), walking only containers."""
    if isinstance(value, JsonNumbers):
        return value.json()
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(key), ensure_ascii=False)}: {_encode(item)}"
                               for key, item in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_encode(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False, default=_not_plain)


def plain(record):
    """`record` with JsonNumbers as the lists a reader of the file gets (for callers holding records)."""
    if isinstance(record, JsonNumbers):
        return record.tolist()
    if isinstance(record, dict):
        return {key: plain(item) for key, item in record.items()}
    if isinstance(record, list):
        return [plain(item) for item in record]
    return record


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
        line = dumps(record)
        self._file.write(line + "\n")
        self._file.flush()
        self.count += 1
        if self.keep is not None:
            self.keep.append(plain(record))

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
