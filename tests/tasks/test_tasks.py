"""The task definitions (runner/tasks): what is derived from them holds together, and the hooks that
replace per-task branches do what each task needs."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from runner.models.tiny import ARCHS
from runner.core.paths import PACKAGE_DIR, SCHEMA_DIR
from runner.tasks import ALIASES, MODALITIES, TASKS, Task, canonical_task_id
from runner.tasks.base import DATA


def test_every_task_has_its_parameter_schema():
    for task in TASKS:
        schema = json.loads((SCHEMA_DIR / "tasks" / f"{task}.schema.json").read_text())
        assert schema["$id"] == f"tasks/{task}.schema.json"
        assert schema.get("additionalProperties") is False, task


def test_aliases_name_one_task_each_and_shadow_none():
    names = [alias for task in TASKS.values() for alias in task.aliases]
    assert len(names) == len(set(names))
    assert not set(names) & set(TASKS)
    assert all(canonical_task_id(alias) == ALIASES[alias] for alias in names)


def test_inputs_have_known_modalities_and_the_tiny_arch_serves_the_task():
    for task in TASKS.values():
        assert set(task.inputs.values()) <= {*MODALITIES, DATA}, task.id
        assert set(task.optional_inputs) < set(task.inputs), task.id
        assert task.id in ARCHS[task.tiny_arch], task.id


def test_sample_columns_exist_in_the_sample_data():
    columns = set(json.loads((PACKAGE_DIR / "sample_data" / "samples.jsonl").read_text().splitlines()[0]))
    for task in TASKS.values():
        assert set(task.sample_columns) <= set(task.inputs), task.id
        assert set(task.sample_columns.values()) <= columns, task.id
        unmapped = [name for name in task.required_inputs if name not in task.sample_columns]
        assert set(unmapped) <= columns, f"{task.id}: no sample column for {unmapped}"


def test_ported_pipelines_exist():
    import importlib

    for task in TASKS.values():
        if task.port is not None:
            module = importlib.import_module(f"runner.tasks.pipelines.{task.port.module}")
            assert hasattr(module, task.port.pipeline_class), task.id


# -- hooks ----------------------------------------------------------------------------------------
def test_fill_mask_accepts_either_mask_spelling():
    pipe = SimpleNamespace(tokenizer=SimpleNamespace(mask_token="[MASK]"))
    task = TASKS["fill-mask"]
    assert task.pipeline_input({"text": "Paris is the <mask>."}, pipe, {}) == "Paris is the [MASK]."
    with pytest.raises(ValueError, match=r"no mask token.*\[MASK\]"):
        task.pipeline_input({"text": "no mask here"}, pipe, {})


def test_image_text_prompt_is_the_runners_own_parameter():
    task = TASKS["image-text-to-text"]
    call, own = task.split_params({"prompt": "Describe.", "max_new_tokens": 5})
    assert call == {"max_new_tokens": 5} and own == {"prompt": "Describe."}
    assert task.pipeline_input({"image": "img"}, None, own) == {"images": "img", "text": "Describe."}
    assert task.pipeline_input({"image": "img", "text": "Why?"}, None, own)["text"] == "Why?"


def test_translation_names_its_language_pair_the_way_each_version_reads_it():
    task = TASKS["translation"]
    assert task.pipeline_choice("translation", {"src_lang": "en", "tgt_lang": "fr"}) == ("translation_en_to_fr", {})
    assert task.pipeline_choice("runner-translation", {"src_lang": "en", "tgt_lang": "fr"}) == (
        "runner-translation",
        {"src_lang": "en", "tgt_lang": "fr"},
    )
    assert task.pipeline_choice("translation", {}) == ("translation", {})


def test_question_answering_keeps_one_output_per_input():
    def pipe(inputs, batch_size, **params):
        return {"answer": "x"} if len(inputs) == 1 else [{"answer": "x"}] * len(inputs)

    task = TASKS["question-answering"]
    assert task.call(pipe, "question-answering", [{"q": 1}], 1, {}) == [{"answer": "x"}]
    assert len(task.call(pipe, "question-answering", [{"q": 1}, {"q": 2}], 2, {})) == 2


def test_document_question_answering_checks_word_boxes():
    task = TASKS["document-question-answering"]
    row = task.pipeline_input({"question": "q", "word_boxes": '[["total", [1, 2, 3, 4]]]'}, None, {})
    assert row == {"question": "q", "word_boxes": [("total", [1, 2, 3, 4])]}
    with pytest.raises(ValueError, match="0..1000"):
        task.pipeline_input({"question": "q", "word_boxes": [["w", [1, 2, 3, 2000]]]}, None, {})
    with pytest.raises(ValueError, match="word_boxes or an image"):
        task.pipeline_input({"question": "q"}, None, {})


def test_generic_task_passes_rows_through():
    task = Task("demo", {"text": "text"}, {"label": "text"}, ("x", "y"), "gpt2")
    assert task.pipeline_input({"text": "hi"}, None, {}) == "hi"
    assert task.record_output({"label": "a"}, None) == {"label": "a"}
    assert task.lossy_settings(None, {}) == [] and not task.pads_left(None)


def test_whisper_chunking_is_flagged_as_lossy():
    whisper = SimpleNamespace(model=SimpleNamespace(config=SimpleNamespace(model_type="whisper")))
    task = TASKS["automatic-speech-recognition"]
    assert task.lossy_settings(whisper, {"chunk_length_s": 30}) and not task.lossy_settings(whisper, {})
