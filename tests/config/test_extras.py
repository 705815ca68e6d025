"""Optional extras ([quant], [report]): a run that needs a missing one is a config error naming it;
a sweep without matplotlib still writes its tables and says how to get the plot.

"Missing" is made the way Python itself blocks an import: a None entry in sys.modules."""

from __future__ import annotations

import logging
import sys

import pytest

import runner
from runner.core.extras import EXTRAS, is_installed
from runner.core.errors import ConfigError
from runner.sweep import write_report
from runner.sweep.callback import SweepReport
from tests.sweep.test_report import COMMON, ok_metrics, write_job

TINY_CLASSIFIER = ["+task=text-classification", "model=tiny", "dataset=sample"]


@pytest.fixture
def without(monkeypatch):
    def block(module: str) -> None:
        for name in [n for n in sys.modules if n == module or n.startswith(module + ".")]:
            monkeypatch.delitem(sys.modules, name)
        monkeypatch.setitem(sys.modules, module, None)

    return block


def test_the_table_names_real_modules_and_the_extras_pyproject_declares():
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    extras = pyproject["project"]["optional-dependencies"]
    for module, (extra, distribution) in EXTRAS.items():
        assert any(req.startswith(distribution) for req in extras[extra]), (module, extra, extras[extra])
        hard = pyproject["project"]["dependencies"]
        assert not any(req.startswith(distribution) for req in hard), f"{distribution} is still a hard dependency"
        assert is_installed(module), f"{module} ({extra}) is not installed here: scripts/setup.sh installs every extra"


@pytest.mark.parametrize("mode", ["8bit", "4bit"])
def test_quantization_without_bitsandbytes_is_a_config_error_naming_the_extra(tmp_path, without, mode):
    without("bitsandbytes")
    assert not is_installed("bitsandbytes")
    out = tmp_path / "run"
    with pytest.raises(ConfigError) as caught:
        runner.run([*TINY_CLASSIFIER, f"quantization={mode}", "device=cpu"], output_dir=out)
    assert caught.value.key == "quantization"
    assert f"quantization={mode} needs bitsandbytes" in caught.value.message
    assert "hf-pipeline-runner[quant]" in caught.value.hint
    assert not out.exists(), "a config error leaves no run dir"


def test_unquantized_runs_do_not_need_bitsandbytes(tmp_path, without):
    without("bitsandbytes")
    result = runner.run([*TINY_CLASSIFIER, "dataset.limit=2"], output_dir=tmp_path / "run")
    assert result.exit_code == 0
    assert (tmp_path / "run" / "predictions.jsonl").read_text().count("\n") == 2


def test_a_sweep_without_matplotlib_warns_first_then_writes_its_tables(tmp_path, without, caplog):
    without("matplotlib")
    sweep = tmp_path / "multirun"
    for num, batch in enumerate((1, 4)):
        write_job(sweep, num, [*COMMON, f"batch_size={batch}"], ok_metrics(batch, 10.0 * batch, with_tokens=False))
    with caplog.at_level(logging.WARNING):
        SweepReport().on_multirun_start(config=None)
        report = write_report(sweep)
    hints = [r.getMessage() for r in caplog.records if "hf-pipeline-runner[report]" in r.getMessage()]
    assert len(hints) == 2, caplog.text  # at the start of the sweep and when the report is written
    assert {p.name for p in report.files} == {"sweep.csv", "sweep.json", "sweep.md"}
    assert not (sweep / "sweep.png").exists()
    import csv

    with open(sweep / "sweep.csv") as f:
        assert sorted(int(row["batch_size"]) for row in csv.DictReader(f)) == [1, 4]
