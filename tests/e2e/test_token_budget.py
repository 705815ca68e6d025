"""batching.max_tokens end to end: outputs and their order equal the unbatched run's (encoder tasks and
greedy generation), every forward pass the pipeline makes stays within the budget unless it holds a
single longer row, failing rows fail alone, and bad settings are config errors naming the key."""

from __future__ import annotations

import json
import random

import pytest

import runner
from runner.core.errors import ConfigError
from tests.conftest import read_jsonl, run_job

WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()
BUDGET = ["batch_size=16", "batching.sort_by_length=true", "batching.max_tokens=80"]


def _rows(path, count: int = 48) -> None:
    """Log-uniform lengths of 1-20 words (the tiny tokenizer makes ~4 tokens of a word: up to ~80 tokens)."""
    rng = random.Random(7)
    lines = []
    for i in range(count):
        words = round(20 ** rng.random())
        lines.append(json.dumps({"text": " ".join(WORDS[(i + k) % len(WORDS)] for k in range(words))}))
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def forward_shapes(monkeypatch):
    """(rows, tokens) of every batch the pipelines run, as their forward pass receives it."""
    from transformers.pipelines.base import Pipeline

    from runner.tasks import pooling
    from runner.tasks.pooling import token_states

    shapes: list[tuple[int, int]] = []
    forward = Pipeline.forward

    def recording(self, model_inputs, **params):
        shapes.append(tuple(model_inputs["input_ids"].shape))
        return forward(self, model_inputs, **params)

    def recording_states(pipe, encoded):  # feature-extraction's pooled path calls the model without Pipeline.forward
        shapes.append(tuple(encoded["input_ids"].shape))
        return token_states(pipe, encoded)

    monkeypatch.setattr(Pipeline, "forward", recording)
    monkeypatch.setattr(pooling, "token_states", recording_states)
    return shapes


def _run(tmp_path, name: str, *args: str) -> list[dict]:
    out = tmp_path / name
    result = run_job(
        *args,
        "model=tiny",
        "dataset=file",
        "dataset.path=rows.jsonl",
        "progress=false",
        f"hydra.run.dir={out}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    return read_jsonl(out / "predictions.jsonl")


def _assert_close(ours, theirs, path="output"):
    """Equal, except floats within 1e-5 (padding changes float rounding only)."""
    if isinstance(theirs, float):
        assert ours == pytest.approx(theirs, abs=1e-5), path
    elif isinstance(theirs, dict):
        assert ours.keys() == theirs.keys(), path
        for key in theirs:
            _assert_close(ours[key], theirs[key], f"{path}.{key}")
    elif isinstance(theirs, list):
        assert len(ours) == len(theirs), path
        for i, (a, b) in enumerate(zip(ours, theirs)):
            _assert_close(a, b, f"{path}[{i}]")
    else:
        assert ours == theirs, path


def _assert_within_budget(shapes, budget: int, reserved: int = 0) -> None:
    assert shapes
    for rows, tokens in shapes:
        assert rows == 1 or rows * (tokens + reserved) <= budget, (rows, tokens)
    # Not a vacuous pass: batches of several sizes, some of several rows.
    assert len({rows for rows, _ in shapes}) > 2 and max(rows for rows, _ in shapes) > 1, shapes


ZERO_SHOT_LABELS = "task.params.candidate_labels=[good,rather bad]"


@pytest.mark.parametrize(
    "task", ["text-classification", "feature-extraction", "token-classification", "zero-shot-classification"]
)
def test_encoder_outputs_and_order_equal_the_unbatched_run(tmp_path, task, forward_shapes):
    _rows(tmp_path / "rows.jsonl")
    # zero-shot: each row runs once per label, paired with its hypothesis; each forward's pairs, padded,
    # stay within the budget (so the packing counts the hypothesis too), which is larger for them
    zero_shot = task == "zero-shot-classification"
    params, budget = ([ZERO_SHOT_LABELS], 100) if zero_shot else ([], 80)
    plain = _run(tmp_path, "plain", f"+task={task}", "batch_size=1", *params)
    forward_shapes.clear()
    packed = _run(tmp_path, "packed", f"+task={task}", *BUDGET, *params, f"batching.max_tokens={budget}")
    _assert_within_budget(forward_shapes, budget)
    assert any(rows == 1 and tokens > budget for rows, tokens in forward_shapes)  # a row over the budget ran alone
    assert [p["index"] for p in packed] == list(range(48)) and [p["id"] for p in packed] == [p["id"] for p in plain]
    for ours, theirs in zip(packed, plain):
        _assert_close(ours["output"], theirs["output"])


def test_generation_pads_left_and_generates_the_unbatched_text(tmp_path, forward_shapes):
    _rows(tmp_path / "rows.jsonl")
    greedy = ["+task=text-generation", "task.params.max_new_tokens=6", "task.params.do_sample=false"]
    plain = _run(tmp_path, "plain", *greedy, "batch_size=1")
    forward_shapes.clear()
    packed = _run(
        tmp_path, "packed", *greedy, "batch_size=16", "batching.sort_by_length=true", "batching.max_tokens=300"
    )
    _assert_within_budget(forward_shapes, 300, reserved=6)  # each row grows by 6 generated tokens
    assert [p["index"] for p in packed] == list(range(48))
    assert [p["output"] for p in packed] == [p["output"] for p in plain]


def test_a_row_that_fails_fails_alone(tmp_path):
    _rows(tmp_path / "rows.jsonl", 24)
    lines = (tmp_path / "rows.jsonl").read_text().splitlines()
    lines[5] = json.dumps({"text": " ".join(["word"] * 700)})  # beyond the tiny model's 512 positions
    (tmp_path / "rows.jsonl").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    result = run_job(
        "+task=text-classification",
        *BUDGET,
        "model=tiny",
        "dataset=file",
        "dataset.path=rows.jsonl",
        "progress=false",
        f"hydra.run.dir={out}",
        cwd=tmp_path,
    )
    assert result.returncode == 4, result.stderr
    assert [e["index"] for e in read_jsonl(out / "errors.jsonl")] == [5]
    assert [p["index"] for p in read_jsonl(out / "predictions.jsonl")] == [i for i in range(24) if i != 5]


BAD = [
    (["batching.max_tokens=512", "batch_size=8"], "needs batching.sort_by_length=true"),
    (["batching.max_tokens=512", "batching.sort_by_length=true"], "batch_size=1 puts one row in every batch"),
    (["batching.max_tokens=0", "batching.sort_by_length=true", "batch_size=8"], "must be >= 1"),
    (["batching.max_tokens=1.5", "batching.sort_by_length=true", "batch_size=8"], "float"),
    (["batching.max_tokens=many", "batching.sort_by_length=true", "batch_size=8"], "many"),
]


@pytest.mark.parametrize("overrides,message", BAD, ids=[o[0] for o, _ in BAD])
def test_bad_settings_are_config_errors_naming_the_key(overrides, message):
    with pytest.raises(ConfigError) as caught:
        runner.compose(["+task=text-classification", *overrides])
    assert caught.value.key == "batching.max_tokens" and message in caught.value.render(), caught.value.render()


def test_a_run_with_no_text_step_cannot_take_a_budget():
    with pytest.raises(ConfigError) as caught:
        runner.compose(
            ["+task=image-classification", "batch_size=8", "batching.sort_by_length=true", "batching.max_tokens=512"]
        )
    assert caught.value.key == "batching.max_tokens" and "image-classification takes image" in caught.value.render()
    cfg = runner.compose(
        ["+task=sentiment", "batch_size=auto", "batching.sort_by_length=true", "batching.max_tokens=512"]
    )
    assert cfg["batching"]["max_tokens"] == 512


def test_a_config_error_exits_2(tmp_path):
    result = run_job("+task=text-classification", "batching.max_tokens=512", "batch_size=8", cwd=tmp_path)
    assert result.returncode == 2
