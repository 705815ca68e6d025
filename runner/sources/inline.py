"""Rows written in the YAML, and the sample rows shipped with the package."""

from __future__ import annotations

import json
from pathlib import Path

from runner.core.paths import SAMPLE_DIR
from runner.sources import Source, SourceType


class InlineSource(Source):
    location_key = "dataset.rows"

    def __init__(self, cfg, spec):
        super().__init__(cfg, spec)
        self.given = cfg["rows"]  # dataset.rows: strings, or mappings of field -> value

    def describe(self) -> str:
        return "dataset.rows"

    def _records(self) -> list[dict]:
        return [row if isinstance(row, dict) else {self.spec.primary_input: row} for row in self.given]

    def columns(self) -> list[str]:
        names: dict[str, None] = {}
        for record in self._records():
            names.update(dict.fromkeys(record))
        return list(names)

    def size(self) -> int:
        return len(self.given)

    def records(self):
        yield from enumerate(self._records())


class SampleSource(Source):
    """A few rows per modality (sentences, wav clips, png images) from runner/sample_data/."""

    def describe(self) -> str:
        return "the sample data"

    def columns(self) -> list[str]:
        with open(SAMPLE_DIR / "samples.jsonl") as f:
            return list(json.loads(f.readline()))

    def default_mapping(self) -> dict[str, str]:
        return dict(self.spec.sample_columns)

    def base_dir(self) -> Path:
        return SAMPLE_DIR

    def size(self) -> int:
        with open(SAMPLE_DIR / "samples.jsonl") as f:
            return sum(1 for line in f if line.strip())

    def records(self):
        with open(SAMPLE_DIR / "samples.jsonl") as f:
            for index, line in enumerate(f):
                yield index, json.loads(line)


SAMPLE = SourceType("sample", SampleSource)
SOURCE = SourceType("inline", InlineSource)
