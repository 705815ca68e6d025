"""Data sources: each yields rows `{id, fields}` lazily, so a large dataset never sits in memory.

A source exposes its column names (cheaply, by peeking) so the graph can check the field mapping
before any model loads; `rows()` then yields records whose values are still raw (text, file paths,
decoded arrays): decoding an audio or image happens per row, when the step asks for it, so a bad
file fails its own row only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Iterator

from runner.core.errors import ConfigError
from runner.sources.sharding import assignment, owned_count, owns, rows_after
from runner.tasks import Task
from runner.core.views import DatasetView


@dataclass
class Row:
    id: Any
    fields: dict[str, Any]
    error: str | None = None  # set when the source itself could not read this row
    # Position in the dataset after `skip`, before sharding: shards, resumed runs and merges order by it.
    index: int = 0


@dataclass(frozen=True)
class TextFile:
    """A text input still on disk: read when its row is prepared, so an unreadable file fails one row."""

    path: str


# dataset.fields.reference: a column of expected outputs (a label, a transcript). It is no task input: rows
# carry it under this name, and predictions.jsonl holds it beside the output, so the sweep report can score
# each point against it (runner.sweep.quality) from the files alone.
REFERENCE = "reference"

# Key of a record that a source could not parse; the row is reported as an error, the run goes on.
BAD_RECORD = "__error__"


class Source:
    """Base class: subclasses give `columns()` and `records()` (id, {column: value})."""

    #: the config key naming where the data comes from, for messages
    location_key = "dataset"
    #: the config key that chose the rows' files, for a column that cannot be read as the task's modality
    #: (None: the key that chose the column, dataset.column or dataset.fields.<input>)
    feed_key: str | None = None
    #: where columns() looked, for messages: a source whose rows differ in their keys peeks at the first ones
    columns_seen = "the data"

    def __init__(self, cfg: dict, spec: Task):
        self.cfg = cfg  # the `dataset` node: a source reads its own keys from it
        self.shared = DatasetView.from_dataset(cfg)  # the keys every source has
        self.spec = spec

    def columns(self) -> list[str]:
        raise NotImplementedError

    def records(self) -> Iterator[tuple[Any, dict[str, Any]]]:
        raise NotImplementedError

    def rereadable(self) -> bool:
        """Whether rows() can be read more than once (so a peek at the first rows costs the run nothing)."""
        return True

    def describe(self) -> str:
        """The data, as messages name it."""
        return f"'{self.cfg['path']}'" if self.cfg.get("path") else "the data"

    def size(self) -> int | None:
        """Number of rows when known without reading the data (for the progress bar), else None."""
        return None

    def estimated_size(self) -> int | None:
        """Number of rows extrapolated from what the run has read so far (a text file: its rows over the
        share of bytes they took), for sources whose size() is None; None when there is no estimate."""
        return None

    def total_rows(self, shard: dict | None = None, estimated: bool = False) -> int | None:
        """Rows this run (shard) will read; with `estimated`, a source that cannot count them cheaply
        answers with its estimate so far."""
        size, limit = self.size(), self.shared.limit
        if size is None and estimated:
            size = self.estimated_size()
        total = limit if size is None else rows_after(size, self.shared.skip, limit)
        if total is None or not shard or shard["count"] == 1:
            return total
        return owned_count(total, shard["index"], shard["count"], assignment(self.cfg), shard.get("unit", 1))

    def default_mapping(self) -> dict[str, str]:
        """Task input -> column used when the config names none; sources may know better."""
        return {}

    def base_dir(self):
        """Folder that relative file paths in the data are resolved against (None: the cwd)."""
        return None

    def rows(self, mapping: dict[str, str], shard: dict | None = None) -> Iterator[Row]:
        """Rows after `skip`, up to `limit`; with `shard` {index, count, unit} (sharding.shard_of), only the
        positions that shard owns (runner.sources.sharding), so shards never overlap and together cover every row."""
        id_column = self.shared.id_column
        for index, row_id, record in self.shard_records(shard or {"index": 0, "count": 1}):
            if id_column:
                row_id = record.get(id_column, row_id)
            fields = {name: record.get(column) for name, column in mapping.items()}
            yield Row(row_id, fields, error=record.get(BAD_RECORD), index=index)

    def shard_records(self, shard: dict) -> Iterator[tuple[int, Any, dict[str, Any]]]:
        """(position after skip, id, record) of the shard's rows, round-robin by batch unit. This reads every
        record but has records_where parse only the shard's; sources that can jump to their rows override it."""
        skip, limit = self.shared.skip, self.shared.limit
        shard_index, shard_count, unit = shard["index"], shard["count"], shard.get("unit", 1)

        def wanted(position: int) -> bool:
            return position >= skip and owns(position - skip, shard_index, shard_count, unit)

        for position, (row_id, record) in enumerate(self.records_where(wanted)):
            index = position - skip
            if limit is not None and index >= limit:
                return
            if record is not None and wanted(position):
                yield index, row_id, record

    def records_where(self, wanted) -> Iterator[tuple[Any, dict[str, Any] | None]]:
        """records(), where a source that can count a row without parsing it gives None for the
        positions `wanted` refuses (another shard's rows, those skipped)."""
        return self.records()


@dataclass(frozen=True)
class SourceType:
    """A kind of source, `dataset=<name>`: a module of runner/sources defines it as SOURCE (or SOURCES, for
    several), runner.sources.registry collects them. Beside the module, a source has its preset
    conf/dataset/<name>.yaml (every key with its default) and its schema fragment."""

    name: str  # dataset.type, and the preset's file name
    reader: Callable[..., Source]  # reader(cfg, spec) -> Source; with rows_from_api: reader(cfg, spec, rows)
    # The JSON Schema of its own keys beside those every source has: {"properties": {...}, "required": [...]}.
    # None: schemas/sources/<name>.schema.json (a source defined outside the package gives it here).
    schema: Mapping | None = None
    # Rows handed over as Python objects by runner.run(..., inputs=rows), never written in a config.
    rows_from_api: bool = False


def open_source(cfg: dict, spec: Task, rows: Any = None) -> Source:
    """The source dataset.type names. `rows`: the Python objects of dataset.type=python, which the
    Python API passes beside the config because they cannot be written into it."""
    from runner.sources.registry import SOURCES

    dataset_type = DatasetView.from_dataset(cfg).type
    kind = SOURCES[dataset_type]
    if kind.rows_from_api:
        if rows is None:
            others = [name for name, other in SOURCES.items() if not other.rows_from_api and name != "sample"]
            raise ConfigError(
                "dataset.type",
                f"'{kind.name}' rows come only through the Python API: runner.run(..., inputs=rows)",
                f"from the command line use dataset={', '.join(others[:-1])} or {others[-1]}",
            )
        return kind.reader(cfg, spec, rows)
    if rows is not None:
        raise ConfigError(
            "dataset.type",
            f"Python rows were given (inputs=...) but dataset.type is '{dataset_type}'",
            "leave dataset.type alone with inputs=, or drop inputs= to read the dataset",
        )
    return kind.reader(cfg, spec)


def resolve_mapping(source: Source) -> dict[str, str]:
    """Decide which column feeds each task input, or raise ConfigError naming the key to set."""
    dataset, spec = source.shared, source.spec
    columns = source.columns()
    if not columns and source.rereadable() and next(iter(source.records()), None) is None:
        raise no_rows(source)  # say so, rather than that no column feeds the task
    given = dict(dataset.fields)
    if dataset.column:
        given[spec.primary_input] = dataset.column
    defaults = source.default_mapping()
    mapping = {}
    for name in spec.inputs:
        if name in given:
            column = given[name]
            if columns and column not in columns:
                key = (
                    "dataset.column"
                    if dataset.column == column and name == spec.primary_input
                    else f"dataset.fields.{name}"
                )
                raise ConfigError(key, f"column '{column}' is not in {source.columns_seen}", _columns_hint(columns))
            mapping[name] = column
        elif name in defaults:
            mapping[name] = defaults[name]
        elif name in columns:
            mapping[name] = name
        elif len(columns) == 1 and len(spec.inputs) == 1:
            mapping[name] = columns[0]
        elif name in spec.optional_inputs:
            continue
        else:
            key = "dataset.column" if name == spec.primary_input else f"dataset.fields.{name}"
            raise ConfigError(
                key,
                f"no column feeds the task input '{name}' ({spec.inputs[name]})",
                f"set {key}=<column>; {_columns_hint(columns)}",
            )
    if dataset.id_column and columns and dataset.id_column not in columns:
        raise ConfigError(
            "dataset.id_column", f"column '{dataset.id_column}' is not in the data", _columns_hint(columns)
        )
    return mapping


def reference_column(source: Source) -> str | None:
    """dataset.fields.reference, checked against the data's columns; None when it is not set."""
    column = source.shared.fields.get(REFERENCE)
    columns = source.columns()
    if column and columns and column not in columns:
        raise ConfigError(
            f"dataset.fields.{REFERENCE}", f"column '{column}' is not in {source.columns_seen}", _columns_hint(columns)
        )
    return column or None


def no_rows(source: Source) -> ConfigError:
    return ConfigError(
        source.location_key,
        f"{source.describe()} has no rows",
        "a CSV needs a header line and a row; JSON Lines one object; a text file one non-blank line",
    )


def _columns_hint(columns: list[str]) -> str:
    return f"the data has columns: {', '.join(columns)}" if columns else "the data has no columns"
