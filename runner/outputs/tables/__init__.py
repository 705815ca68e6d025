"""Output formats (`output.format`): predictions.jsonl, always written, and the tables made from it when a
run completes (predictions.parquet, predictions.csv), streaming, one row group in memory at a time.

Each table format is a unit, an OutputFormat (runner/outputs/tables/base.py) that its module defines as FORMAT:
its name, its file's suffix, its writer. Adding one: its module here, its entry in FORMATS below and,
when a preset should pick it, conf/output/<name>.yaml; output.format's choices in the schema are filled
in from FORMATS (runner.config.validate). predictions.jsonl is the run's journal, which resume, merge,
rerun and the run-dir lock read: it is written row by row by runner.outputs.sinks, never here; "jsonl" is its
entry so that output.format can name it.
"""

from __future__ import annotations

from pathlib import Path

from runner.outputs.tables import csv, parquet
from runner.outputs.tables.base import ROWS_PER_GROUP, OutputFormat, flat_record, groups

JOURNAL = OutputFormat("jsonl", ".jsonl", write=None)
FORMATS: dict[str, OutputFormat] = {kind.name: kind for kind in (JOURNAL, parquet.FORMAT, csv.FORMAT)}

__all__ = ["FORMATS", "JOURNAL", "OutputFormat", "export_table", "export_tables", "flat_record"]


def export_table(
    predictions: Path, fmt: str, step_names: list[str] | None = None, rows_per_group: int = ROWS_PER_GROUP
) -> Path:
    """predictions<suffix> of output format `fmt` beside predictions.jsonl; returns its path."""
    kind = FORMATS[fmt]
    target = Path(predictions).with_suffix(kind.suffix)
    kind.write(target, lambda: groups(predictions, step_names, rows_per_group))
    return target


def export_tables(predictions: Path, formats: list[str], step_names: list[str] | None = None) -> list[Path]:
    """Every table output.format names (the journal is written already), in the order named."""
    return [export_table(predictions, fmt, step_names) for fmt in formats if FORMATS[fmt].write is not None]
