"""output=parquet and output=csv presets (issue 30), and a wrong output option pointing at output.format."""

from __future__ import annotations

import pytest

from runner.api import compose


@pytest.mark.parametrize("preset", ["parquet", "csv"])
def test_output_presets_compose_to_their_format_with_the_jsonl_defaults(preset):
    cfg = compose(["+task=text-classification", f"output={preset}"])
    default = compose(["+task=text-classification"])["output"]
    assert cfg["output"] == {**default, "format": preset}  # the other output keys as output=jsonl has them
    both = compose(["+task=text-classification", f"output={preset}", "output.format=[jsonl,parquet]"])
    assert both["output"]["format"] == ["jsonl", "parquet"]


@pytest.mark.parametrize(
    "value,expected",
    [
        (
            "output=parket",
            "output: 'parket' is not allowed\n  hint: did you mean 'parquet'? allowed: csv, jsonl, parquet; "
            "several formats at once: output.format=[jsonl,parquet,csv]",
        ),
        ("output.format=parket", "output.format: 'parket' is not allowed"),
    ],
)
def test_a_wrong_output_value_exits_2_and_names_output_format(tmp_path, capfd, run_in_process, value, expected):
    code = run_in_process(["+task=text-classification", "model=tiny", "dataset=sample", value], tmp_path)
    stderr = capfd.readouterr().err
    assert code == 2 and expected in stderr, stderr
    assert "did you mean 'parquet'" in stderr
