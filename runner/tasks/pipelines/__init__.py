"""Pipelines the runner provides where the installed transformers has none (transformers 5 removed them).

They plug in through transformers' public registry (`PIPELINE_REGISTRY.register_pipeline`), under
"runner-<task>" names: transformers 5 refuses the original names outright, even for registered
pipelines. On 4.x the native pipelines exist and are used instead; nothing is registered there.
Importing this package imports nothing heavy; `register_missing()` does.
"""
from __future__ import annotations

# task id -> (module, class, Auto model class name)
PROVIDED = {
    "summarization": ("seq2seq", "SummarizationPipeline", "AutoModelForSeq2SeqLM"),
    "translation": ("seq2seq", "TranslationPipeline", "AutoModelForSeq2SeqLM"),
    "text2text-generation": ("seq2seq", "Text2TextPipeline", "AutoModelForSeq2SeqLM"),
    "question-answering": ("question_answering", "QuestionAnsweringPipeline", "AutoModelForQuestionAnswering"),
    "visual-question-answering": ("visual_question_answering", "VisualQuestionAnsweringPipeline",
                                  "AutoModelForVisualQuestionAnswering"),
}
PREFIX = "runner-"


def registered_name(task_id: str) -> str:
    return PREFIX + task_id


def register_missing(task_id: str) -> str | None:
    """Register our pipeline for `task_id` when the installed transformers lacks one; return its name."""
    import importlib

    import transformers
    from transformers.pipelines import PIPELINE_REGISTRY, get_supported_tasks

    supported = set(get_supported_tasks())
    if task_id not in PROVIDED or task_id in supported:
        return None
    name = registered_name(task_id)
    if name not in supported:
        module_name, class_name, auto_class = PROVIDED[task_id]
        module = importlib.import_module(f"{__name__}.{module_name}")
        PIPELINE_REGISTRY.register_pipeline(
            name, pipeline_class=getattr(module, class_name), pt_model=getattr(transformers, auto_class),
            type="multimodal" if task_id == "visual-question-answering" else "text",
        )
    return name
