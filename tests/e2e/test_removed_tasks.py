"""The tasks transformers 5 removed, end to end through the CLI on the installed transformers.
(Their outputs are compared with transformers 4.57's native pipelines in tests/parity/.)"""

from __future__ import annotations

import json

import pytest

from tests.conftest import read_jsonl, run_job


@pytest.mark.parametrize(
    "task,params,key",
    [
        ("summarization", ["task.params.max_new_tokens=6"], "summary_text"),
        (
            "translation",
            ["task.params.src_lang=en", "task.params.tgt_lang=fr", "task.params.max_new_tokens=6"],
            "translation_text",
        ),
        ("text2text-generation", ["task.params.max_new_tokens=6"], "generated_text"),
    ],
)
def test_seq2seq_tasks_on_sample_text(tmp_path, task, params, key):
    out = tmp_path / "out"
    result = run_job(
        f"+task={task}", "model=tiny", "batch_size=2", "dataset.limit=3", *params, f"hydra.run.dir={out}", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    predictions = read_jsonl(out / "predictions.jsonl")
    assert len(predictions) == 3 and all(isinstance(p["output"][key], str) for p in predictions)


def test_t5_task_prompts_reach_the_model(tmp_path):
    """T5 keeps a prompt per task ("summarize: ", "translate English to French: "): the same model and
    inputs must give different outputs per task, or the prompt was lost."""
    texts = {}
    for task, params in (
        ("summarization", []),
        ("text2text-generation", []),
        ("translation", ["task.params.src_lang=en", "task.params.tgt_lang=fr"]),
    ):
        out = tmp_path / task
        result = run_job(
            f"+task={task}",
            "model=tiny",
            "model.tiny=t5",
            "dataset.limit=4",
            "task.params.max_new_tokens=6",
            *params,
            f"hydra.run.dir={out}",
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        texts[task] = [next(iter(p["output"].values())) for p in read_jsonl(out / "predictions.jsonl")]
    assert len({tuple(v) for v in texts.values()}) == 3, texts


def test_question_answering_on_sample_passages(tmp_path):
    out = tmp_path / "out"
    result = run_job("+task=qa", "model=tiny", "task.params.top_k=2", f"hydra.run.dir={out}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    for prediction in read_jsonl(out / "predictions.jsonl"):
        context = prediction["input"]["context"]
        assert len(prediction["output"]) == 2
        for answer in prediction["output"]:
            assert context[answer["start"] : answer["end"]] == answer["answer"] and 0 <= answer["score"] <= 1


def test_vqa_on_sample_images(tmp_path):
    out = tmp_path / "out"
    result = run_job(
        "+task=vqa", "model=tiny", "task.params.top_k=2", "batch_size=2", f"hydra.run.dir={out}", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    predictions = read_jsonl(out / "predictions.jsonl")
    assert len(predictions) == 6
    assert all([set(a) for a in p["output"]] == [{"score", "answer"}] * 2 for p in predictions)
    assert json.loads((out / "metrics.json").read_text())["rows_error"] == 0


def test_vqa_with_a_generative_model_routes_to_image_text_to_text(tmp_path):
    from runner.models.tiny import tiny_model_dir

    llava = tiny_model_dir("image-text-to-text", "llava")
    out = tmp_path / "out"
    result = run_job(
        "+task=vqa",
        f"model.id={llava}",
        "task.params.max_new_tokens=3",
        "dataset.limit=2",
        f"hydra.run.dir={out}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "answering through image-text-to-text" in result.stderr
    for prediction in read_jsonl(out / "predictions.jsonl"):
        (answer,) = prediction["output"]
        assert answer["pipeline"] == "image-text-to-text" and isinstance(answer["answer"], str)
    assert json.loads((out / "metrics.json").read_text())["pipeline_task"] == "image-text-to-text"
