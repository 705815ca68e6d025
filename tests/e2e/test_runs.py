"""Run-level behaviour: outputs and records, bad rows, long audio, quantization, failures. The command's own
behaviour (Hydra's run dir, exit code and one-line error, its flags) runs `run` in a subprocess; the rest
goes through the same job entry in-process (conftest.run_job)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import read_jsonl, run_cli, run_job, write_wav


def test_sample_run_writes_every_output(tmp_path):
    out = tmp_path / "out"
    result = run_cli("+task=sentiment", "model=tiny", f"hydra.run.dir={out}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    predictions = read_jsonl(out / "predictions.jsonl")
    assert [p["id"] for p in predictions] == list(range(6))
    assert predictions[0]["input"]["text"].startswith("I loved this film")
    assert set(predictions[0]["output"]) == {"label", "score"}

    metrics = json.loads((out / "metrics.json").read_text())
    for key in (
        "rows_in",
        "rows_out",
        "rows_error",
        "model_load_seconds",
        "inference_seconds",
        "items_per_second",
        "peak_rss_mb",
    ):
        assert key in metrics
    assert metrics["task"] == "text-classification" and metrics["model_origin"] == "tiny"

    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "ok" and record["seed"] == 0
    assert record["versions"]["transformers"] and record["versions"]["torch"]
    assert set(record["git"]) == {"commit", "dirty"}
    assert record["command"][1:3] == ["+task=sentiment", "model=tiny"]
    assert record["config"]["task"]["name"] == "text-classification"
    assert len(record["config_hash"]) == 64 and len(record["predictions_sha256"]) == 64
    assert (out / ".hydra" / "config.yaml").is_file() and (out / "run.log").is_file()
    assert "done: 6 rows" in result.stderr


def test_same_seed_gives_identical_predictions(tmp_path):
    for name in ("a", "b"):
        result = run_job(
            "+task=text-generation",
            "model=tiny",
            "task.params.max_new_tokens=4",
            "dataset.limit=2",
            f"hydra.run.dir={tmp_path / name}",
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr
    assert (tmp_path / "a" / "predictions.jsonl").read_bytes() == (tmp_path / "b" / "predictions.jsonl").read_bytes()


def test_unreadable_rows_are_reported_not_dropped(tmp_path):
    write_wav(tmp_path / "meetings" / "a.wav", 1.0)
    (tmp_path / "meetings" / "b.wav").write_bytes(b"RIFF\x00\x00garbage")
    write_wav(tmp_path / "meetings" / "c.wav", 1.0, rate=22050)  # resampled to 16 kHz by the runner
    out = tmp_path / "out"
    result = run_job(
        "+task=asr", "model=tiny", "dataset=folder", "dataset.path=meetings", f"hydra.run.dir={out}", cwd=tmp_path
    )
    assert result.returncode == 4, result.stderr  # one row of three failed, above max_error_fraction=0
    assert [p["id"] for p in read_jsonl(out / "predictions.jsonl")] == ["a.wav", "c.wav"]
    (error,) = read_jsonl(out / "errors.jsonl")
    assert error["id"] == "b.wav" and "cannot decode audio" in error["error"] and error["step"] == "main"
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["rows_in"], metrics["rows_out"], metrics["rows_error"]) == (3, 2, 1)
    assert "1 errors" in result.stderr


def test_empty_text_rows_are_reported(tmp_path):
    (tmp_path / "d.jsonl").write_text('{"text": "fine"}\n{"text": "  "}\n{"text": 7}\n{"text": "also fine"}\n')
    out = tmp_path / "out"
    result = run_job(
        "+task=text-classification",
        "model=tiny",
        "dataset=file",
        "dataset.path=d.jsonl",
        "batch_size=4",
        f"hydra.run.dir={out}",
        cwd=tmp_path,
    )
    assert result.returncode == 4, result.stderr  # two rows of four failed: above max_error_fraction=0
    assert [p["id"] for p in read_jsonl(out / "predictions.jsonl")] == [0, 3]
    assert [(e["id"], e["error"]) for e in read_jsonl(out / "errors.jsonl")] == [
        (1, "ValueError: empty text"),
        (2, "ValueError: expected text, got int: 7"),
    ]


def test_long_clip_whisper_long_form_with_timestamps(tmp_path):
    write_wav(tmp_path / "long" / "talk.wav", 45.0)
    out = tmp_path / "out"
    result = run_job(
        "+task=asr",
        "model=tiny",
        "dataset=folder",
        "dataset.path=long",
        "task.params.return_timestamps=true",
        f"hydra.run.dir={out}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    (prediction,) = read_jsonl(out / "predictions.jsonl")
    assert isinstance(prediction["output"]["text"], str)
    assert all(len(chunk["timestamp"]) == 2 for chunk in prediction["output"]["chunks"])


def test_whisper_with_chunk_length_warns_about_lost_text(tmp_path):
    write_wav(tmp_path / "clips" / "a.wav", 2.0)
    result = run_job(
        "+task=asr",
        "model=tiny",
        "dataset=folder",
        "dataset.path=clips",
        "task.params.chunk_length_s=30",
        f"hydra.run.dir={tmp_path / 'out'}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "chunk_length_s with Whisper" in result.stderr and "long-form" in result.stderr


def test_long_clip_ctc_chunked_matches_plain_pipeline(tmp_path):
    from transformers import pipeline

    from runner.models.tiny import tiny_model_dir
    from tests.e2e.test_tasks import assert_close, plain, read_audio

    clip = write_wav(tmp_path / "long" / "talk.wav", 40.0)
    out = tmp_path / "out"
    result = run_job(
        "+task=asr",
        "model=tiny",
        "model.tiny=wav2vec2",
        "dataset=folder",
        "dataset.path=long",
        "task.params.chunk_length_s=10",
        "task.params.stride_length_s=2",
        f"hydra.run.dir={out}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    (prediction,) = read_jsonl(out / "predictions.jsonl")
    raw = pipeline(
        "automatic-speech-recognition", model=str(tiny_model_dir("automatic-speech-recognition", "wav2vec2"))
    )
    assert_close(prediction["output"], plain(raw(read_audio(str(clip)), chunk_length_s=10, stride_length_s=2)))


@pytest.mark.parametrize("mode", ["8bit", "4bit"])
def test_bitsandbytes_quantization_runs_on_cpu(tmp_path, mode):
    pytest.importorskip("bitsandbytes")
    out = tmp_path / "out"
    result = run_job(
        "+task=text-generation",
        "model=tiny",
        f"quantization={mode}",
        "task.params.max_new_tokens=3",
        "dataset.limit=2",
        "batch_size=2",
        f"hydra.run.dir={out}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    predictions = read_jsonl(out / "predictions.jsonl")
    assert len(predictions) == 2 and all(isinstance(p["output"][0]["generated_text"], str) for p in predictions)
    record = json.loads((out / "run.json").read_text())
    assert record["config"]["quantization"]["mode"] == mode


def test_missing_model_offline_fails_with_one_line_and_a_hint(tmp_path):
    out = tmp_path / "out"
    result = run_cli(
        "+task=text-classification", "model.id=someone/not-cached-model", f"hydra.run.dir={out}", cwd=tmp_path
    )
    assert result.returncode == 1
    assert "error: model 'someone/not-cached-model': cannot load it" in result.stderr
    assert "hint:" in result.stderr and "Traceback" not in result.stderr
    assert "Traceback" in (out / "run.log").read_text()
    assert json.loads((out / "run.json").read_text())["status"] == "error"


def test_hydra_flags_keep_working(tmp_path):
    result = run_cli("+task=asr", "--cfg", "job", cwd=tmp_path)
    assert result.returncode == 0
    assert "name: automatic-speech-recognition" in result.stdout and "return_timestamps: null" in result.stdout


def test_python_api_runs_a_job(tmp_path):
    from runner.api import compose, run

    cfg = compose(["+task=ner", "model=tiny"])
    assert cfg["task"]["name"] == "token-classification"
    result = run(
        ["+task=ner", "model=tiny", "dataset=inline", "dataset.rows=[Ada lives in Paris]", "progress=false"],
        output_dir=tmp_path / "api",
    )
    assert result.metrics["rows_out"] == 1
    assert result.predictions[0]["input"] == {"text": "Ada lives in Paris"}
    assert isinstance(result.predictions[0]["output"], list)
