"""Token-budget batching (`batching.max_tokens`): a window of rows cut into batches by padded tokens.

A batch is padded to its longest row, so its cost is rows x longest row's tokens. Sorted longest
first, a window is cut greedily: each batch starts at its longest row and takes the next (shorter)
rows while rows x that length stays within the budget and rows stay within batch_size. Short rows
then share large batches and long rows small ones; a row longer than the budget alone is a batch.
For a budget, cutting a sorted list this way gives the fewest batches (no batch could take a row
more without breaking one of the two limits).

Lengths are counted once per row, as the step's own tokenizer counts them (special tokens included),
from the prepared pipeline input; then reused for sorting and packing. A generating step also
reserves the tokens it will generate (max_new_tokens, or max_length when only that is set), since
those rows grow to that length inside the batch; a zero-shot step reserves its longest hypothesis,
since each row runs paired with every candidate label."""

from __future__ import annotations

from typing import Any, Sequence


def pack_by_tokens(lengths: Sequence[int], max_tokens: int, max_rows: int, reserved: int = 0) -> list[list[int]]:
    """Positions of `lengths` grouped into batches, longest rows first (ties in input order). A batch
    holds at most `max_rows` rows and rows x (its longest length + reserved) <= max_tokens, unless it
    is a single row longer than that."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    batches: list[list[int]] = []
    current: list[int] = []
    row_cost = 0  # the padded length of the current batch's rows: its first (longest) row's
    for position in order:
        if current and (len(current) >= max_rows or (len(current) + 1) * row_cost > max_tokens):
            batches.append(current)
            current = []
        if not current:
            row_cost = lengths[position] + reserved
        current.append(position)
    if current:
        batches.append(current)
    return batches


def token_lengths(pipe, inputs: list) -> list[int] | None:
    """Tokens of each prepared input as the pipeline's tokenizer counts them (special tokens
    included); None when the step has no tokenizer or an input holds no text (images, audio):
    such a step is batched by batch_size alone."""
    tokenizer = getattr(pipe, "tokenizer", None)
    if tokenizer is None:
        return None
    texts = [_texts_of(x) for x in inputs]
    if any(t is None for t in texts):
        return None
    flat = [text for parts in texts for text in parts]
    # One call for the whole window: a fast tokenizer encodes the batch in Rust, far cheaper than a forward pass.
    ids = tokenizer(flat, add_special_tokens=True)["input_ids"] if flat else []
    lengths, start = [], 0
    for parts in texts:
        lengths.append(sum(len(i) for i in ids[start : start + len(parts)]))
        start += len(parts)
    return lengths


def reserved_tokens(pipe, params: dict, generative: bool) -> int:
    """The tokens each row of a generating step may grow by (0 for other tasks): max_new_tokens or
    max_length as the user set them (the call's params, then the pipeline's own), else the model's
    generation config, else the pipeline's default (transformers 5: max_new_tokens=256)."""
    if not generative:
        return 0
    model_config = getattr(getattr(pipe, "model", None), "generation_config", None)
    given = [params, getattr(pipe, "_generate_kwargs", None) or {}]
    configs = [vars(c) for c in (getattr(pipe, "generation_config", None), model_config) if c is not None]
    defaults = [getattr(pipe, "_generation_defaults", None) or {}]
    for sources, names in (
        (given, ("max_new_tokens", "max_length")),
        (configs + defaults, ("max_new_tokens",)),
        (configs, ("max_length",)),
    ):
        for name in names:
            for source in sources:
                if source.get(name):
                    return int(source[name])
    return 0


def pair_tokens(pipe, params: dict) -> int:
    """Tokens a zero-shot step adds to each row (0 for other steps): it runs every row once per candidate
    label, as the pair (row, hypothesis), so each forward pass is padded to row + the longest hypothesis
    (and the pair's separators). Measured with the step's tokenizer as the pair's length minus the row's."""
    labels = params.get("candidate_labels")
    tokenizer = getattr(pipe, "tokenizer", None)
    if not labels or tokenizer is None:
        return 0
    if isinstance(labels, str):
        labels = [label.strip() for label in labels.split(",") if label.strip()]
    template = params.get("hypothesis_template") or "This example is {}."
    alone = len(tokenizer("x", add_special_tokens=True)["input_ids"])
    return max(
        len(tokenizer("x", template.format(label), add_special_tokens=True)["input_ids"]) - alone for label in labels
    )


def _texts_of(value: Any) -> list[str] | None:
    """The text parts of one prepared input: a string, or a mapping of strings (question answering's
    question and context); None for anything else."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict) and value and all(isinstance(v, str) for v in value.values()):
        return list(value.values())
    return None
