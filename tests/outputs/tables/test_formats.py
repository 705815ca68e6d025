"""Output formats are registered units (runner.outputs.tables.FORMATS): output.format's choices come from the
registry, and a format defined outside runner/ (here, in this test module) is written by a real run beside
the journal, predictions.jsonl, with no other file of the runner touched."""

from __future__ import annotations

import json

import pytest

import runner
from runner.core.errors import ConfigError
from runner.core.paths import CONF_DIR, SCHEMA_DIR
from runner.outputs.tables import FORMATS, OutputFormat


def test_the_registry_the_presets_and_the_schema_name_the_same_formats():
    from runner.config.validate import config_schema
    from runner.outputs.rundir import TABLES

    assert list(FORMATS) == ["jsonl", "parquet", "csv"] and FORMATS["jsonl"].write is None  # the journal
    assert {p.stem for p in (CONF_DIR / "output").glob("*.yaml")} == set(FORMATS)
    raw = json.loads((SCHEMA_DIR / "config.schema.json").read_text())["properties"]["output"]["properties"]["format"]
    assert "enum" not in raw["oneOf"][0] and "enum" not in raw["oneOf"][1]["items"]  # no copy to keep in step
    one, several = config_schema()["properties"]["output"]["properties"]["format"]["oneOf"]
    assert one["enum"] == several["items"]["enum"] == list(FORMATS)
    assert TABLES == ("predictions.parquet", "predictions.csv")


def write_tsv(target, groups) -> None:
    with open(target, "w", encoding="utf-8") as f:
        for group in groups():
            for row in group:
                f.write(f"{row['id']}\t{json.dumps(row['output'])}\n")


@pytest.fixture
def tsv(monkeypatch):
    monkeypatch.setitem(FORMATS, "tsv", OutputFormat("tsv", ".tsv", write_tsv))


def test_a_format_defined_in_a_test_is_written_beside_the_journal(tsv, tmp_path):
    result = runner.run(
        "text-classification",
        model="tiny",
        output_dir=tmp_path / "run",
        device="cpu",
        progress=False,
        overrides=["output.format=[jsonl,tsv]", "dataset.limit=2"],
    )
    journal = [json.loads(line) for line in (result.run_dir / "predictions.jsonl").read_text().splitlines()]
    table = (result.run_dir / "predictions.tsv").read_text().splitlines()
    assert table == [f"{r['id']}\t{json.dumps(r['output'])}" for r in journal] and len(table) == 2


def test_a_format_not_registered_is_refused_naming_the_registered_ones(tsv):
    with pytest.raises(ConfigError) as raised:
        runner.compose("text-classification", model="tiny", overrides=["output.format=xlsx"])
    assert raised.value.key == "output.format" and "allowed: jsonl, parquet, csv, tsv" in raised.value.hint
