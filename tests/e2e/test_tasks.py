"""Every task end-to-end on model=tiny, with real files, compared with plain `transformers.pipeline(...)`
on the same saved model and the same inputs. The runs go through the same job entry as `run` (app.run_job,
through runner.run with the command's override strings), in-process: the command's own behaviour (exit
codes, Hydra's run dir, sweeps) is tested in a subprocess in test_runs.py and test_sweeps.py."""

from __future__ import annotations

import csv
import math

import pytest

from runner.models.tiny import tiny_model_dir
import runner
from tests.conftest import read_jsonl, write_png, write_wav

TEXTS = [
    "I loved this film, truly.",
    "The service was slow and rude.",
    "Where is the station?",
    "Paris is lovely in spring.",
    "Nothing works today.",
]
MASKED = ["Paris is the [MASK] of France.", "I [MASK] this film.", "The cat sat on the [MASK]."]
QUESTIONS = ["What is this?", "Which color?", "Describe it."]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    with open(root / "texts.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "text"])
        writer.writerows([[f"t{i}", t] for i, t in enumerate(TEXTS)])
    (root / "masked.txt").write_text("\n".join(MASKED) + "\n")
    for i, freq in enumerate((300.0, 440.0, 660.0)):
        write_wav(root / "audio" / f"clip{i}.wav", 1.0 + 0.5 * i, 16000, freq)
    for i, color in enumerate(((200, 30, 30), (30, 200, 30), (30, 30, 200))):
        write_png(root / "images" / f"img{i}.png", (40 + 8 * i, 30 + 4 * i), color)
    with open(root / "vqa.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["image", "question"])
        writer.writerows([[f"images/img{i}.png", q] for i, q in enumerate(QUESTIONS)])
    return root


def assert_close(ours, theirs, path="output"):
    """Equal structure; equal strings; floats within 1e-5."""
    if isinstance(theirs, dict):
        assert isinstance(ours, dict) and set(ours) == set(theirs), f"{path}: keys {ours} vs {theirs}"
        for key in theirs:
            assert_close(ours[key], theirs[key], f"{path}.{key}")
    elif isinstance(theirs, (list, tuple)):
        assert isinstance(ours, list) and len(ours) == len(theirs), f"{path}: {ours!r} vs {theirs!r}"
        for i, (a, b) in enumerate(zip(ours, theirs)):
            assert_close(a, b, f"{path}[{i}]")
    elif isinstance(theirs, float) and not isinstance(theirs, bool):
        assert math.isclose(ours, theirs, rel_tol=1e-5, abs_tol=1e-5), f"{path}: {ours} vs {theirs}"
    else:
        assert ours == theirs, f"{path}: {ours!r} vs {theirs!r}"


def plain(value):
    from runner.engine.pipeline_step import to_jsonable

    return to_jsonable(value)


def audio_paths(data):
    return [str(data / "audio" / f"clip{i}.wav") for i in range(3)]


def image_paths(data):
    return [str(data / "images" / f"img{i}.png") for i in range(3)]


def load_image(path):
    from PIL import Image

    return Image.open(path).convert("RGB")


def read_audio(path):
    import soundfile

    array, rate = soundfile.read(path, dtype="float32")
    return {"raw": array, "sampling_rate": rate}


# task -> (CLI dataset overrides, task param overrides, params for the plain pipeline, plain call)
CASES = {
    "text-generation": (
        # greedy: transformers 4.57's text-generation samples by default
        ["dataset=file", "dataset.path=texts.csv", "dataset.id_column=id"],
        ["task.params.max_new_tokens=5", "task.params.do_sample=false"],
        lambda p, d: p(TEXTS, batch_size=2, max_new_tokens=5, do_sample=False),
    ),
    "text-classification": (
        ["dataset=file", "dataset.path=texts.csv", "dataset.id_column=id"],
        ["task.params.top_k=2"],
        lambda p, d: p(TEXTS, batch_size=2, top_k=2),
    ),
    "token-classification": (
        ["dataset=file", "dataset.path=texts.csv", "dataset.id_column=id"],
        ["task.params.aggregation_strategy=simple"],
        lambda p, d: p(TEXTS, batch_size=2, aggregation_strategy="simple"),
    ),
    "fill-mask": (
        ["dataset=file", "dataset.path=masked.txt"],
        ["task.params.top_k=3"],
        lambda p, d: p(MASKED, batch_size=2, top_k=3),
    ),
    "feature-extraction": (  # pooling=none: the pipeline's per-token states (pooled vectors: tests/tasks/test_pooling.py).
        # Raw one row at a time: batched, transformers pads a row's token embeddings to its batch's longest row,
        # and the runner cuts them back to the row's own tokens (any batch gives the same)
        ["dataset=file", "dataset.path=texts.csv", "dataset.id_column=id"],
        ["task.params.pooling=none"],
        lambda p, d: p(TEXTS, batch_size=1),
    ),
    "zero-shot-classification": (
        ["dataset=file", "dataset.path=texts.csv", "dataset.id_column=id"],
        ["task.params.candidate_labels=[sports,politics,cooking]"],
        lambda p, d: p(TEXTS, batch_size=2, candidate_labels=["sports", "politics", "cooking"]),
    ),
    "automatic-speech-recognition": (
        ["dataset=folder", "dataset.path=audio"],
        ["task.params.return_timestamps=true"],
        lambda p, d: p([read_audio(a) for a in audio_paths(d)], batch_size=2, return_timestamps=True),
    ),
    "audio-classification": (
        ["dataset=folder", "dataset.path=audio"],
        ["task.params.top_k=2"],
        lambda p, d: p([read_audio(a) for a in audio_paths(d)], batch_size=2, top_k=2),
    ),
    "image-classification": (
        ["dataset=folder", "dataset.path=images"],
        ["task.params.top_k=2"],
        lambda p, d: p(image_paths(d), batch_size=2, top_k=2),
    ),
    "image-to-text": (
        ["dataset=folder", "dataset.path=images"],
        ["task.params.max_new_tokens=5"],
        lambda p, d: (
            p(images=image_paths(d), text=[""] * 3, batch_size=2, max_new_tokens=5)  # transformers 5
            if p.task == "image-text-to-text"
            else p(image_paths(d), batch_size=2, max_new_tokens=5)
        ),
    ),
    "image-text-to-text": (
        ["dataset=file", "dataset.path=vqa.csv", "dataset.fields.text=question"],
        ["task.params.max_new_tokens=5"],
        lambda p, d: p(
            text=[
                [{"role": "user", "content": [{"type": "image", "image": load_image(i)}, {"type": "text", "text": q}]}]
                for i, q in zip(image_paths(d), QUESTIONS)
            ],
            batch_size=2,
            max_new_tokens=5,
        ),
    ),
    "object-detection": (
        ["dataset=folder", "dataset.path=images"],
        ["task.params.threshold=0.0"],
        lambda p, d: p(image_paths(d), batch_size=2, threshold=0.0),
    ),
}


def plain_pipeline(task: str):
    """transformers.pipeline on the same saved tiny model the runner used, under the native task id."""
    from transformers import pipeline
    from transformers.pipelines import get_supported_tasks

    native = task if task in get_supported_tasks() else "image-text-to-text"  # image-to-text on transformers 5
    return pipeline(native, model=str(tiny_model_dir(task, "auto", seed=0)), device="cpu")


@pytest.mark.parametrize("task", list(CASES))
def test_task_runs_and_matches_plain_pipeline(task, data, tmp_path, monkeypatch):
    dataset, params, call_plain = CASES[task]
    out = tmp_path / "out"
    monkeypatch.chdir(data)  # the dataset paths are relative, as a user in their data folder writes them
    runner.run(
        [f"+task={task}", "model=tiny", "batch_size=2", "device=cpu", "progress=false", *dataset, *params],
        output_dir=out,
    )
    predictions = read_jsonl(out / "predictions.jsonl")
    assert read_jsonl(out / "errors.jsonl") == []

    expected = plain(list(call_plain(plain_pipeline(task), data)))
    assert len(predictions) == len(expected) > 0
    for prediction, want in zip(predictions, expected):
        assert_close(prediction["output"], want, f"{task}[{prediction['id']}]")

    metrics = __import__("json").loads((out / "metrics.json").read_text())
    assert metrics["rows_in"] == metrics["rows_out"] == len(expected)
    assert metrics["rows_error"] == 0 and metrics["items_per_second"] > 0
