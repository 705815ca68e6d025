"""Sources are registered units (runner.sources.registry): a source defined outside runner/ (here, in this
test module) runs end to end, composed from its own preset, checked against its own schema fragment and
read by its own reader, with no other file of the runner touched."""

from __future__ import annotations

import json

import pytest

import runner
from runner.core.errors import ConfigError
from runner.core.paths import CONF_DIR, SCHEMA_DIR
from runner.sources import Source, SourceType
from runner.sources.registry import SOURCES


def test_the_registry_the_presets_and_the_schema_name_the_same_sources():
    from runner.config.validate import config_schema

    assert list(SOURCES) == ["sample", "inline", "file", "folder", "hf", "python"]
    assert {p.stem for p in (CONF_DIR / "dataset").glob("*.yaml")} == set(SOURCES)
    assert {p.name.split(".")[0] for p in (SCHEMA_DIR / "sources").glob("*.schema.json")} == set(SOURCES)
    raw = json.loads((SCHEMA_DIR / "config.schema.json").read_text())["properties"]["dataset"]
    assert "enum" not in raw["properties"]["type"] and "allOf" not in raw  # no copy of the list to keep in step
    dataset = config_schema()["properties"]["dataset"]
    assert dataset["properties"]["type"]["enum"] == list(SOURCES)
    assert [branch["if"]["properties"]["type"]["const"] for branch in dataset["allOf"]] == list(SOURCES)


class CountingSource(Source):
    """dataset.count rows of text, made up: 'row 0', 'row 1', ..."""

    location_key = "dataset.count"

    def columns(self) -> list[str]:
        return ["line"]

    def size(self) -> int:
        return self.cfg["count"]

    def records(self):
        for index in range(self.cfg["count"]):
            yield f"c{index}", {"line": f"row {index}"}


COUNTING = SourceType(
    "counting",
    CountingSource,
    schema={
        "properties": {"count": {"type": "integer", "minimum": 1, "description": "rows to make"}},
        "required": ["count"],
    },
)


@pytest.fixture
def counting(tmp_path, monkeypatch):
    """The source registered for this test only, and its preset in a config dir of the test's own."""
    monkeypatch.setitem(SOURCES, COUNTING.name, COUNTING)
    (tmp_path / "conf" / "dataset").mkdir(parents=True)
    (tmp_path / "conf" / "dataset" / "counting.yaml").write_text("type: counting\ncount: 3\ncolumn: null\n")
    return tmp_path / "conf"


def test_a_source_defined_in_a_test_runs_end_to_end(counting, tmp_path):
    result = runner.run(
        "text-classification",
        model="tiny",
        dataset="counting",
        config_dir=counting,
        output_dir=tmp_path / "run",
        device="cpu",
        progress=False,
    )
    assert result.config["dataset"] == {"type": "counting", "count": 3, "column": None}
    written = [json.loads(line) for line in (result.run_dir / "predictions.jsonl").read_text().splitlines()]
    assert [(r["id"], r["input"]) for r in written] == [(f"c{i}", {"text": f"row {i}"}) for i in range(3)]


@pytest.mark.parametrize(
    ("override", "key", "says"),
    [
        ("dataset.count=0", "dataset.count", "must be >= 1"),
        ("+dataset.path=x.csv", "dataset.path", "unknown key"),  # a key of another source
        ("dataset.count=null", "dataset.count", "is required"),
    ],
)
def test_its_schema_fragment_checks_its_keys(counting, override, key, says):
    with pytest.raises(ConfigError) as raised:
        runner.compose(
            "text-classification", model="tiny", dataset="counting", config_dir=counting, overrides=[override]
        )
    assert raised.value.key == key and says in raised.value.message
