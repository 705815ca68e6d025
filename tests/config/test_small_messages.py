"""Small wording fixes (issue 30): a YAML syntax error points at the line that opened what is not closed;
the Python API's errors speak of its arguments, not the command line; "X and Y, which are not installed"."""

from __future__ import annotations

import importlib.util

import pytest

import runner
from runner.core.errors import ConfigError


@pytest.mark.parametrize(
    "text,line,opened",
    [
        ("batch_size: [1\nseed: 3\n", 1, "a flow sequence starts here and is not closed"),
        ("model: {tiny: distilbert\nseed: 3\n", 1, "a flow mapping starts here and is not closed"),
        ('seed: "3\nbatch_size: 1\n', 1, "a quoted scalar starts here and is not closed"),
        ("seed: 3\n  batch_size: 1\n", 2, "mapping values are not allowed here"),  # found where it is
    ],
)
def test_a_yaml_syntax_error_is_reported_on_its_line(tmp_path, capfd, run_in_process, text, line, opened):
    experiment = tmp_path / "conf" / "experiment" / "bad.yaml"
    experiment.parent.mkdir(parents=True)
    experiment.write_text("# @package _global_\n" + text)
    code = run_in_process(["-cd", "conf", "+experiment=bad", "+task=sentiment"], tmp_path)
    stderr = capfd.readouterr().err
    assert code == 2 and f"not valid YAML: {opened}" in stderr, stderr
    assert f"in: {experiment}, line {line + 1}, column" in stderr  # +1: the @package line


def test_python_api_errors_name_the_call_not_the_command_line():
    with pytest.raises(ConfigError) as caught:
        runner.compose("feature-extraction", model="tiny", overrides=["task.params.pooling=maxx"])
    assert caught.value.where == "the call's settings, as the override task.params.pooling=maxx"
    with pytest.raises(ConfigError) as caught:
        runner.compose("text-classification", model="tiny", overrides=["task.params.pooling=mean"])
    assert caught.value.hint.endswith('to add a new key, pass overrides=["+task.params.pooling=..."]')
    with pytest.raises(ConfigError) as caught:
        runner.compose("text-classification", dataset="file")
    assert caught.value.hint.startswith('set it with runner.run(..., **{"dataset.path": ...})')
    assert "command line" not in str(caught.value)


def test_missing_packages_are_listed_with_the_right_verb(monkeypatch):
    from runner.tracking.settings import check_tracking

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a, **k: None)
    with pytest.raises(ConfigError) as caught:
        check_tracking({"tracking": {"backend": "mlflow"}})
    assert caught.value.message == "tracking=mlflow needs mlflow, sqlalchemy and alembic, which are not installed"
