"""What every family of tiny builders shares: head labels, seeding, generation lengths, saving."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

# Labels the heads are built with.
SENTIMENT_LABELS = ("NEGATIVE", "POSITIVE")
NLI_LABELS = ("contradiction", "neutral", "entailment")
NER_LABELS = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG")
KEYWORD_LABELS = ("yes", "no", "up", "down")
IMAGE_LABELS = ("cat", "dog", "bird")
DETECTION_LABELS = ("person", "car", "dog")
VQA_LABELS = ("red", "green", "blue", "yes", "no")


def label_config(names) -> dict:
    """The id2label / label2id config arguments of a head with these labels, in this order."""
    id2label = {i: name for i, name in enumerate(names)}
    return {"id2label": id2label, "label2id": {name: i for i, name in id2label.items()}}


def seed_torch(seed: int) -> None:
    """Called right before a model is constructed, so its weights depend on the seed alone."""
    import torch

    torch.manual_seed(seed)


def task_generation_params(tasks, **params) -> dict:
    """`config.task_specific_params` that make transformers 4.x pipelines generate what 5.x does.

    A transformers 4.x generation pipeline starts from its own defaults (text-generation and
    image-to-text: max_new_tokens=256; text2text / summarization / translation: max_new_tokens=256,
    num_beams=4) and takes a value from the model's generation_config only where its default is the
    global one, so a saved max_new_tokens=8 or num_beams=1 is ignored there. 256 new tokens then run
    past the learned position embeddings (n_positions) and fail with "IndexError: index out of range
    in self". 4.x does apply `task_specific_params[task]` on top (real checkpoints such as t5-base and
    bart-large-cnn ship them); transformers 5 reads the generation_config instead and ignores them.
    (A max_length in the generation_config would also override the 4.x default, but next to
    max_new_tokens it makes every 5.x generate() log "Both `max_new_tokens` (=8) and `max_length`
    (=256) seem to have been set".)
    """
    return {task: dict(params) for task in tasks}


def image_processor_class(name: str):
    """transformers 5 without torchvision warns and falls back to the PIL backend; take it directly."""
    import transformers

    return getattr(transformers, f"{name}Pil", None) or getattr(transformers, name)


def save(out: Path, model, *components) -> None:
    """save_pretrained the model and its components into `out`; drop the scratch vocabulary.

    transformers 5 folds a processor's feature extractor / image processor into processor_config.json;
    they are also saved on their own (preprocessor_config.json), the layout transformers 4 reads.
    """
    model.eval()
    _save_model_quietly(model, out)
    for component in components:
        component.save_pretrained(str(out))
        if hasattr(component, "tokenizer") and not (out / "preprocessor_config.json").exists():
            _save_preprocessor_alone(component, out)
    portable_tokenizer_config(out / "tokenizer_config.json")
    shutil.rmtree(out / ".vocab", ignore_errors=True)


def _save_model_quietly(model, out: Path) -> None:
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # no "Writing model shards" bar for a 100 KB file
    try:
        model.save_pretrained(str(out))
    finally:
        if bars:
            hf_logging.enable_progress_bar()


def _save_preprocessor_alone(processor, out: Path) -> None:
    # image_processor first: on a 4.x ViltProcessor, `.feature_extractor` warns that it is deprecated
    for attr in ("image_processor", "feature_extractor"):
        part = getattr(processor, attr, None)
        if part is not None:
            part.save_pretrained(str(out))
            return


def portable_tokenizer_config(path: Path) -> None:
    """Make a transformers-5 tokenizer_config.json loadable by transformers 4.x too.

    5.x saves the additional special tokens (T5 sentinels, Whisper's <|...|> tokens, LLaVA's <image>)
    as a list under "extra_special_tokens"; 4.x reads that key as a dict of named tokens and fails
    with "AttributeError: 'list' object has no attribute 'keys'" (which `AutoTokenizer` reports as
    "ImportError: ... requires the protobuf library"). The older "additional_special_tokens" key means
    the same to both: 5.x converts it to "extra_special_tokens" when loading.
    """
    if not path.is_file():
        return
    config = json.loads(path.read_text(encoding="utf-8"))
    extra = config.get("extra_special_tokens")
    if not isinstance(extra, list):
        return
    config["additional_special_tokens"] = list(dict.fromkeys([*config.get("additional_special_tokens", []), *extra]))
    del config["extra_special_tokens"]
    path.write_text(json.dumps(config, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
