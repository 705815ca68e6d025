"""Per-row readers of text data files (csv, json lines, json, txt).

Each yields one record per row of the file. A row that cannot be read (a byte that is not UTF-8, a
broken JSON line, a CSV line with too few or too many fields) is still one record: {BAD_RECORD:
"<file>:<line>: <reason>"}, so it fails alone, in its place, and every other row is read.
Files are read as bytes and decoded row by row: one bad byte spoils its own row, not the file.
A file that starts with a UTF-16 or UTF-32 byte-order mark is decoded as such (dataset.encoding=auto),
or as dataset.encoding says. A row longer than dataset.max_row_bytes is an error row, skipped in bounded
memory without being parsed; so is JSON nested too deep to parse, and a CSV quote never closed (its row
fails, and the rows after it are read again from the line after the quote).
"""

from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from runner.core.errors import ConfigError
from runner.sources import BAD_RECORD
from runner.tasks import TEXT

BOM = b"\xef\xbb\xbf"
# Byte-order marks that name an encoding other than UTF-8, longest first (UTF-32-LE starts like UTF-16-LE).
BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
UTF8 = ("utf-8", "utf_8", "utf8", "utf-8-sig", "utf_8_sig")
DEFAULT_MAX_ROW_BYTES = 4 * 1024 * 1024


class ReadMeter:
    """How far a reader has got through its file, in bytes, for a progress bar's estimated total: the
    file's size is known, its row count is not until it is read. `records` counts what the reader yielded
    (skipped rows included); `fraction()` is the share of the file's bytes read so far (1.0 once closed)."""

    def __init__(self, path: Path):
        self.size = path.stat().st_size
        self.records = 0
        self.file = None
        self.known: int | None = None  # a JSON document's rows, counted once it is parsed

    def __getstate__(self) -> dict:
        # A source travels to Ray's workers pickled; its open file stays here (a worker's reads are not metered).
        return {**self.__dict__, "file": None}

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


@dataclass(frozen=True)
class Reading:
    """How a text file is read: its encoding (a Python codec name; utf-8 reads the bytes as they are) and
    the most bytes one row may hold (None: no limit)."""

    encoding: str = "utf-8"
    max_row_bytes: int | None = DEFAULT_MAX_ROW_BYTES
    meter: ReadMeter | None = field(default=None, compare=False)  # the run's reader: how far it has read

    @property
    def utf8(self) -> bool:
        return self.encoding.lower() in UTF8


PLAIN = Reading()


def detect_encoding(path: Path, setting: str = "auto") -> str:
    """dataset.encoding: auto reads a UTF-16/UTF-32 byte-order mark, else UTF-8; a name is checked to be a
    text codec Python knows (ConfigError naming the key otherwise)."""
    if setting == "auto":
        with open(path, "rb") as f:
            head = f.read(4)
        return next((name for mark, name in BOMS if head.startswith(mark)), "utf-8")
    import codecs

    try:
        info = codecs.lookup(setting)
    except LookupError:
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True):
        raise ConfigError(
            "dataset.encoding",
            f"'{setting}' is not a text encoding Python knows",
            "use auto (UTF-8, or UTF-16/32 with a byte-order mark), or a codec name such as utf-8, "
            "utf-16, latin-1, cp1252, shift_jis",
        )
    return info.name


class Oversized:
    """A line longer than dataset.max_row_bytes: its size, never its bytes."""

    def __init__(self, size: int, limit: int):
        self.size, self.limit = size, limit

    def reason(self) -> str:
        return (
            f"the row is {self.size:,} bytes, over dataset.max_row_bytes={self.limit:,} (not read; raise "
            "the limit, or null for none, to read it)"
        )


# Which row positions (0, 1, ... in the file) to parse: the others come back as None, counted only.
Wanted = Callable[[int], bool] | None


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


def open_text(path: Path, reading: Reading = PLAIN) -> io.TextIOWrapper:
    """The file as text whose bad bytes are kept (as surrogates) for the row that holds them to report."""
    encoding = "utf-8-sig" if reading.utf8 else reading.encoding
    return io.TextIOWrapper(_open_binary(path, reading.meter), encoding=encoding, errors="surrogateescape", newline="")


def _csv_limit(reading: Reading) -> None:
    if reading.max_row_bytes is None:
        allow_large_csv_fields()
    else:
        csv.field_size_limit(reading.max_row_bytes)


def csv_header(path: Path, reading: Reading = PLAIN) -> list[str]:
    _csv_limit(reading)
    with open_text(path, reading) as f:
        return next(csv.reader(f), [])


def csv_records(path: Path, wanted: Wanted = None, reading: Reading = PLAIN) -> Iterator[dict | None]:
    """Records; with `wanted`, None for the rows it refuses: csv still splits them (a quoted field may
    hold a newline, so only csv finds where a row ends) but no dict is made and no text checked.
    A quote never closed runs to the end of the file: its row fails, naming its line, and the rows
    after it are read again from the next line, so they are not lost inside it."""
    _csv_limit(reading)
    position, start = 0, 0
    with open_text(path, reading) as f:
        header = next(csv.reader(f, strict=True), None)
    while header is not None:
        with open_text(path, reading) as f:
            for _ in range(start + 1):  # the header, and the lines read before a quote left open
                f.readline()
            reader = csv.reader(f, strict=True)
            restart = None
            while restart is None:
                line = start + reader.line_num + 2  # where the next record starts (a quoted field may span lines)
                try:
                    values = next(reader)
                except StopIteration:
                    return
                except csv.Error as error:  # csv goes on at the next line
                    values = error
                    if "unexpected end of data" in str(error):
                        values = csv.Error(
                            f"a quoted field opened on line {line} is never closed: it runs to the "
                            f"end of the file (line {start + reader.line_num + 1})"
                        )
                if not values:  # a blank line is no row
                    continue
                spans = start + reader.line_num + 2 - line  # physical lines this record took
                broken = isinstance(values, csv.Error) or len(values) != len(header)  # not a bad byte in a good row
                # a quote left open swallowed the lines after it: only its first line fails, the others
                # are read again as the rows they are
                reread = broken and spans > 1 and restart is None
                if reread:
                    restart = line - 1
                if wanted is not None and not wanted(position):
                    yield None
                else:
                    where = f"{path.name}:{line}"
                    record = (
                        bad(where, f"unreadable CSV ({values})")
                        if isinstance(values, csv.Error)
                        else _csv_record(header, values, where, spans - 1)
                    )
                    if reread:
                        record = bad(where, record[BAD_RECORD].split(": ", 1)[1] + f"; read again from line {line + 1}")
                    yield record
                position += 1
        start = restart


def _csv_record(header: list[str], values: list[str], where: str, extra_lines: int = 0) -> dict:
    if len(values) != len(header):
        spans = f" (the row spans {extra_lines + 1} lines: a quote left open?)" if extra_lines else ""
        return bad(where, f"{len(values)} field{'s' * (len(values) != 1)}, the header has {len(header)}{spans}")
    return _text_checked(dict(zip(header, values)), where, "column")


def _text_checked(record: dict, where: str, label: str) -> dict:
    """The record, or its error when one of its texts holds a byte that is not UTF-8."""
    for name, value in record.items():
        reason = isinstance(value, str) and not_utf8(value)
        if reason:
            return bad(where, f"{reason} ({label} '{name}')")
    return record


def numbered_lines(path: Path, reading: Reading = PLAIN) -> Iterator[tuple[int, bytes | Oversized]]:
    """(line number, raw UTF-8 bytes) of each line, a leading byte-order mark dropped; a line longer than
    reading.max_row_bytes comes as Oversized, read past in blocks, never held whole."""
    limit = reading.max_row_bytes
    if not reading.utf8:
        with open_text(path, reading) as f:
            for number, line in enumerate(_bounded(f, limit, "\n"), 1):
                yield number, line if isinstance(line, Oversized) else line.encode("utf-8", "surrogateescape")
        return
    with _open_binary(path, reading.meter) as f:
        for number, line in enumerate(_bounded(f, limit, b"\n"), 1):
            yield number, line.removeprefix(BOM) if number == 1 and not isinstance(line, Oversized) else line


def _bounded(f, limit: int | None, newline):
    """The lines of `f`, each at most `limit` long (bytes, or characters of a decoded file), else Oversized."""
    while True:
        line = f.readline() if limit is None else f.readline(limit + 1)
        if not line:
            return
        if limit is None or len(line) <= limit or line.endswith(newline) and len(line) == limit + 1:
            yield line
            continue
        size = len(line)
        while not line.endswith(newline):
            line = f.readline(1 << 20)
            if not line:
                break
            size += len(line)
        yield Oversized(size - line.endswith(newline), limit)  # the row's bytes, its newline not counted


def jsonl_records(path: Path, wanted: Wanted = None, reading: Reading = PLAIN) -> Iterator[dict | None]:
    """Records; with `wanted`, None for the lines it refuses, counted but neither decoded nor parsed."""
    position = 0
    for number, line in numbered_lines(path, reading):
        if isinstance(line, Oversized) or line.strip():
            wanted_here = wanted is None or wanted(position)
            if not wanted_here:
                yield None
            elif isinstance(line, Oversized):
                yield bad(f"{path.name}:{number}", line.reason())
            else:
                yield _json_line(line, f"{path.name}:{number}")
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
    except RecursionError:
        return bad(where, "JSON nested too deep to read")
    if not isinstance(value, dict):
        return bad(where, f"expected a JSON object, got {_json_type(value)}")
    return value


def json_records(path: Path, wanted: Wanted = None, reading: Reading = PLAIN) -> Iterator[dict | None]:
    """A JSON file: a list of objects, {"<key>": [objects]}, or {"column": [values...]}."""
    data = path.read_bytes()
    text = data.removeprefix(BOM).decode("utf-8" if reading.utf8 else reading.encoding, "surrogateescape")
    try:
        data = json.loads(text)
    except RecursionError:
        raise ConfigError(
            "dataset.path",
            f"'{path}' is JSON nested too deep to read",
            "write JSON Lines (one object per line, .jsonl): a broken line then fails its row alone",
        ) from None
    except json.JSONDecodeError as error:
        raise ConfigError(
            "dataset.path",
            f"'{path}' is not valid JSON ({error.msg} at line {error.lineno} column {error.colno})",
            "fix the file, or write JSON Lines (one object per line, .jsonl): a broken line then fails its row alone",
        ) from None
    rows = _json_rows(data, path)
    if reading.meter is not None:
        reading.meter.known = len(rows)
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
    raise ConfigError(
        "dataset.path",
        f"'{path}' holds a JSON {_json_type(data)}, not rows",
        'write a list of objects ([{"text": ...}, ...]) or one object per line (.jsonl)',
    )


def _json_element(element: Any, where: str) -> dict:
    if not isinstance(element, dict):
        return bad(where, f"expected a JSON object, got {_json_type(element)}")
    return _text_checked(element, where, "field")


def txt_records(path: Path, reading: Reading = PLAIN) -> Iterator[dict]:
    """One row per non-blank line."""
    for number, line in numbered_lines(path, reading):
        if isinstance(line, Oversized):
            yield bad(f"{path.name}:{number}", line.reason())
            continue
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
