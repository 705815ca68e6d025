"""runner.bench.agreement: each kind of comparison on outputs shaped as predictions.jsonl holds them."""

import math

import pytest

from runner.bench.agreement import against_references, compare, cosine, top_value
from runner.tasks import TASKS


def test_vectors_mean_and_min_cosine():
    reference = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
    candidate = [[1.0, 0.0], [1.0, 0.0], [2.0, 2.0]]  # same, orthogonal, same direction
    result = compare("vectors", None, reference, candidate)
    assert result["rows"] == 3
    assert result["min_cosine"] == pytest.approx(0.0)
    assert result["mean_cosine"] == pytest.approx(2 / 3)
    assert result["agreement"] == result["mean_cosine"]


def test_per_token_vectors_compare_flattened_and_a_shape_change_is_zero():
    assert cosine([[[1.0, 2.0], [3.0, 4.0]]], [[[1.0, 2.0], [3.0, 4.0]]]) == pytest.approx(1.0)
    assert cosine([[[1.0, 2.0]]], [[[1.0, 2.0], [3.0, 4.0]]]) == 0.0
    assert cosine([0.0, 0.0], [1.0, 0.0]) == 0.0


def test_labels_compare_the_top_label():
    reference = [[{"label": "POSITIVE", "score": 0.9}], [{"label": "NEGATIVE", "score": 0.8}]]
    candidate = [[{"label": "POSITIVE", "score": 0.7}], [{"label": "POSITIVE", "score": 0.6}]]
    result = compare("labels", "label", reference, candidate)
    assert result["agreement"] == 0.5 and result["label_agreement"] == 0.5


def test_zero_shot_top_label_is_the_first():
    assert top_value({"sequence": "x", "labels": ["b", "a"], "scores": [0.6, 0.4]}, "labels") == "b"


def test_text_is_one_minus_wer_with_exact_match_beside_it():
    reference = [{"text": "the cat sat on the mat"}, {"text": "hello world"}]
    candidate = [{"text": "the cat sat on a mat"}, {"text": "hello world"}]
    result = compare("text", "text", reference, candidate)
    assert result["wer"] == pytest.approx(1 / 8)
    assert result["agreement"] == pytest.approx(7 / 8)
    assert result["exact_match"] == 0.5


def test_exact_rounds_scores_and_missing_rows_are_counted():
    reference = [[{"entity": "PER", "score": 0.91234}], None, [{"entity": "LOC", "score": 0.5}]]
    candidate = [[{"entity": "PER", "score": 0.91211}], [{"entity": "PER"}], [{"entity": "ORG", "score": 0.5}]]
    result = compare("exact", None, reference, candidate)
    assert result["rows"] == 2 and result["rows_missing"] == 1
    assert result["agreement"] == 0.5


def test_nothing_to_compare_and_bad_input():
    assert compare("labels", "label", [None], [None])["agreement"] is None
    with pytest.raises(ValueError, match="allowed: labels, vectors, text, exact"):
        compare("cosine", None, [], [])
    with pytest.raises(ValueError, match="2 reference outputs but 1"):
        compare("labels", "label", [1, 2], [1])


def test_against_reference_column():
    outputs = [[{"label": "POSITIVE"}], [{"label": "NEGATIVE"}], None]
    assert against_references("labels", "label", ["POSITIVE", "POSITIVE", "NEGATIVE"], outputs) == {
        "rows": 2,
        "accuracy": 0.5,
    }
    assert against_references("text", "text", ["a b"], [{"text": "a c"}])["wer"] == pytest.approx(0.5)
    assert against_references("vectors", None, [[1.0]], [[1.0]]) is None


@pytest.mark.parametrize(
    "task_id, expected",
    [
        ("feature-extraction", ("vectors", None)),
        ("text-classification", ("labels", "label")),
        ("automatic-speech-recognition", ("text", "text")),
        ("zero-shot-classification", ("labels", "labels")),
        ("token-classification", ("exact", None)),
        ("summarization", ("text", "summary_text")),
    ],
)
def test_each_task_says_how_it_compares(task_id, expected):
    assert TASKS[task_id].comparison() == expected


def test_every_task_has_a_known_comparison():
    for task in TASKS.values():
        kind, _ = task.comparison()
        assert kind in ("labels", "vectors", "text", "exact"), task.id
    assert not math.isnan(cosine([1.0], [1.0]))
