"""Rows handed over as Python objects by the Python API (`runner.run(..., inputs=...)`).

The objects never go into the config: they may be huge, or hold PIL images and numpy audio arrays
that YAML cannot carry. The config (and so run.json and its hash) records only what they were,
`dataset.kind`, and when they can be hashed cheaply and exactly, `dataset.fingerprint`; the objects
themselves travel beside the config, into `make_plan(..., rows=...)`.

Values stay as given, so the usual per-row decoding applies: text, file paths (relative to the
current directory), PIL images, `{"array"|"raw": ndarray, "sampling_rate": int}` audio, or image
and audio dicts `{"bytes": ..., "path": ...}` as datasets stores them undecoded.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Iterator

from runner.core.errors import ConfigError, RunError
from runner.sources import Source, SourceType
from runner.tasks import AUDIO, IMAGE

# dataset.kind: how the rows were given. Only a list and a DataFrame are fingerprinted: a Dataset may
# hold decoded audio or be larger than memory, and an iterator can be read only once, by the run.
LIST, ITERATOR, DATAFRAME, DATASET, ITERABLE_DATASET = "list", "iterator", "DataFrame", "Dataset", "IterableDataset"
# Kinds whose rows can be read once only: batch_size=auto and staged graphs, which read twice, refuse them.
ONE_PASS = (ITERATOR,)
# Kinds whose length is known without reading them.
SIZED = (LIST, DATAFRAME, DATASET)
_NOTHING = object()


def _instance_of(value: Any, module: str, name: str) -> bool:
    """isinstance without importing pandas or datasets: if the module is not loaded, value is not one."""
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(value, getattr(loaded, name, ()))


def kind_of(rows: Any) -> str:
    """The dataset.kind of an `inputs=` object, or ConfigError for what cannot be rows."""
    if _instance_of(rows, "pandas", "DataFrame"):
        return DATAFRAME
    if _instance_of(rows, "datasets", "Dataset"):
        return DATASET
    if _instance_of(rows, "datasets", "IterableDataset"):
        return ITERABLE_DATASET
    if isinstance(rows, (str, bytes, Mapping)) or not isinstance(rows, Iterable):
        raise ConfigError(
            "inputs",
            f"expected rows (a list, an iterator, a DataFrame or a Dataset), got {type(rows).__name__}",
            "one row: inputs=[value]",
        )
    return LIST if isinstance(rows, Sequence) else ITERATOR


def fingerprint(rows: Any, kind: str) -> str | None:
    """sha256 of the canonical JSON of the rows (a list, or a DataFrame as a list of records), so that
    run.json's config hash changes with the data; None when they are not finite plain JSON data."""
    if kind == LIST:
        records = iter(rows)
    elif kind == DATAFRAME:
        records = _frame_records(rows)
    else:
        return None
    digest = hashlib.sha256(b"[")
    try:
        for position, record in enumerate(records):
            text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain_json)
            digest.update((("," if position else "") + text).encode())
    except (TypeError, ValueError):  # an image, an array, a custom object: not JSON data
        return None
    digest.update(b"]")
    return digest.hexdigest()


def _plain_json(value: Any) -> Any:
    if _instance_of(value, "numpy", "generic"):  # a numpy scalar in a DataFrame cell
        return value.item()
    raise TypeError(type(value).__name__)


def _frame_records(frame) -> Iterator[dict]:
    """A DataFrame's rows as {column: value}, lazily (no copy of the frame); the index is ignored."""
    columns = [str(column) for column in frame.columns]
    for values in frame.itertuples(index=False, name=None):
        yield dict(zip(columns, values))


class PythonSource(Source):
    """dataset.type=python: rows from a list, an iterator (read once, lazily), a DataFrame or a Dataset."""

    location_key = "inputs"

    def __init__(self, cfg: dict, spec, rows: Any):
        super().__init__(cfg, spec)
        self.rows_object = rows
        self.kind = kind_of(rows)
        self._iterator: Iterator | None = iter(rows) if self.kind == ITERATOR else None
        self._first: Any = _NOTHING  # an iterator's first item, read by columns() and kept for records()
        self._columns: list[str] | None = None
        self._read = False

    def columns(self) -> list[str]:
        if self._columns is None:
            self._columns = self._find_columns()
        return self._columns

    def _find_columns(self) -> list[str]:
        if self.kind == DATAFRAME:
            return [str(name) for name in self.rows_object.columns]
        if self.kind in (DATASET, ITERABLE_DATASET) and self.rows_object.column_names is not None:
            return list(self.rows_object.column_names)
        if self.kind == LIST:
            found: dict[str, None] = {}
            for item in self.rows_object:
                found.update(dict.fromkeys(self._record(item)))
            return list(found)
        first = self._peek()  # an iterator, or a streaming dataset that does not know its columns
        return [] if first is _NOTHING else list(self._record(first))

    def _peek(self) -> Any:
        """The first item without losing it: an iterator's is kept for records()."""
        if self.kind != ITERATOR:
            return next(iter(self.rows_object), _NOTHING)
        if self._first is _NOTHING and not self._read:
            self._first = next(self._iterator, _NOTHING)
        return self._first

    def size(self) -> int | None:
        return len(self.rows_object) if self.kind in SIZED else None

    def rereadable(self) -> bool:
        return self.kind not in ONE_PASS

    def describe(self) -> str:
        return f"the inputs ({self.kind})"

    def records(self) -> Iterator[tuple[int, dict]]:
        for position, item in enumerate(self._items()):
            yield position, self._record(item)

    def _items(self) -> Iterator[Any]:
        if self.kind == DATAFRAME:
            return _frame_records(self.rows_object)
        if self.kind != ITERATOR:
            return iter(self.rows_object)
        if self._read:
            raise RunError(
                "the inputs iterator was already read: an iterator gives its rows once",
                "pass a list, a DataFrame or a Dataset to read the rows more than once",
            )
        self._read = True
        return self._iterator_items()

    def _iterator_items(self) -> Iterator[Any]:
        first, self._first = self._first, _NOTHING
        if first is not _NOTHING:
            yield first
        yield from self._iterator

    def _record(self, item: Any) -> dict[str, Any]:
        """A row as {column: value}: a mapping is the row itself (numpy scalars made plain, so ids
        write as JSON) unless it is one audio or image value; anything else is the value of the
        task's main input."""
        if isinstance(item, Mapping) and not self._is_media_value(item):
            return {
                str(key): value.item() if _instance_of(value, "numpy", "generic") else value
                for key, value in item.items()
            }
        return {self.spec.primary_input: item}

    def _is_media_value(self, item: Mapping) -> bool:
        """For a task whose main input is audio or an image, a mapping that is one such value, not a
        row: {"array"|"raw": ..., "sampling_rate": ...} (audio), or {"bytes": ..., "path": ...} as
        datasets stores undecoded audio and images."""
        modality = self.spec.inputs.get(self.spec.primary_input)
        if modality == AUDIO and "sampling_rate" in item and ("array" in item or "raw" in item):
            return True
        return modality in (AUDIO, IMAGE) and "bytes" in item and set(item) <= {"bytes", "path"}


SOURCE = SourceType("python", PythonSource, rows_from_api=True)
