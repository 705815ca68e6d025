"""The run dir's files as objects, the per-invocation state, and the exit-code hand-over from Hydra's callback."""

from __future__ import annotations

import json
import os

import pytest

from runner.job.invocation import Invocation
from runner.outputs.rundir import Metrics, RunDir, RunRecord
from runner.sweep.exit_codes import HANDOVER_ENV, _hand_over, launched_exit_codes


def test_metrics_round_trip_keeps_the_file_as_written(tmp_path):
    written = {
        "status": "ok",
        "error": None,
        "run_dir": "x",
        "task": "t",
        "rows_out": 3,
        "extra": {"a": 1},
        "model_load_seconds": 0.5,
    }
    (tmp_path / "metrics.json").write_text(json.dumps(written, indent=2) + "\n")
    before = (tmp_path / "metrics.json").read_bytes()
    metrics = RunDir(tmp_path).read_metrics()
    assert metrics.status == "ok" and metrics.rows_out == 3 and metrics.rest == {"task": "t", "extra": {"a": 1}}
    RunDir(tmp_path).write_metrics(metrics)
    assert (tmp_path / "metrics.json").read_bytes() == before


def test_metrics_made_here_write_only_what_was_set():
    metrics = Metrics(
        status="skipped_after_oom", error="e", batch_size=8, batch_size_requested=8, rest={"benchmark": True}
    )
    assert list(metrics.to_json()) == ["status", "error", "batch_size", "batch_size_requested", "benchmark"]
    assert metrics.finished and not Metrics(status="error").finished


def test_a_missing_file_reads_as_none_and_a_broken_one_raises(tmp_path):
    folder = RunDir(tmp_path)
    assert folder.read_metrics() is None and folder.read_record() is None
    (tmp_path / "run.json").write_text("{cut")
    with pytest.raises(ValueError):
        folder.read_record()
    assert RunRecord.from_json({"status": "ok", "x": 1}).to_json() == {"status": "ok", "x": 1}


def test_oom_limits_belong_to_one_invocation():
    from types import SimpleNamespace

    from runner.config.checked import check_run
    from runner.config.compose import compose_config

    composed = compose_config(["+task=text-classification", "model=tiny"])

    def _point(batch_size: int):  # a sweep point's plan as OomLimits reads it: its config and its views
        checked = check_run({**composed, "batch_size": batch_size})
        return SimpleNamespace(cfg=checked.cfg, views=checked.views)

    first, second = Invocation(), Invocation()
    first.oom.record(_point(16), 16)
    first.oom.record(_point(32), 32)
    assert first.oom.covering(_point(64)) == (16, None)
    assert first.oom.covering(_point(8)) is None
    assert second.oom.covering(_point(16)) is None
    assert first.exit_code() == 0
    first.exit_codes.extend([0, 3, 1])
    assert first.exit_code() == 3


def test_the_callback_hands_exit_codes_to_the_caller(monkeypatch):
    monkeypatch.delenv(HANDOVER_ENV, raising=False)
    _hand_over([1])  # outside `run` (no hand-over file named) nothing is kept
    with launched_exit_codes() as collected:
        _hand_over([0, 2])
        _hand_over([1])
        assert collected() == [0, 2, 1]
    assert HANDOVER_ENV not in os.environ


@pytest.mark.parametrize(
    "content,reason",
    [
        (b'{"status": "ok", "rows_in": ', "is not valid JSON (cut short?)"),
        (b"", "is empty"),
        (b"[]", "holds an array, not a JSON object"),
        (b'"ok"', "holds a string, not a JSON object"),
        (b"3", "holds a number, not a JSON object"),
        (b'{"status": "\xff"}', "is not UTF-8 text"),
        (b'{"status": "ok"} trailing', "is not valid JSON: Extra data"),
    ],
)
def test_an_unreadable_run_file_says_which_and_why(tmp_path, content, reason):
    from runner.outputs.rundir import RunFileError

    for name, read in (("run.json", RunDir(tmp_path).read_record), ("metrics.json", RunDir(tmp_path).read_metrics)):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(RunFileError) as caught:
            read()
        assert caught.value.path == tmp_path / name and reason in caught.value.reason
        assert isinstance(caught.value, ValueError)  # callers that skip damaged files (the sweep report) still do
