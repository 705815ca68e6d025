"""What every output format shares: its unit (OutputFormat) and the rows it writes, read from predictions.jsonl."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from runner.outputs.sinks import iter_jsonl

ROWS_PER_GROUP = 2048

# A writer's rows: a function that reads predictions.jsonl again on each call (a writer may read it twice, as
# Parquet does to find its schema first), yielding groups of flat records (flat_record), in input order.
Groups = Callable[[], Iterator[list[dict]]]


@dataclass(frozen=True)
class OutputFormat:
    """An `output.format` choice: a module of runner/outputs/tables defines it as FORMAT, runner.outputs.tables collects them."""

    name: str  # the value in output.format (and conf/output/<name>.yaml, a preset that picks it)
    suffix: str  # the file it writes: predictions<suffix> beside predictions.jsonl
    # write(target, groups): the file, made from predictions.jsonl once the run completes; None for the
    # journal itself (predictions.jsonl, written row by row by runner.outputs.sinks).
    write: Callable[[Path, Groups], None] | None


def flat_record(record: dict, step_names: list[str] | None = None) -> dict:
    """A prediction as flat columns: id, index, input_<field>, and output (one output_<step> column per
    step when the output holds several steps), values as they are in the JSONL."""
    row = {"id": record["id"], "index": record.get("index")}
    for key, value in (record.get("input") or {}).items():
        row[f"input_{key}"] = value
    output = record.get("output")
    if step_names and (output is None or isinstance(output, dict)):
        for step in step_names:
            row[f"output_{step}"] = None if output is None else output.get(step)
    else:
        row["output"] = output
    return row


def groups(predictions: Path, step_names: list[str] | None, size: int) -> Iterator[list[dict]]:
    group: list[dict] = []
    for record in iter_jsonl(predictions):
        group.append(flat_record(record, step_names))
        if len(group) >= size:
            yield group
            group = []
    if group:
        yield group
