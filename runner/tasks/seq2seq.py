"""Text to text with encoder-decoder models, and extractive question answering.

transformers 5 removed these pipelines; the runner provides them there (tasks/pipelines/), registered
under "runner-<task>", and uses the native ones on 4.x.
"""

from __future__ import annotations

from runner.tasks.base import DATA, TEXT, Port, Task

SEQ2SEQ_LM = "AutoModelForSeq2SeqLM"


class Translation(Task):
    def pipeline_choice(self, task_name: str, params: dict) -> tuple[str, dict]:
        src, tgt = params.get("src_lang"), params.get("tgt_lang")
        if not (src and tgt):
            return task_name, {}
        if task_name == "translation":  # 4.x reads the language pair (and T5's prompt for it) from the task name
            return f"translation_{src}_to_{tgt}", {}
        return task_name, {"src_lang": src, "tgt_lang": tgt}


def _ported(task_id: str) -> tuple[str, str]:
    return task_id, f"runner-{task_id}"


TASKS = [
    Task(
        "summarization",
        {"text": TEXT},
        {"summary_text": TEXT},
        ("sshleifer/distilbart-cnn-12-6", "a4f8f3e"),
        "bart",
        aliases=("summarize",),
        pipeline_tasks=_ported("summarization"),
        generative=True,
        port=Port("seq2seq", "SummarizationPipeline", SEQ2SEQ_LM),
    ),
    Translation(
        "translation",
        {"text": TEXT},
        {"translation_text": TEXT},
        ("google-t5/t5-base", "a9723ea"),
        "t5",
        aliases=("translate",),
        pipeline_tasks=_ported("translation"),
        generative=True,
        load_params=("src_lang", "tgt_lang"),
        port=Port("seq2seq", "TranslationPipeline", SEQ2SEQ_LM),
    ),
    Task(
        "text2text-generation",
        {"text": TEXT},
        {"generated_text": TEXT},
        ("google-t5/t5-base", "a9723ea"),
        "t5",
        aliases=("text2text",),
        pipeline_tasks=_ported("text2text-generation"),
        generative=True,
        port=Port("seq2seq", "Text2TextPipeline", SEQ2SEQ_LM),
    ),
    Task(  # like 4.x's, our 5.x port gives one question's answer(s) back unwrapped
        "question-answering",
        {"question": TEXT, "context": TEXT},
        {"answer": TEXT, "score": DATA},
        ("distilbert/distilbert-base-cased-distilled-squad", "564e9b5"),
        "distilbert_qa",
        aliases=("qa",),
        pipeline_tasks=_ported("question-answering"),
        sample_columns={"question": "qa_question", "context": "context"},
        port=Port("question_answering", "QuestionAnsweringPipeline", "AutoModelForQuestionAnswering"),
        unwraps_one=True,
    ),
]
