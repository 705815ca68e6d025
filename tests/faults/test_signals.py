"""SIGTERM is honoured within seconds even inside a long pipeline call, and the run ends "interrupted"
with whole lines written, so that resume= finishes it (issue 29, class 2). In this process: a timer
thread sends the signal once the long call has started; the runner's handler (runner.job.policies) turns
it into KeyboardInterrupt in the main thread, at its next Python bytecode, which a generate() loop
reaches every token."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest

import runner
from tests.conftest import read_jsonl

# One call of 2 rows that takes many seconds: 200 new tokens, 8 beams each (tiny GPT-2, greedy beams).
LONG = {"max_new_tokens": 200, "num_beams": 8, "do_sample": False}
SETTINGS = dict(model="tiny", batch_size=2, progress=False, threads=1)


@pytest.fixture
def long_call_started(monkeypatch):
    """Events: the first pipeline call started, and whether it returned (the spy wraps Pipeline.__call__)."""
    from transformers import Pipeline

    events = {"started": threading.Event(), "returned": threading.Event()}
    original = Pipeline.__call__

    def call(pipe, *args, **kwargs):
        events["started"].set()
        result = original(pipe, *args, **kwargs)
        events["returned"].set()
        return result

    monkeypatch.setattr(Pipeline, "__call__", call)
    return events


def test_sigterm_inside_a_long_call_ends_the_run_within_seconds_as_interrupted(tmp_path, long_call_started):
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps({"text": f"row {i} says"}) + "\n" for i in range(6)))
    sent = {}

    def kill_once_started():
        if long_call_started["started"].wait(120):
            time.sleep(0.3)  # well inside the call
            sent["at"] = time.monotonic()
            os.kill(os.getpid(), signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM)
    killer = threading.Thread(target=kill_once_started, daemon=True)
    killer.start()
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        runner.run(
            "text-generation",
            dataset={"type": "file", "path": str(tmp_path / "rows.jsonl")},
            task_params=LONG,
            output_dir=out,
            **SETTINGS,
        )
    ended = time.monotonic()
    killer.join(1)
    assert "at" in sent and not long_call_started["returned"].is_set()  # stopped inside the call
    assert ended - sent["at"] < 3, f"{ended - sent['at']:.1f} s from SIGTERM to the run's end"
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "interrupted"
    assert json.loads((out / "metrics.json").read_text())["status"] == "interrupted"
    assert not (out / "predictions.jsonl").exists() or read_jsonl(out / "predictions.jsonl") == []
    assert signal.getsignal(signal.SIGTERM) == before  # the runner's handler lives as long as the run
