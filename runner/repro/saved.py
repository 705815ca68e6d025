"""A run dir's saved files read as config input: `resume=`, `rerun=` and `merge=` name a dir whose
run.json or metrics.json may be cut short or edited by hand. That is a mistake in what the user gave,
found before any model loads, so it is a ConfigError (exit 2) naming the key and the file."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from runner.core.errors import ConfigError
from runner.outputs.rundir import RunFileError

T = TypeVar("T")


def read_saved(read: Callable[[], T], key: str) -> T:
    """read() (RunDir.read_record or read_metrics); an unreadable file becomes ConfigError(key, ...)."""
    try:
        return read()
    except RunFileError as error:
        raise ConfigError(key, f"{error.path} {error.reason}", _hint(key, error)) from None


def _hint(key: str, error: RunFileError) -> str:
    folder = error.path.parent
    if key == "merge":
        return f"that job's files are damaged: re-run its shard into a fresh dir, or remove {folder} and re-run it"
    if key == "resume":
        return f"{folder} cannot be resumed as it is: start a new run (or restore {error.path.name} from a backup)"
    return f"{folder} is not a run dir this runner can read back: give another one"
