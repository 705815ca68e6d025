"""The run dir: its files named in one place, and metrics.json and run.json read and written as typed
objects. Every writer and reader (the engine, run.json, resume, rerun, merge, the sweep report, the
Python API) spells the files through these names."""

from __future__ import annotations

import dataclasses
import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.outputs.sinks import JsonlSink, write_json
from runner.outputs.tables import FORMATS

PREDICTIONS = "predictions.jsonl"  # one line per input row, in input order; what resume reads back
ERRORS = "errors.jsonl"  # one line per row that failed


@contextmanager
def open_journal(run_dir: Path, append: bool, keep: dict[str, list] | None = None):
    """The run's journal, which resume, merge, rerun and the lock read: predictions.jsonl and errors.jsonl,
    opened together by every engine (appended to when a run goes on). `keep`: lists that also receive each
    record written (the Python API's results). Yields (predictions, errors)."""
    mode, keep = ("a" if append else "w"), keep or {}
    with (
        JsonlSink(run_dir / PREDICTIONS, mode, keep=keep.get("predictions")) as predictions,
        JsonlSink(run_dir / ERRORS, mode, keep=keep.get("errors")) as errors,
    ):
        yield predictions, errors
METRICS = "metrics.json"  # counts, timings, memory, placement, status
RECORD = "run.json"  # status, versions, git and config provenance, hashes, the config
RERUN = "rerun.json"  # a rerun's verdict against its original
LOG = "run.log"  # the log, tracebacks included
CHILD_LOG = "child.log"  # bench.isolation=process: the child's output
CHILD_REQUEST = "child_request.json"
MERGE = "merge.json"  # a merged sharded run's summary
# output.format exports of PREDICTIONS (runner.outputs.tables): predictions.parquet, predictions.csv
TABLES = tuple(str(Path(PREDICTIONS).with_suffix(kind.suffix)) for kind in FORMATS.values() if kind.write is not None)
STAGES = ".stages"  # graph.free_finished_models: state between stages
MEDIA = "media"  # images and audio that outputs carry (runner/outputs/media.py), by step and row
LOCK = "run.lock"  # who owns the dir while a run writes into it (runner/outputs/rundir_lock.py)
HYDRA_DIR = ".hydra"  # the composed config and overrides, written redacted (runner/outputs/hydra_files.py)

# What a finished run's metrics.json may say; a benchmark point that ran out of memory is a result.
FINISHED = ("ok", "oom", "skipped_after_oom")

# Everything a run may write into its dir (the Python API clears these when told to overwrite).
WRITTEN = (PREDICTIONS, ERRORS, METRICS, RECORD, RERUN, LOG, CHILD_LOG, CHILD_REQUEST, *TABLES)


class JsonFile:
    """A JSON object with typed fields for the keys callers branch on and `rest` for the others.
    from_json(data).to_json() == data, key order included, so a file read and written back is
    unchanged: `keys` remembers the order read; a field left None that was not read is not written."""

    rest: dict
    keys: tuple

    @classmethod
    def from_json(cls, data: dict):
        typed = {f.name for f in dataclasses.fields(cls)} - {"rest", "keys"}
        return cls(
            **{k: v for k, v in data.items() if k in typed},
            rest={k: v for k, v in data.items() if k not in typed},
            keys=tuple(data),
        )

    def to_json(self) -> dict:
        typed = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("rest", "keys")}
        values = {**typed, **self.rest}
        shown = [k for k in self.keys if k in values]
        shown += [k for k, v in typed.items() if v is not None and k not in shown]
        shown += [k for k in self.rest if k not in shown]
        return {k: values[k] for k in shown}


@dataclass
class Metrics(JsonFile):
    """metrics.json. The engine (runner/engine/) writes the full set; a run that never reached it
    (skipped after an out-of-memory, a crashed child process) writes status, error and batch sizes."""

    status: str | None = None  # ok, oom, skipped_after_oom, error, interrupted
    error: str | None = None
    batch_size: Any = None
    batch_size_requested: Any = None
    run_dir: str | None = None  # where the rows went (a resumed run: the run it resumed)
    rows_in: int | None = None
    rows_out: int | None = None
    rows_error: int | None = None
    items_per_second: float | None = None
    model_load_seconds: float | None = None
    model: dict | None = None
    rest: dict = field(default_factory=dict)
    keys: tuple = ()

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


@dataclass
class RunRecord(JsonFile):
    """run.json (written by runner.repro.record.build_record)."""

    status: str | None = None  # running, ok, oom, error, interrupted
    config: dict | None = None  # the validated config
    config_hash: str | None = None
    conf: dict | None = None  # where the config came from: search path, files read with their sha256
    cwd: str | None = None
    versions: dict | None = None
    hardware: dict | None = None
    git: dict | None = None
    predictions_sha256: str | None = None
    rest: dict = field(default_factory=dict)
    keys: tuple = ()


@dataclass(frozen=True)
class RunDir:
    """A run's folder: the paths of its files, metrics.json and run.json as objects."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    @property
    def predictions(self) -> Path:
        return self.path / PREDICTIONS

    @property
    def errors(self) -> Path:
        return self.path / ERRORS

    @property
    def metrics_file(self) -> Path:
        return self.path / METRICS

    @property
    def record_file(self) -> Path:
        return self.path / RECORD

    def read_metrics(self) -> Metrics | None:
        """None when there is no metrics.json; RunFileError when it is unreadable (cut short mid-write)."""
        data = _read_object(self.metrics_file)
        return None if data is None else Metrics.from_json(data)

    def write_metrics(self, metrics: Metrics) -> None:
        write_json(self.metrics_file, metrics.to_json())

    def read_record(self) -> RunRecord | None:
        """None when there is no run.json; RunFileError when it is unreadable."""
        data = _read_object(self.record_file)
        return None if data is None else RunRecord.from_json(data)

    def write_record(self, record: dict) -> None:
        write_json(self.record_file, record)


class RunFileError(ValueError):
    """run.json or metrics.json is there but cannot be read back: not UTF-8, not JSON (cut short
    mid-write, edited by hand), or JSON that is not an object. A ValueError, so callers that only
    skip unreadable files (the sweep report) keep working; config-phase callers (resume=, rerun=,
    merge=) turn it into a ConfigError naming the file (runner.repro.saved)."""

    def __init__(self, path: Path, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def _read_object(path: Path) -> dict | None:
    """The JSON object in the file; None when there is no file; RunFileError when it is no JSON object."""
    if not path.is_file():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise RunFileError(path, f"is not UTF-8 text (byte {error.start})") from None
    if not text.strip():
        raise RunFileError(path, "is empty")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        cut = " (cut short?)" if error.pos >= len(text.rstrip()) else ""
        raise RunFileError(
            path, f"is not valid JSON{cut}: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    if not isinstance(data, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(data), "a number")
        raise RunFileError(path, f"holds {kind}, not a JSON object")
    return data
