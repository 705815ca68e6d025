"""Tabular files (csv, json/jsonl, parquet, txt) and folders of audio/image/text files."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from runner.errors import ConfigError
from runner.sources import BAD_RECORD, Source, TextFile
from runner.tasks import AUDIO, IMAGE, TEXT

EXTENSIONS = {
    AUDIO: (".wav", ".flac", ".ogg", ".mp3", ".m4a", ".opus", ".aiff", ".aif"),
    IMAGE: (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"),
    TEXT: (".txt", ".md"),
}
FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".txt": "txt"}


def _existing_path(cfg: dict, want_dir: bool) -> Path:
    path = Path(cfg["path"]).expanduser()
    if not path.exists():
        raise ConfigError("dataset.path", f"'{cfg['path']}' does not exist", f"resolved from the current directory {Path.cwd()}")
    if want_dir != path.is_dir():
        kind = "a folder" if want_dir else "a file"
        other = "dataset=file" if want_dir else "dataset=folder"
        raise ConfigError("dataset.path", f"'{cfg['path']}' is not {kind}", f"use {other} for it")
    return path


class FileSource(Source):
    def __init__(self, cfg, spec):
        super().__init__(cfg, spec)
        self.path = _existing_path(cfg, want_dir=False)
        self.format = self._format()

    def _format(self) -> str:
        if self.cfg.get("format", "auto") != "auto":
            return self.cfg["format"]
        fmt = FORMATS.get(self.path.suffix.lower())
        if fmt is None:
            raise ConfigError(
                "dataset.format", f"cannot tell the format of '{self.path.name}' from its extension",
                f"set dataset.format to one of: {', '.join(sorted(set(FORMATS.values())))}",
            )
        if fmt == "json" and self._looks_like_jsonl():
            return "jsonl"
        return fmt

    def _looks_like_jsonl(self) -> bool:
        with open(self.path) as f:
            head = f.read(1).strip() or f.readline()[:1]
        return head == "{"

    def base_dir(self) -> Path:
        return self.path.parent

    def columns(self) -> list[str]:
        if self.format == "csv":
            with open(self.path, newline="") as f:
                return next(csv.reader(f), [])
        if self.format == "txt":
            return [TEXT]
        if self.format == "parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(self.path).names)
        first = next(iter(self._json_records()), None)
        return list(first) if isinstance(first, dict) else []

    def records(self):
        readers = {"csv": self._csv_records, "txt": self._txt_records, "parquet": self._parquet_records}
        yield from enumerate(readers.get(self.format, self._json_records)())

    def _csv_records(self):
        with open(self.path, newline="") as f:
            yield from csv.DictReader(f)

    def _txt_records(self):
        with open(self.path) as f:
            for line in f:
                line = line.rstrip("\n")
                if line.strip():
                    yield {TEXT: line}

    def _parquet_records(self):
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(self.path).iter_batches(batch_size=1024):
            yield from batch.to_pylist()

    def _json_records(self):
        if self.format == "jsonl":
            with open(self.path) as f:
                for number, line in enumerate(f, 1):
                    if line.strip():
                        yield _parse_json_line(line, self.path, number)
            return
        with open(self.path) as f:
            data = json.load(f)
        if isinstance(data, dict):  # {"data": [...]} or {"column": [values...]}
            lists = [v for v in data.values() if isinstance(v, list)]
            if len(lists) == 1 and all(isinstance(x, dict) for x in lists[0]):
                data = lists[0]
            else:
                data = [dict(zip(data, values)) for values in zip(*data.values())]
        yield from data


def _parse_json_line(line: str, path: Path, number: int):
    try:
        return json.loads(line)
    except json.JSONDecodeError as error:
        # A broken line is one bad row, not a dead run: give it a record the step will reject.
        return {BAD_RECORD: f"{path.name}:{number}: invalid JSON ({error.msg})"}


class FolderSource(Source):
    """One row per file; the id is the path relative to the folder."""

    def __init__(self, cfg, spec):
        super().__init__(cfg, spec)
        self.path = _existing_path(cfg, want_dir=True)

    def _extensions(self) -> tuple[str, ...]:
        if self.cfg.get("extensions"):
            return tuple(e.lower() for e in self.cfg["extensions"])
        return tuple(ext for modality in set(self.spec.inputs.values()) for ext in EXTENSIONS[modality])

    def _files(self) -> list[Path]:
        pattern = "**/*" if self.cfg.get("recursive", True) else "*"
        extensions = self._extensions()
        return sorted(p for p in self.path.glob(pattern) if p.is_file() and p.suffix.lower() in extensions)

    def size(self) -> int:
        return len(self._files())

    def columns(self) -> list[str]:
        return ["path", *dict.fromkeys(self._modality(p) for p in self._files()[:1000])]

    def default_mapping(self) -> dict[str, str]:
        return {name: modality for name, modality in self.spec.inputs.items() if name not in self.spec.optional_inputs}

    def _modality(self, path: Path) -> str:
        suffix = path.suffix.lower()
        return next((m for m, exts in EXTENSIONS.items() if suffix in exts), IMAGE if IMAGE in self.spec.inputs.values() else AUDIO)

    def records(self):
        files = self._files()
        if not files:
            raise ConfigError(
                "dataset.path", f"no {'/'.join(self._extensions())} files in '{self.cfg['path']}'",
                "set dataset.extensions to the files' extensions",
            )
        for path in files:
            relative = path.relative_to(self.path).as_posix()
            modality = self._modality(path)
            value = TextFile(str(path)) if modality == TEXT else str(path)
            yield relative, {"path": str(path), modality: value}
