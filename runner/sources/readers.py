"""Per-row readers of text data files (csv, json lines, json, txt).

Each yields one record per row of the file. A row that cannot be read (a byte that is not UTF-8, a
broken JSON line, a CSV line with too few or too many fields) is still one record: {BAD_RECORD:
"<file>:<line>: <reason>"}, so it fails alone, in its place, and every other row is read.
Files are read as bytes and decoded row by row: one bad byte spoils its own row, not the file.
"""
from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

from runner.errors import ConfigError
from runner.sources import BAD_RECORD
from runner.tasks import TEXT

BOM = b"\xef\xbb\xbf"
# Which row positions (0, 1, ... in the file) to parse: the others come back as None, counted only.
Wanted = Callable[[int], bool] | None


class ReadMeter:
    """How far a reader has got through its file, in bytes, for a progress bar's estimated total: the
    file's size is known, its row count is not until it is read. `records` counts what the reader yielded
    (skipped rows included); `fraction()` is the share of the file's bytes read so far (1.0 once closed)."""

    def __init__(self, path: Path):
        self.size = path.stat().st_size
        self.records = 0
        self.file = None
        self.known: int | None = None  # a JSON document's rows, counted once it is parsed

    def open(self, path: Path):
        self.records, self.file = 0, open(path, "rb")
        return self.file

    def fraction(self) -> float | None:
        if self.file is None or not self.size:
            return None
        try:
            return min(1.0, self.file.tell() / self.size)
        except ValueError:  # closed: read to the end
            return 1.0

    def estimated_rows(self) -> int | None:
        """The file's rows, extrapolated from the records read over the share of bytes they took."""
        if self.known is not None:
            return self.known
        fraction = self.fraction()
        if not fraction or not self.records:
            return None
        return self.records if fraction >= 1.0 else max(self.records, round(self.records / fraction))

    def counted(self, records: Iterator) -> Iterator:
        for record in records:
            self.records += 1
            yield record


def _open_binary(path: Path, meter: ReadMeter | None):
    return meter.open(path) if meter is not None else open(path, "rb")


def bad(where: str, reason: str) -> dict:
    return {BAD_RECORD: f"{where}: {reason}"}


def not_utf8(text: str) -> str | None:
    """Why `text` (decoded with errors="surrogateescape") is not UTF-8, or None when it is.
    An undecodable byte comes back as a lone surrogate, which UTF-8 cannot encode."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return f"byte 0x{ord(text[error.start]) - 0xDC00:02x} is not UTF-8"
    return None


def allow_large_csv_fields() -> None:
    """csv refuses fields over 131,072 characters by default, but a long document is still one text.
    The limit is a C long, which sys.maxsize overflows where a long has 32 bits (Windows)."""
    try:
        csv.field_size_limit(sys.maxsize)
    except OverflowError:
        csv.field_size_limit(2**31 - 1)


def open_text(path: Path, meter: ReadMeter | None = None) -> io.TextIOWrapper:
    """The file as text whose bad bytes are kept (as surrogates) for the row that holds them to report."""
    return io.TextIOWrapper(_open_binary(path, meter), encoding="utf-8-sig", errors="surrogateescape", newline="")


def csv_header(path: Path) -> list[str]:
    allow_large_csv_fields()
    with open_text(path) as f:
        return next(csv.reader(f), [])


def csv_records(path: Path, wanted: Wanted = None, meter: ReadMeter | None = None) -> Iterator[dict | None]:
    """Records; with `wanted`, None for the rows it refuses: csv still splits them (a quoted field may
    hold a newline, so only csv finds where a row ends) but no dict is made and no text checked."""
    allow_large_csv_fields()
    with open_text(path, meter) as f:
        reader = csv.reader(f)
        header = next(reader, None)
        position = 0
        while header is not None:
            line = reader.line_num + 1  # where the next record starts (a quoted field may span lines)
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as error:  # csv goes on at the next line
                values = error
            if not values:  # a blank line is no row
                continue
            if wanted is not None and not wanted(position):
                yield None
            elif isinstance(values, csv.Error):
                yield bad(f"{path.name}:{line}", f"unreadable CSV ({values})")
            else:
                yield _csv_record(header, values, f"{path.name}:{line}")
            position += 1


def _csv_record(header: list[str], values: list[str], where: str) -> dict:
    if len(values) != len(header):
        return bad(where, f"{len(values)} field{'s' * (len(values) != 1)}, the header has {len(header)}")
    return _text_checked(dict(zip(header, values)), where, "column")


def _text_checked(record: dict, where: str, label: str) -> dict:
    """The record, or its error when one of its texts holds a byte that is not UTF-8."""
    for name, value in record.items():
        reason = isinstance(value, str) and not_utf8(value)
        if reason:
            return bad(where, f"{reason} ({label} '{name}')")
    return record


def numbered_lines(path: Path, meter: ReadMeter | None = None) -> Iterator[tuple[int, bytes]]:
    """(line number, raw bytes) of each line, a leading byte-order mark dropped."""
    with _open_binary(path, meter) as f:
        for number, line in enumerate(f, 1):
            yield number, line.removeprefix(BOM) if number == 1 else line


def jsonl_records(path: Path, wanted: Wanted = None, meter: ReadMeter | None = None) -> Iterator[dict | None]:
    """Records; with `wanted`, None for the lines it refuses, counted but neither decoded nor parsed."""
    position = 0
    for number, line in numbered_lines(path, meter):
        if line.strip():
            wanted_here = wanted is None or wanted(position)
            yield _json_line(line, f"{path.name}:{number}") if wanted_here else None
            position += 1


def _json_line(line: bytes, where: str) -> dict:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as error:
        return bad(where, f"byte 0x{line[error.start]:02x} is not UTF-8 (column {error.start + 1})")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        return bad(where, f"invalid JSON ({error.msg})")
    if not isinstance(value, dict):
        return bad(where, f"expected a JSON object, got {_json_type(value)}")
    return value


def json_records(path: Path, wanted: Wanted = None, meter: ReadMeter | None = None) -> Iterator[dict | None]:
    """A JSON file: a list of objects, {"<key>": [objects]}, or {"column": [values...]}."""
    text = path.read_bytes().removeprefix(BOM).decode("utf-8", "surrogateescape")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError("dataset.path", f"'{path}' is not valid JSON ({error.msg} at line {error.lineno} column "
                                          f"{error.colno})", "fix the file, or write JSON Lines (one object per "
                                          "line, .jsonl): a broken line then fails its row alone") from None
    rows = _json_rows(data, path)
    if meter is not None:
        meter.known = len(rows)
    for number, element in enumerate(rows, 1):
        wanted_here = wanted is None or wanted(number - 1)
        yield _json_element(element, f"{path.name}: element {number}") if wanted_here else None


def _json_rows(data: Any, path: Path) -> list:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) == 1 and all(isinstance(x, dict) for x in lists[0]):
            return lists[0]  # {"data": [...]}
        if lists and len(lists) == len(data):
            return [dict(zip(data, values)) for values in zip(*data.values())]  # {"column": [values...]}
    raise ConfigError("dataset.path", f"'{path}' holds a JSON {_json_type(data)}, not rows",
                      'write a list of objects ([{"text": ...}, ...]) or one object per line (.jsonl)')


def _json_element(element: Any, where: str) -> dict:
    if not isinstance(element, dict):
        return bad(where, f"expected a JSON object, got {_json_type(element)}")
    return _text_checked(element, where, "field")


def txt_records(path: Path, meter: ReadMeter | None = None) -> Iterator[dict]:
    """One row per non-blank line."""
    for number, line in numbered_lines(path, meter):
        try:
            text = line.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as error:
            if line.strip():
                yield bad(f"{path.name}:{number}", f"byte 0x{line[error.start]:02x} is not UTF-8")
            continue
        if text.strip():
            yield {TEXT: text}


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")
