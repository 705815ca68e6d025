"""What each task consumes and produces. Static data: importing this module imports no ML library.

A task's `inputs` name the fields a row must provide and their modality; `produces` names the
fields its output offers to a later step. `default_model` is the model transformers itself picks
for the task (the HF tutorial's "each task has a default model"), pinned with its revision.
"""
from __future__ import annotations

from dataclasses import dataclass, field

TEXT, AUDIO, IMAGE = "text", "audio", "image"
MODALITIES = (TEXT, AUDIO, IMAGE)
# Structured outputs (scores, entity lists, embeddings, boxes): a later step cannot take them as text.
DATA = "data"


@dataclass(frozen=True)
class TaskSpec:
    id: str
    inputs: dict[str, str]  # field name -> modality; the pipeline's positional input comes first
    produces: dict[str, str]  # output field -> modality
    default_model: tuple[str, str]  # (hub id, revision)
    tiny_arch: str  # the architecture `model=tiny` builds for this task
    aliases: tuple[str, ...] = ()
    optional_inputs: tuple[str, ...] = ()
    # transformers task ids to try, in order, when building the pipeline (a task may be renamed).
    pipeline_tasks: tuple[str, ...] = field(default=())

    @property
    def primary_input(self) -> str:
        return next(iter(self.inputs))

    @property
    def required_inputs(self) -> list[str]:
        return [name for name in self.inputs if name not in self.optional_inputs]

    def pipeline_task_candidates(self) -> tuple[str, ...]:
        return self.pipeline_tasks or (self.id,)


TASKS: dict[str, TaskSpec] = {
    spec.id: spec
    for spec in [
        TaskSpec(
            "text-generation", {"text": TEXT}, {"generated_text": TEXT},
            ("HuggingFaceTB/SmolLM3-3B", "a07cc9a"), "gpt2", aliases=("generate", "llm"),
        ),
        TaskSpec(
            "text-classification", {"text": TEXT}, {"label": TEXT, "score": DATA},
            ("distilbert/distilbert-base-uncased-finetuned-sst-2-english", "714eb0f"), "distilbert",
            aliases=("sentiment", "sentiment-analysis", "classify"),
        ),
        TaskSpec(
            "token-classification", {"text": TEXT}, {"entities": DATA},
            ("dbmdz/bert-large-cased-finetuned-conll03-english", "4c53496"), "bert",
            aliases=("ner",),
        ),
        TaskSpec(
            "fill-mask", {"text": TEXT}, {"token_str": TEXT, "sequence": TEXT, "score": DATA},
            ("distilbert/distilroberta-base", "fb53ab8"), "distilbert",
        ),
        TaskSpec(
            "feature-extraction", {"text": TEXT}, {"embedding": DATA},
            ("distilbert/distilbert-base-cased", "6ea8117"), "bert", aliases=("embeddings", "embed"),
        ),
        TaskSpec(
            "zero-shot-classification", {"text": TEXT}, {"labels": DATA, "scores": DATA},
            ("facebook/bart-large-mnli", "d7645e1"), "distilbert_nli", aliases=("zero-shot",),
        ),
        TaskSpec(
            "automatic-speech-recognition", {"audio": AUDIO}, {"text": TEXT, "chunks": DATA},
            ("facebook/wav2vec2-base-960h", "22aad52"), "whisper", aliases=("asr", "speech-to-text"),
        ),
        TaskSpec(
            "audio-classification", {"audio": AUDIO}, {"label": TEXT, "score": DATA},
            ("superb/wav2vec2-base-superb-ks", "372e048"), "wav2vec2_cls",
        ),
        TaskSpec(
            "image-classification", {"image": IMAGE}, {"label": TEXT, "score": DATA},
            ("google/vit-base-patch16-224", "3f49326"), "vit",
        ),
        TaskSpec(
            # transformers 5 folded image-to-text into image-text-to-text (which also takes the
            # vision-encoder-decoder captioners); 4.x still has the original pipeline.
            "image-to-text", {"image": IMAGE}, {"generated_text": TEXT},
            ("ydshieh/vit-gpt2-coco-en", "5bebf1e"), "vit_gpt2", aliases=("caption", "captioning"),
            pipeline_tasks=("image-to-text", "image-text-to-text"),
        ),
        TaskSpec(
            "image-text-to-text", {"image": IMAGE, "text": TEXT}, {"generated_text": TEXT},
            ("Qwen/Qwen3-VL-2B-Instruct", "8964489"), "llava", aliases=("vlm",),
            optional_inputs=("text",),
        ),
        # transformers 5 removed the next five pipelines; the runner provides them itself there
        # (runner/tasks/pipelines/), registered under "runner-<task>", and uses the native ones on 4.x.
        TaskSpec(
            "summarization", {"text": TEXT}, {"summary_text": TEXT},
            ("sshleifer/distilbart-cnn-12-6", "a4f8f3e"), "bart", aliases=("summarize",),
            pipeline_tasks=("summarization", "runner-summarization"),
        ),
        TaskSpec(
            "translation", {"text": TEXT}, {"translation_text": TEXT},
            ("google-t5/t5-base", "a9723ea"), "t5", aliases=("translate",),
            pipeline_tasks=("translation", "runner-translation"),
        ),
        TaskSpec(
            "text2text-generation", {"text": TEXT}, {"generated_text": TEXT},
            ("google-t5/t5-base", "a9723ea"), "t5", aliases=("text2text",),
            pipeline_tasks=("text2text-generation", "runner-text2text-generation"),
        ),
        TaskSpec(
            "question-answering", {"question": TEXT, "context": TEXT}, {"answer": TEXT, "score": DATA},
            ("distilbert/distilbert-base-cased-distilled-squad", "564e9b5"), "distilbert_qa", aliases=("qa",),
            pipeline_tasks=("question-answering", "runner-question-answering"),
        ),
        TaskSpec(
            "visual-question-answering", {"image": IMAGE, "question": TEXT}, {"answer": TEXT, "score": DATA},
            ("dandelin/vilt-b32-finetuned-vqa", "d0a1f6a"), "vilt", aliases=("vqa",),
            pipeline_tasks=("visual-question-answering", "runner-visual-question-answering"),
        ),
        TaskSpec(
            "object-detection", {"image": IMAGE}, {"boxes": DATA},
            ("facebook/detr-resnet-50", "1d5f47b"), "yolos", aliases=("detection",),
        ),
    ]
}

ALIASES: dict[str, str] = {alias: spec.id for spec in TASKS.values() for alias in spec.aliases}


def canonical_task_id(name: str) -> str | None:
    """The task id for a task id or alias, or None when neither."""
    if name in TASKS:
        return name
    return ALIASES.get(name)


def all_task_names() -> list[str]:
    return sorted([*TASKS, *ALIASES])


def get_task(name: str) -> TaskSpec:
    return TASKS[canonical_task_id(name) or name]
