"""output.format=csv: predictions.csv. CSV has neither types nor nesting: cells are text, lists and mappings
are JSON text, and the output columns are JSON text as they always were (a string output keeps its quotes,
so every cell parses)."""

from __future__ import annotations

import json
from pathlib import Path

from runner.outputs.sinks import open_output
from runner.outputs.tables.base import Groups, OutputFormat


def write_csv(target: Path, groups: Groups) -> None:
    import csv

    columns: dict[str, None] = {}
    for group in groups():
        for row in group:
            columns.update(dict.fromkeys(row))
    with open_output(target, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns))
        writer.writeheader()
        for group in groups():
            writer.writerows([{c: _csv_cell(c, v) for c, v in row.items()} for row in group])


def _csv_cell(column: str, value):
    if column == "output" or column.startswith("output_") or isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return value


FORMAT = OutputFormat("csv", ".csv", write_csv)
