"""The tasks added with the Task unit, each through runner.run on its tiny model, compared with plain
`transformers.pipeline(...)` on the same saved model and inputs. Media the runner writes to files
(masks, depth maps, audio) is read back and compared with what the plain pipeline returns."""

from __future__ import annotations

import json

import numpy as np
import pytest

import runner
from runner.models.tiny import tiny_model_dir
from tests.conftest import write_png
from tests.e2e.test_tasks import assert_close, plain

LABELS = ["cat", "dog", "car"]
WORD_BOXES = [
    [["invoice", [100, 100, 300, 180]], ["total", [350, 100, 550, 180]], ["12.50", [600, 100, 800, 180]]],
    [
        ["meeting", [100, 300, 300, 380]],
        ["room", [350, 300, 550, 380]],
        ["b", [600, 300, 800, 380]],
        ["monday", [100, 500, 300, 580]],
    ],
]
QUESTIONS = ["What is the total?", "Which room?"]
TEXTS = ["hello world", "a tiny voice says more words"]


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    paths = []
    for i, (size, color) in enumerate(
        (((40, 30), (200, 30, 30)), ((64, 48), (30, 200, 30)), ((50, 50), (30, 30, 200)))
    ):
        write_png(root / f"img{i}.png", size, color)
        paths.append(str(root / f"img{i}.png"))
    return paths


def pipeline_for(task: str):
    from transformers import pipeline

    return pipeline(task, model=str(tiny_model_dir(task, "auto", seed=0)), device="cpu")


def run_task(task: str, inputs, tmp_path, **config):
    result = runner.run(
        task,
        model="tiny",
        inputs=inputs,
        batch_size=2,
        device="cpu",
        progress=False,
        output_dir=tmp_path / task,
        **config,
    )
    assert result.errors == [] and len(result.predictions) == len(inputs)
    return result


def pixels(path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path))


def test_zero_shot_image_classification(images, tmp_path):
    result = run_task("zero-shot-image-classification", images, tmp_path, task_params={"candidate_labels": LABELS})
    expected = plain(pipeline_for("zero-shot-image-classification")(images, candidate_labels=LABELS))
    for prediction, want in zip(result.predictions, expected):
        assert_close(prediction["output"], want)


def test_zero_shot_object_detection(images, tmp_path):
    result = run_task(
        "zero-shot-object-detection", images, tmp_path, task_params={"candidate_labels": LABELS, "threshold": 0.0}
    )
    pipe = pipeline_for("zero-shot-object-detection")
    expected = [plain(pipe(image, candidate_labels=LABELS, threshold=0.0)) for image in images]
    assert any(expected), "the tiny OWL-ViT should find boxes at threshold 0"
    for prediction, want in zip(result.predictions, expected):
        assert_close(prediction["output"], want)


def test_image_segmentation_writes_each_mask(images, tmp_path):
    result = run_task("image-segmentation", images, tmp_path)
    expected = pipeline_for("image-segmentation")(images)
    for prediction, want in zip(result.predictions, expected):
        assert [(s["label"], s["score"]) for s in prediction["output"]] == [(s["label"], s["score"]) for s in want]
        for segment, plain_segment in zip(prediction["output"], want):
            assert segment["mask"].startswith("media/main/")
            assert np.array_equal(pixels(result.run_dir / segment["mask"]), np.asarray(plain_segment["mask"]))


def test_depth_estimation_writes_the_depth_map(images, tmp_path):
    result = run_task("depth-estimation", images, tmp_path)
    expected = pipeline_for("depth-estimation")(images)
    for prediction, want in zip(result.predictions, expected):
        output = prediction["output"]
        # Batched and single-image forward passes differ in the last float bits: a grey level at most.
        difference = pixels(result.run_dir / output["depth"]).astype(int) - np.asarray(want["depth"]).astype(int)
        assert np.abs(difference).max() <= 1
        depth = want["predicted_depth"]
        assert output["predicted_depth"]["shape"] == list(depth.shape)
        assert output["predicted_depth"]["max"] == pytest.approx(float(depth.max()), rel=1e-5)


def test_document_question_answering_reads_word_boxes(tmp_path):
    rows = [{"question": q, "word_boxes": json.dumps(boxes)} for q, boxes in zip(QUESTIONS, WORD_BOXES)]
    result = run_task("document-question-answering", rows, tmp_path)
    pipe = pipeline_for("document-question-answering")
    # One row at a time, unpadded: what the runner's padded batches must reproduce.
    expected = [
        plain(pipe({"question": q, "word_boxes": [(w, b) for w, b in boxes]}))
        for q, boxes in zip(QUESTIONS, WORD_BOXES)
    ]
    for prediction, want in zip(result.predictions, expected):
        assert_close(prediction["output"], want)


def test_document_question_answering_rejects_bad_word_boxes(tmp_path):
    result = runner.run(
        "document-question-answering",
        model="tiny",
        device="cpu",
        progress=False,
        inputs=[{"question": "q", "word_boxes": '[["w", [1, 2, 3]]]'}],
        output_dir=tmp_path / "bad",
    )
    assert result.predictions == []
    assert "4 coordinates" in result.errors[0]["error"]


def test_text_to_audio_writes_wav_files(tmp_path):
    import soundfile

    from runner.repro.determinism import seed_all

    result = run_task("text-to-audio", TEXTS, tmp_path)
    pipe = pipeline_for("text-to-audio")
    seed_all(0)  # VITS draws noise: the same seed as the run's, right before the first call
    expected = pipe(TEXTS, batch_size=1)
    for prediction, want in zip(result.predictions, expected):
        samples, rate = soundfile.read(result.run_dir / prediction["output"]["audio"], dtype="float32")
        assert rate == want["sampling_rate"] == prediction["output"]["sampling_rate"]
        assert np.allclose(samples, np.asarray(want["audio"]).squeeze(), atol=1e-6)
