"""Text in, labels / entities / embeddings / text out."""
from __future__ import annotations

from typing import Any

from runner.tasks.base import DATA, TEXT, Task

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
    def comparison(self) -> tuple[str, str | None]:
        return "vectors", None

    def call(self, pipe, pipeline_task: str, inputs: list, batch_size: int, params: dict) -> list:
        """Per-token embeddings of each row's own tokens. transformers returns a batched row's embeddings
        padded to its batch's longest row; cut them back, so a row's output is the same in any batch."""
        outputs = super().call(pipe, pipeline_task, inputs, batch_size, params)
        if batch_size <= 1 or len(inputs) <= 1:
            return outputs
        counts = [len(ids) for ids in pipe.tokenizer(list(inputs))["input_ids"]]
        left = pipe.tokenizer.padding_side == "left"
        return [_own_tokens(output, count, left) for output, count in zip(outputs, counts)]


def _own_tokens(output, count: int, left: bool):
    """`output` ([1][tokens][hidden], a list or a tensor) cut to its row's `count` tokens; a truncated row
    (count above what the batch holds) keeps them all."""
    tokens = output[0]
    count = min(count, len(tokens))
    kept = tokens[len(tokens) - count:] if left else tokens[:count]
    return [kept] if isinstance(output, list) else kept.unsqueeze(0)


TASKS = [
    TextGeneration(
        "text-generation", {"text": TEXT}, {"generated_text": TEXT},
        ("HuggingFaceTB/SmolLM3-3B", "a07cc9a"), "gpt2", aliases=("generate", "llm"), generative=True,
    ),
    Task(
        "text-classification", {"text": TEXT}, {"label": TEXT, "score": DATA},
        ("distilbert/distilbert-base-uncased-finetuned-sst-2-english", "714eb0f"), "distilbert",
        aliases=("sentiment", "sentiment-analysis", "classify"),
    ),
    Task(
        "token-classification", {"text": TEXT}, {"entities": DATA},
        ("dbmdz/bert-large-cased-finetuned-conll03-english", "4c53496"), "bert", aliases=("ner",),
    ),
    FillMask(
        "fill-mask", {"text": TEXT}, {"token_str": TEXT, "sequence": TEXT, "score": DATA},
        ("distilbert/distilroberta-base", "fb53ab8"), "distilbert", sample_columns={"text": "masked_text"},
        unwraps_one=True,
    ),
    FeatureExtraction(
        "feature-extraction", {"text": TEXT}, {"embedding": DATA},
        ("distilbert/distilbert-base-cased", "6ea8117"), "bert", aliases=("embeddings", "embed"),
    ),
    Task(
        "zero-shot-classification", {"text": TEXT}, {"labels": DATA, "scores": DATA},
        ("facebook/bart-large-mnli", "d7645e1"), "distilbert_nli", aliases=("zero-shot",),
    ),
]
