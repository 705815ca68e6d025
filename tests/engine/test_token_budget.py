"""Token-budget packing (engine/budget.py) on lengths alone, and the counting it relies on with a real
tiny tokenizer and pipeline."""

from __future__ import annotations

import random

import pytest

from runner.engine.budget import pack_by_tokens, reserved_tokens, token_lengths


def _check_packing(lengths, max_tokens, max_rows, reserved=0):
    batches = pack_by_tokens(lengths, max_tokens, max_rows, reserved)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))  # every row once
    for batch in batches:
        longest = max(lengths[i] for i in batch)
        assert lengths[batch[0]] == longest  # a batch starts at its longest row
        assert len(batch) <= max_rows
        assert len(batch) == 1 or len(batch) * (longest + reserved) <= max_tokens, (batch, [lengths[i] for i in batch])
    # Greedy over the sorted rows: no batch could have taken the next batch's first row.
    for batch, following in zip(batches, batches[1:]):
        cost = lengths[batch[0]] + reserved
        assert len(batch) == max_rows or (len(batch) + 1) * cost > max_tokens
        assert lengths[following[0]] <= min(lengths[i] for i in batch)
    return batches


def test_short_rows_share_large_batches_long_rows_small_ones():
    lengths = [100, 5, 5, 50, 5, 5, 5, 50, 5, 100]
    batches = _check_packing(lengths, max_tokens=200, max_rows=64)
    # 4 x 50 fits 200: two short rows pad up to 50 beside the 50s; the rest go together (ties in input order)
    assert batches == [[0, 9], [3, 7, 1, 2], [4, 5, 6, 8]]


def test_a_row_longer_than_the_budget_is_a_batch_alone():
    batches = _check_packing([10, 500, 10, 300, 10], max_tokens=100, max_rows=8)
    assert batches[:2] == [[1], [3]] and batches[2] == [0, 2, 4]


def test_batch_size_caps_the_rows():
    assert _check_packing([3] * 10, max_tokens=1000, max_rows=4) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_reserved_tokens_count_in_every_row():
    # Generation: 4 rows of 10-token prompts growing by 15 cost 4 x 25 = 100.
    assert _check_packing([10] * 5, max_tokens=100, max_rows=64, reserved=15) == [[0, 1, 2, 3], [4]]


@pytest.mark.parametrize("seed", range(20))
def test_random_lengths_keep_every_limit(seed):
    rng = random.Random(seed)
    lengths = [round(2 * 200 ** rng.random()) for _ in range(rng.randint(0, 300))]
    _check_packing(
        lengths,
        max_tokens=rng.choice([1, 64, 300, 4096]),
        max_rows=rng.choice([1, 2, 16, 512]),
        reserved=rng.choice([0, 0, 20]),
    )


@pytest.fixture(scope="module")
def tiny_pipe():
    from runner.config.compose import compose_config
    from runner.backends.cache import PipelineCache
    from runner.plan import make_plan

    from runner.core.views import StepView

    plan = make_plan(compose_config(["+task=text-generation", "model=tiny", "batch_size=4"]))
    step = StepView.from_config(plan.steps["main"])
    from runner.tasks import TASKS

    loaded, _ = PipelineCache().get(step, TASKS["text-generation"])
    return loaded.pipe


def test_lengths_are_the_tokenizers_own(tiny_pipe):
    texts = ["alpha", "alpha beta gamma delta", "x" * 40]
    expected = [len(tiny_pipe.tokenizer(t)["input_ids"]) for t in texts]
    assert token_lengths(tiny_pipe, texts) == expected and len(set(expected)) == 3
    # A mapping of texts (question answering's question and context) counts all its parts.
    assert token_lengths(tiny_pipe, [{"question": texts[0], "context": texts[1]}]) == [expected[0] + expected[1]]
    assert token_lengths(tiny_pipe, ["alpha", {"image": object()}]) is None  # nothing to count: batch_size alone
    assert token_lengths(object(), ["alpha"]) is None  # no tokenizer


def test_generation_reserves_the_tokens_it_will_generate(tiny_pipe):
    assert reserved_tokens(tiny_pipe, {"max_new_tokens": 7}, generative=True) == 7
    assert reserved_tokens(tiny_pipe, {"max_new_tokens": 7}, generative=False) == 0
    # Nothing in the call: the model's generation config (the tiny build says 8) ...
    model_config = tiny_pipe.model.generation_config
    assert model_config.max_new_tokens == 8 and reserved_tokens(tiny_pipe, {}, generative=True) == 8
    # ... else the pipeline's own default, which transformers 5 applies when the model sets none.
    defaults = getattr(tiny_pipe, "_generation_defaults", None)
    if defaults is None:
        pytest.skip("transformers 4 keeps no pipeline generation defaults")
    model_config.max_new_tokens = None
    try:
        assert reserved_tokens(tiny_pipe, {}, generative=True) == defaults["max_new_tokens"] == 256
    finally:
        model_config.max_new_tokens = 8
