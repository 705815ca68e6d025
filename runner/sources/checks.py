"""Checks of the data that need no model, made while planning, so that a run that cannot produce
anything ends in a second with exit code 2 instead of after the model loads.

They peek at the first rows only (never the whole dataset): no rows at all (an empty file, a
header only, `skip`/`shard` leaving nothing), none of the first rows readable (a file in another
encoding), or a column whose first values are all of the wrong kind for the task (a text column
fed to an image task). When only some of the first rows fail, those are just bad rows of the run.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from runner.core.errors import ConfigError
from runner.sources import Row, Source, no_rows
from runner.sources.decode import probe
from runner.tasks import DATA, TASKS
from runner.core.views import DatasetView, StepView

# How many first rows are read: enough that one bad row does not fail the run, few enough to stay cheap.
PEEK_ROWS = 5
WHAT = {"audio": "audio", "image": "an image", "text": "text"}


@dataclass(frozen=True)
class Feed:
    """A source field feeding a task input, and the config key that chose it."""

    key: str
    field: str
    modality: str
    optional: bool


def check_first_rows(
    source: Source, source_mapping: dict[str, str], graph, steps: dict[str, StepView], shard: dict | None
) -> None:
    """ConfigError when the run would read no rows, or could use none of its first ones."""
    if not source.rereadable():
        return  # an iterator gives its rows once: they are the run's
    rows = list(itertools.islice(source.rows(source_mapping, shard), PEEK_ROWS))
    if not rows:
        raise _no_rows(source, source_mapping, shard)
    readable = [row for row in rows if not row.error]
    if not readable:
        raise ConfigError(
            source.location_key,
            f"none of the first {len(rows)} rows can be read: {rows[0].error}",
            "check the data's format and encoding (UTF-8)",
        )
    for feed in feeds(source, source_mapping, graph, steps):
        _check_feed(feed, source_mapping[feed.field], readable, source)


def feeds(source: Source, source_mapping: dict[str, str], graph, steps: dict[str, StepView]) -> list[Feed]:
    found = {}
    for name, inputs in graph.inputs.items():
        spec = TASKS[steps[name].task.name]
        for wanted, (producer, field) in inputs.items():
            modality = spec.inputs[wanted]
            if producer != "source" or modality == DATA or field not in source_mapping:
                continue
            if steps[name].meta.input is not None:
                key = f"graph.steps.{name}.input"
            elif source.feed_key:
                key = source.feed_key
            else:
                key = _dataset_key(source.shared, wanted, wanted == spec.primary_input)
            found.setdefault((field, modality), Feed(key, field, modality, wanted in spec.optional_inputs))
    return list(found.values())


def _dataset_key(dataset: DatasetView, wanted: str, primary: bool) -> str:
    """The key that chose the column, as resolve_mapping reads them (dataset.column wins for the main input)."""
    if primary and (dataset.column or not dataset.fields.get(wanted)):
        return "dataset.column"
    return f"dataset.fields.{wanted}"


def _check_feed(feed: Feed, column: str, rows: list[Row], source: Source) -> None:
    values = [row.fields.get(feed.field) for row in rows]
    if feed.optional:
        values = [value for value in values if value is not None]
    reasons = []
    for value in values:
        if value is None:
            reasons.append("no value")
            continue
        try:
            probe(feed.modality, value, source.base_dir())
            return
        except ValueError as error:
            reasons.append(str(error))
    if reasons:
        raise ConfigError(
            feed.key,
            f"column '{column}' does not hold {WHAT[feed.modality]}: none of its first {len(reasons)} "
            f"values can be read as {feed.modality} ({reasons[0]})",
            f"set {feed.key} to the column holding {WHAT[feed.modality]}"
            + (f"; the data has columns: {', '.join(source.columns())}" if source.columns() else ""),
        )


def _no_rows(source: Source, source_mapping: dict[str, str], shard: dict | None) -> ConfigError:
    if next(iter(source.records()), None) is None:
        return no_rows(source)
    skip = source.shared.skip
    if skip and next(source.rows(source_mapping), None) is None:
        return ConfigError(
            "dataset.skip", f"skip={skip} leaves no rows: {source.describe()} has at most {skip}", "lower dataset.skip"
        )
    total = source.total_rows() if source.size() is not None else None  # with a size unknown, total is the limit
    unit = shard.get("unit", 1)
    rows = f"only {total} rows" if total is not None else f"fewer than {shard['index'] * unit + 1} rows"
    batches = f" (shards take whole batches of {unit} rows)" if unit > 1 else ""
    return ConfigError(
        "shard.index",
        f"shard {shard['index']} of {shard['count']} gets no rows: {source.describe()} has {rows} after skip "
        f"and limit{batches}",
        "use fewer shards (shard.count)" + (", or a smaller batch_size" if unit > 1 else ""),
    )
