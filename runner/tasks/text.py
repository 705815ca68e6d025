"""Text in, labels / entities / embeddings / text out."""

from __future__ import annotations

from typing import Any

from runner.tasks.base import DATA, TEXT, Task
from runner.tasks.pooling import embed, pooling_for

MASK_SPELLINGS = ("<mask>", "[MASK]")


class TextGeneration(Task):
    def pads_left(self, model) -> bool:
        return not getattr(getattr(model, "config", None), "is_encoder_decoder", False)


class FillMask(Task):
    def pipeline_input(self, decoded: dict[str, Any], pipe, own: dict) -> Any:
        """Accept either common mask spelling, whatever the model's tokenizer calls its mask token."""
        text = decoded["text"]
        mask = pipe.tokenizer.mask_token
        for spelling in MASK_SPELLINGS:
            if spelling != mask:
                text = text.replace(spelling, mask)
        if mask not in text:
            raise ValueError(f"no mask token in the text (write {mask} where the model should fill in)")
        return text


class FeatureExtraction(Task):
    """One sentence vector per row, pooled as the model's sentence-transformers files say (tasks/pooling.py);
    `pooling=none`: the pipeline's per-token states, as transformers returns them."""

    def comparison(self) -> tuple[str, str | None]:
        return "vectors", None

    def call(self, pipe, pipeline_task: str, inputs: list, batch_size: int, params: dict) -> list:
        params = dict(params)
        pooling = pooling_for(pipe, params.pop("pooling", None), params.pop("normalize", None))
        if pooling is not None:
            return embed(pipe, inputs, batch_size, pooling, tokenizer_arguments(params))
        return self._per_token(pipe, pipeline_task, inputs, batch_size, params)

    def _per_token(self, pipe, pipeline_task: str, inputs: list, batch_size: int, params: dict) -> list:
        """Per-token embeddings of each row's own tokens. transformers returns a batched row's embeddings
        padded to its batch's longest row; cut them back, so a row's output is the same in any batch."""
        outputs = super().call(pipe, pipeline_task, inputs, batch_size, params)
        if batch_size <= 1 or len(inputs) <= 1:
            return outputs
        counts = [len(ids) for ids in pipe.tokenizer(list(inputs))["input_ids"]]
        left = pipe.tokenizer.padding_side == "left"
        return [_own_tokens(output, count, left) for output, count in zip(outputs, counts)]


def tokenizer_arguments(params: dict) -> dict:
    """The tokenizer's keyword arguments as the feature-extraction pipeline builds them from its parameters."""
    unknown = set(params) - {"truncation", "tokenize_kwargs"}
    if unknown:
        raise ValueError(
            f"feature-extraction does not take {', '.join(sorted(unknown))} with pooling; "
            "pooling=none passes parameters to the pipeline as they are"
        )
    kwargs = dict(params.get("tokenize_kwargs") or {})
    if params.get("truncation") is not None:
        if "truncation" in kwargs:
            raise ValueError("truncation is given twice: as task.params.truncation and in tokenize_kwargs")
        kwargs["truncation"] = params["truncation"]
    return kwargs


def _own_tokens(output, count: int, left: bool):
    """`output` ([1][tokens][hidden], a list or a tensor) cut to its row's `count` tokens; a truncated row
    (count above what the batch holds) keeps them all."""
    tokens = output[0]
    count = min(count, len(tokens))
    kept = tokens[len(tokens) - count :] if left else tokens[:count]
    return [kept] if isinstance(output, list) else kept.unsqueeze(0)


TASKS = [
    TextGeneration(
        "text-generation",
        {"text": TEXT},
        {"generated_text": TEXT},
        ("HuggingFaceTB/SmolLM3-3B", "a07cc9a"),
        "gpt2",
        aliases=("generate", "llm"),
        generative=True,
    ),
    Task(
        "text-classification",
        {"text": TEXT},
        {"label": TEXT, "score": DATA},
        ("distilbert/distilbert-base-uncased-finetuned-sst-2-english", "714eb0f"),
        "distilbert",
        aliases=("sentiment", "sentiment-analysis", "classify"),
    ),
    Task(
        "token-classification",
        {"text": TEXT},
        {"entities": DATA},
        ("dbmdz/bert-large-cased-finetuned-conll03-english", "4c53496"),
        "bert",
        aliases=("ner",),
    ),
    FillMask(
        "fill-mask",
        {"text": TEXT},
        {"token_str": TEXT, "sequence": TEXT, "score": DATA},
        ("distilbert/distilroberta-base", "fb53ab8"),
        "distilbert",
        sample_columns={"text": "masked_text"},
        unwraps_one=True,
    ),
    FeatureExtraction(
        "feature-extraction",
        {"text": TEXT},
        {"embedding": DATA},
        ("distilbert/distilbert-base-cased", "6ea8117"),
        "bert",
        aliases=("embeddings", "embed"),
    ),
    Task(
        "zero-shot-classification",
        {"text": TEXT},
        {"labels": DATA, "scores": DATA},
        ("facebook/bart-large-mnli", "d7645e1"),
        "distilbert_nli",
        aliases=("zero-shot",),
    ),
]
