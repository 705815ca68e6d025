"""Tabular files (csv, json/jsonl, parquet, txt) and folders of audio/image/text files."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from pathlib import Path

from runner.core.errors import ConfigError
from runner.sources import BAD_RECORD, Source, SourceType, TextFile
from runner.sources.parquet import parquet_shard_records
from runner.sources.readers import (
    BOM,
    DEFAULT_MAX_ROW_BYTES,
    Reading,
    ReadMeter,
    csv_header,
    csv_records,
    detect_encoding,
    json_records,
    jsonl_records,
    txt_records,
)
from runner.tasks import AUDIO, IMAGE, TEXT

EXTENSIONS = {
    # soundfile decodes the first six; PyAV the others (runner.sources.audio)
    AUDIO: (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".m4a", ".opus", ".webm", ".mp4", ".aac", ".mka"),
    IMAGE: (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"),
    TEXT: (".txt", ".md"),
}
# JSON rows may differ in their keys: the columns are those found in this many first rows.
PEEK_ROWS = 50
FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".txt": "txt"}


@dataclass(frozen=True)
class FileOptions:
    """dataset=file's own keys (conf/dataset/file.yaml), read once. The fallbacks are that preset's values,
    for a run.json saved before a key existed (tests/config/test_views.py keeps them equal)."""

    path: str
    format: str = "auto"
    encoding: str = "auto"  # null: auto too
    max_row_bytes: int | None = DEFAULT_MAX_ROW_BYTES

    @classmethod
    def from_dataset(cls, dataset: dict) -> FileOptions:
        return cls(
            path=dataset["path"],
            format=dataset.get("format", cls.format),
            encoding=dataset.get("encoding") or cls.encoding,
            max_row_bytes=dataset.get("max_row_bytes", cls.max_row_bytes),
        )


@dataclass(frozen=True)
class FolderOptions:
    """dataset=folder's own keys (conf/dataset/folder.yaml), read once; fallbacks as FileOptions'."""

    path: str
    extensions: tuple[str, ...] | None = None  # lower-cased; None: every file of the task's modality
    recursive: bool = True

    @classmethod
    def from_dataset(cls, dataset: dict) -> FolderOptions:
        extensions = dataset.get("extensions")
        return cls(
            path=dataset["path"],
            extensions=tuple(e.lower() for e in extensions) if extensions else None,
            recursive=dataset.get("recursive", cls.recursive),
        )


def _existing_path(given: str, want_dir: bool) -> Path:
    path = Path(given).expanduser()
    if not path.exists():
        raise ConfigError(
            "dataset.path", f"'{given}' does not exist", f"resolved from the current directory {Path.cwd()}"
        )
    if want_dir != path.is_dir():
        kind = "a folder" if want_dir else "a file"
        other = "dataset=file" if want_dir else "dataset=folder"
        raise ConfigError("dataset.path", f"'{given}' is not {kind}", f"use {other} for it")
    return path


class FileSource(Source):
    location_key = "dataset.path"

    def __init__(self, cfg, spec):
        super().__init__(cfg, spec)
        self.options = FileOptions.from_dataset(cfg)
        self.path = _existing_path(self.options.path, want_dir=False)
        self.reading = Reading(detect_encoding(self.path, self.options.encoding), self.options.max_row_bytes)
        self.format = self._format()
        # how far the run's reader is through a text file, for the progress bar's estimated total
        self.meter = ReadMeter(self.path) if self.format != "parquet" else None

    def _format(self) -> str:
        if self.options.format != "auto":
            return self.options.format
        fmt = FORMATS.get(self.path.suffix.lower())
        if fmt is None:
            raise ConfigError(
                "dataset.format",
                f"cannot tell the format of '{self.path.name}' from its extension",
                f"set dataset.format to one of: {', '.join(sorted(set(FORMATS.values())))}",
            )
        if fmt == "json" and self._looks_like_jsonl():
            return "jsonl"
        return fmt

    def _looks_like_jsonl(self) -> bool:
        with open(self.path, "rb") as f:
            head = f.read(64)
        if not self.reading.utf8:
            head = head.decode(self.reading.encoding, "ignore").encode("utf-8")
        head = head.removeprefix(BOM).lstrip()
        return head[:1] == b"{"

    def base_dir(self) -> Path:
        return self.path.parent

    def columns(self) -> list[str]:
        if self.path.stat().st_size == 0:
            raise ConfigError(
                "dataset.path", f"'{self.options.path}' is empty", "point dataset.path at a file with rows"
            )
        if self.format == "csv":
            return csv_header(self.path, self.reading)
        if self.format == "txt":
            return [TEXT]
        if self.format == "parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(self.path).names)
        return self._peeked_columns()

    def _peeked_columns(self) -> list[str]:
        """JSON rows need not share their keys: the columns are those of the first rows."""
        names: dict[str, None] = {}
        first_bad = None
        self.columns_seen = f"the first {PEEK_ROWS} rows"
        for record in itertools.islice(self._json_records(), PEEK_ROWS):
            if BAD_RECORD in record:
                first_bad = first_bad or record[BAD_RECORD]
            else:
                names.update(dict.fromkeys(record))
        if first_bad and not names:
            raise ConfigError(
                "dataset.path",
                f"none of the first rows of '{self.options.path}' can be read: {first_bad}",
                "check the file's format and encoding (UTF-8)",
            )
        return list(names)

    def size(self) -> int | None:
        """A Parquet file's row count, from its footer; other files would have to be read to count."""
        if self.format != "parquet":
            return None
        import pyarrow.parquet as pq

        return pq.read_metadata(self.path).num_rows

    def records(self):
        return self.records_where(None)

    def estimated_size(self) -> int | None:
        """A text file's rows, extrapolated from the bytes read so far (None before the run reads)."""
        return self.meter.estimated_rows() if self.meter is not None else None

    def records_where(self, wanted):
        if self.format == "parquet":
            return enumerate(self._parquet_records(self.path))
        metered = replace(self.reading, meter=self.meter)
        if self.format == "txt":  # decoding a line is all that parsing it costs
            return enumerate(self.meter.counted(txt_records(self.path, metered)))
        if self.format == "csv":
            return enumerate(self.meter.counted(csv_records(self.path, wanted, metered)))
        return enumerate(self.meter.counted(self._json_records(self.path, wanted, metered)))

    def shard_records(self, shard: dict):
        if self.format != "parquet":
            return super().shard_records(shard)
        return parquet_shard_records(self.path, self.shared.skip, self.shared.limit, shard)

    @staticmethod
    def _parquet_records(path: Path):
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
            yield from batch.to_pylist()

    def _json_records(self, path: Path | None = None, wanted=None, reading: Reading | None = None):
        return (jsonl_records if self.format == "jsonl" else json_records)(
            path or self.path, wanted, reading or self.reading
        )


class FolderSource(Source):
    """One row per file; the id is the path relative to the folder."""

    location_key = "dataset.path"
    feed_key = "dataset.extensions"  # a folder's files are chosen by their extensions

    def __init__(self, cfg, spec):
        super().__init__(cfg, spec)
        self.options = FolderOptions.from_dataset(cfg)
        self.path = _existing_path(self.options.path, want_dir=True)
        self._listed: list[Path] | None = None

    def _extensions(self) -> tuple[str, ...]:
        if self.options.extensions:
            return self.options.extensions
        return tuple(ext for modality in set(self.spec.inputs.values()) for ext in EXTENSIONS[modality])

    def _files(self) -> list[Path]:
        """The folder's matching files, listed once; none is a config error, found before the model loads."""
        if self._listed is None:
            pattern = "**/*" if self.options.recursive else "*"
            extensions = self._extensions()
            self._listed = sorted(p for p in self.path.glob(pattern) if p.is_file() and p.suffix.lower() in extensions)
        if not self._listed:
            where = "" if self.options.recursive else " (dataset.recursive=false: its subfolders not searched)"
            raise ConfigError(
                "dataset.path",
                f"no {'/'.join(self._extensions())} files in '{self.options.path}'{where}",
                "set dataset.extensions to the files' extensions" + _found_hint(self.path),
            )
        return self._listed

    def size(self) -> int:
        return len(self._files())

    def columns(self) -> list[str]:
        return ["path", *dict.fromkeys(self._modality(p) for p in self._files()[:1000])]

    def default_mapping(self) -> dict[str, str]:
        return {name: modality for name, modality in self.spec.inputs.items() if name not in self.spec.optional_inputs}

    def _modality(self, path: Path) -> str:
        suffix = path.suffix.lower()
        return next(
            (m for m, exts in EXTENSIONS.items() if suffix in exts),
            IMAGE if IMAGE in self.spec.inputs.values() else AUDIO,
        )

    def records(self):
        for path in self._files():
            relative = path.relative_to(self.path).as_posix()
            modality = self._modality(path)
            value = TextFile(str(path)) if modality == TEXT else str(path)
            yield relative, {"path": str(path), modality: value}


def _found_hint(folder: Path) -> str:
    """What the folder does hold, by extension, so the right dataset.extensions is one look away."""
    found: dict[str, int] = {}
    for path in itertools.islice((p for p in folder.rglob("*") if p.is_file()), 10000):
        suffix = path.suffix.lower() or "(none)"
        found[suffix] = found.get(suffix, 0) + 1
    if not found:
        return "; the folder holds no files"
    common = sorted(found.items(), key=lambda item: -item[1])[:5]
    return "; the folder holds " + ", ".join(f"{count} {suffix}" for suffix, count in common)


SOURCE = SourceType("file", FileSource)
FOLDER = SourceType("folder", FolderSource)
