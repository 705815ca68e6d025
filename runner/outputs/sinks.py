"""Output writers. JSONL, one object per line, flushed as written: a killed run leaves complete lines,
and a resumed run reads back which rows are done. Parquet and CSV tables are made from the JSONL
when a run completes (runner.outputs.tables), streaming, so they never hold the whole run in memory."""

from __future__ import annotations

import errno
import functools
import io
import json
import logging
import os
import stat
from pathlib import Path
from typing import Callable

from runner.core.errors import OutputError

log = logging.getLogger(__name__)

_MODES = {
    "r": os.O_RDONLY,
    "w": os.O_WRONLY | os.O_CREAT,
    "a": os.O_WRONLY | os.O_CREAT | os.O_APPEND,
    "r+": os.O_RDWR,
    "x": os.O_WRONLY | os.O_CREAT | os.O_EXCL,
}


def open_output(path: Path, mode: str = "w", encoding: str | None = "utf-8", newline: str | None = None):
    """The one way the runner opens a file it writes: never through a symbolic link (O_NOFOLLOW), only a
    regular file with no other name (a hard link would write outside the run dir), and a fifo or device
    is refused rather than waited on. `mode`: r, w, a, r+ or x, with b for bytes (encoding=None).
    OutputError (exit code 1, one-line cause) for each refusal and for an OS error (a full disk)."""
    path = Path(path)
    flags = _MODES[mode.replace("b", "")] | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise OutputError(path, "it is a symbolic link") from None
        if error.errno == errno.ENXIO:
            raise OutputError(path, "it is not a regular file") from None
        raise OutputError(path, error.strerror or str(error), error.errno) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OutputError(path, "it is not a regular file")
        if info.st_nlink > 1:
            raise OutputError(path, f"it has {info.st_nlink} names (a hard link to a file elsewhere)")
        os.set_blocking(fd, True)
        if mode.startswith("w"):
            os.ftruncate(fd, 0)  # only now: a file refused above is left as it was
    except BaseException:
        os.close(fd)
        raise
    opened = {"r": "r", "w": "w", "a": "a", "r+": "r+", "x": "w"}[mode.replace("b", "")]
    if "b" in mode:
        return os.fdopen(fd, opened + "b")
    return io.open(fd, opened, encoding=encoding, newline=newline)


def writing(path: Path):
    """An OSError met while writing `path`, as the OutputError a user reads (the disk is full, ...)."""
    return _Writing(Path(path))


class _Writing:
    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        return self

    def __exit__(self, kind, error, tb):
        if isinstance(error, OSError) and not isinstance(error, OutputError):
            raise OutputError(self.path, error.strerror or str(error), error.errno) from error
        return False


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
            if not np.isfinite(self.array).all():  # NaN / Infinity: as strings, so the line stays strict JSON
                self._text = json.dumps(finite(values))
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
    """`record` as one line of strict JSON; JsonNumbers inside are written by their own formatting. Records
    without them take json.dumps' C path alone: the walk below starts only when it meets one. A non-finite
    number (NaN, Infinity: an id read as 1e999, a score) is written as a string ("NaN", "Infinity",
    "-Infinity"), never as the bare words strict JSON readers refuse."""
    try:
        try:
            return json.dumps(record, ensure_ascii=False, default=_not_plain, allow_nan=False)
        except _HoldsNumbers:
            return _encode(record)
    except ValueError as error:
        if "Out of range float" not in str(error):
            raise
        return dumps(finite(record))


NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def finite(value):
    """`value` with each non-finite float as its JSON-ish name, a string (containers walked)."""
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else NON_FINITE[repr(value)]
    if isinstance(value, JsonNumbers):
        return finite(value.array.tolist())
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value


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
        return (
            "{"
            + ", ".join(f"{json.dumps(str(key), ensure_ascii=False)}: {_encode(item)}" for key, item in value.items())
            + "}"
        )
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_encode(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False, default=_not_plain, allow_nan=False)


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
        self._file = open_output(self.path, mode)
        self.count = 0
        self.keep = keep

    def write(self, record: dict) -> None:
        line = dumps(record)
        with writing(self.path):
            self._file.write(line + "\n")
            self._file.flush()
        self.count += 1
        if self.keep is not None:
            self.keep.append(plain(record))

    def close(self) -> None:
        if not self._file.closed:
            try:
                self._file.close()
            except OSError:  # a full disk: what could not be flushed is lost either way; the write said so
                pass

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
    try:
        text = json.dumps(data, indent=2, ensure_ascii=False, default=str, allow_nan=False) + "\n"
    except ValueError:  # a NaN or Infinity: as a string, so the file stays strict JSON
        text = json.dumps(finite(data), indent=2, ensure_ascii=False, default=str) + "\n"
    try:
        with writing(temporary), open_output(temporary) as f:
            f.write(text)
        with writing(path):
            os.replace(temporary, path)  # replaces a symbolic link itself, never what it points to
    except BaseException:
        _remove(temporary)
        raise


def _remove(path: Path) -> None:
    try:
        if path.is_symlink() or path.is_file():
            path.unlink()
    except OSError:
        pass


def completed_indices(path: Path) -> set[int]:
    """Dataset positions of the complete records in a JSONL output. A run killed mid-write leaves a torn
    last line; a disk that filled up, or a copy cut short and appended to, can leave one in the middle.
    Every complete record is kept and only the torn lines are dropped (each named in a warning), so
    appending continues from a clean line boundary and no finished row is done twice."""
    path = Path(path)
    if not path.is_file() and not path.is_symlink():
        return set()
    indices: set[int] = set()
    torn: list[int] = []
    clean_bytes, damaged, kept_after = 0, False, False
    with open_output(path, "rb", encoding=None) as f:
        for number, line in enumerate(f, 1):
            index = _record_index(line)
            if index is None:
                torn.append(number)
                damaged = True
                part = _complete_part(line)
                if part is not None:
                    indices.add(_record_index(part))
                    kept_after = True
                continue
            indices.add(index)
            if damaged or not line.endswith(b"\n"):
                damaged = kept_after = True
            else:
                clean_bytes += len(line)
    if torn:
        log.warning(
            "warning: %s: dropped %d torn line(s) (line %s); the complete records around them are kept",
            path,
            len(torn),
            ", ".join(map(str, torn[:10])) + (" ..." if len(torn) > 10 else ""),
        )
    if kept_after:
        _rewrite_complete(path)
    elif damaged:
        with writing(path), open_output(path, "r+b", encoding=None) as f:
            f.truncate(clean_bytes)
    return indices


def _record_index(line: bytes) -> int | None:
    """The "index" of a complete JSONL record, None for a torn (or otherwise unreadable) line."""
    try:
        record = json.loads(line)
        return int(record["index"])
    except (ValueError, KeyError, TypeError, RecursionError):
        return None


def _complete_part(line: bytes) -> bytes | None:
    """The complete record a damaged line ends with: a torn line without its newline has the next record
    written after it on the same line (every record starts with its id)."""
    start = line.rfind(RECORD_START, 1)
    if start > 0 and _record_index(line[start:]) is not None:
        return line[start:]
    return None


RECORD_START = b'{"id": '


def drop_records(path: Path, indices: set[int]) -> None:
    """`path` without the records at these dataset positions, through a copy renamed over it (resume=
    redoes a batch that an interruption cut, runner.repro.resume.cut_batches)."""
    path = Path(path)
    if not indices or not path.is_file():
        return
    _rewrite(path, lambda line: None if _record_index(line) in indices else line)


def _rewrite_complete(path: Path) -> None:
    """`path` with only its complete records (a missing last newline added), through a copy renamed over it."""

    def complete(line: bytes) -> bytes | None:
        kept = line if _record_index(line) is not None else _complete_part(line)
        return None if kept is None else kept if kept.endswith(b"\n") else kept + b"\n"

    _rewrite(path, complete)


def _rewrite(path: Path, keep: Callable[[bytes], bytes | None]) -> None:
    """`path` with each line replaced by keep(line) (None: dropped), written to a copy in the same dir and
    renamed over it, so a stop mid-way leaves the old file whole; the copy is removed on any failure."""
    temporary = path.with_name(f".{path.name}.repair")
    try:
        with (
            open_output(path, "rb", encoding=None) as source,
            writing(temporary),
            open_output(temporary, "wb", encoding=None) as target,
        ):
            for line in source:
                kept = keep(line)
                if kept is not None:
                    target.write(kept)
        with writing(path):
            os.replace(temporary, path)
    except BaseException:
        _remove(temporary)
        raise


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
