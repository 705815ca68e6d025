"""Every shipped config composes and validates; schemas, YAML and the task registry agree with each other
and with the installed transformers."""
from __future__ import annotations

import json

import pytest
import yaml

from runner.api import compose
from runner.config.search import ConfigSession
from runner.paths import CONF_DIR, SCHEMA_DIR
from runner.tasks import TASKS, canonical_task_id


def group_options(group: str) -> list[str]:
    return ConfigSession().options(group)


@pytest.mark.parametrize("task", group_options("task"))
def test_every_task_option_composes_and_validates(task):
    extra = ["task.params.candidate_labels=[a,b]"] if canonical_task_id(task) == "zero-shot-classification" else []
    cfg = compose([f"+task={task}", *extra])
    assert cfg["task"]["name"] == canonical_task_id(task)


@pytest.mark.parametrize("group", ["model", "dataset", "quantization", "output"])
def test_every_group_option_composes(group):
    required = {"file": ["dataset.path=x.csv"], "folder": ["dataset.path=x"], "hf": ["dataset.name=csv"],
                "inline": ["dataset.rows=[hello]"]}
    for option in group_options(group):
        cfg = compose(["+task=text-classification", f"{group}={option}", *required.get(option, [])])
        assert cfg[group]


def test_task_yaml_params_match_task_schemas():
    for task in TASKS:
        declared = yaml.safe_load((CONF_DIR / "task" / f"{task}.yaml").read_text())
        schema = json.loads((SCHEMA_DIR / "tasks" / f"{task}.schema.json").read_text())
        assert declared["name"] == task
        assert set(declared["params"]) == set(schema["properties"]), task


def test_alias_files_point_at_their_task():
    for spec in TASKS.values():
        for alias in spec.aliases:
            assert compose([f"+task={alias}"] + (["task.params.candidate_labels=[a]"] if spec.id == "zero-shot-classification" else []))["task"]["name"] == spec.id


def test_schema_task_list_is_the_registry():
    schema = json.loads((SCHEMA_DIR / "config.schema.json").read_text())
    assert schema["properties"]["task"]["properties"]["name"]["enum"] == sorted(TASKS)


def test_registry_agrees_with_installed_transformers():
    """Each task is a pipeline the installed transformers provides, or one the runner registers where it
    was removed; our pinned default model is transformers' own default for the task where it has one."""
    import transformers
    from transformers.pipelines import SUPPORTED_TASKS, get_supported_tasks

    from runner.tasks.pipelines import PROVIDED, register_missing

    # Our defaults are transformers 5's, and 4.x's for the tasks 5 removed.
    from_4x = {*PROVIDED, "image-to-text"}
    on_5x = transformers.__version__.startswith("5.")

    for spec in TASKS.values():
        if spec.id in PROVIDED:
            register_missing(spec.id)
        supported = set(get_supported_tasks())
        native = [t for t in spec.pipeline_task_candidates() if t in supported]
        assert native, f"{spec.id}: none of {spec.pipeline_task_candidates()} in transformers"
        if spec.id in SUPPORTED_TASKS and (on_5x or spec.id in from_4x):
            default = SUPPORTED_TASKS[spec.id]["default"]
            default = default.get(("en", "fr"), default)["model"]  # translation's defaults are per language pair
            default = default.get("pt", default) if isinstance(default, dict) else default
            assert tuple(default) == spec.default_model, spec.id
    supported = set(get_supported_tasks())
    # The modalities we support natively: every text/audio/image task we do not provide is a known gap.
    not_yet = {"any-to-any", "decision", "depth-estimation", "document-question-answering", "image-feature-extraction",
               "image-segmentation", "keypoint-matching", "mask-generation", "table-question-answering", "text-to-audio",
               "video-classification", "zero-shot-audio-classification", "zero-shot-image-classification",
               "zero-shot-object-detection", "text-to-speech", "image-to-image"}
    aliases = {"ner", "sentiment-analysis", "vqa"}  # 4.x lists its aliases too
    ours = {t for spec in TASKS.values() for t in spec.pipeline_task_candidates()}
    assert supported - ours - aliases <= not_yet, sorted(supported - ours - aliases - not_yet)


def test_schema_tiny_architectures_are_the_builders():
    from runner.models.tiny import ARCHS

    schema = json.loads((SCHEMA_DIR / "config.schema.json").read_text())
    assert set(schema["properties"]["model"]["properties"]["tiny"]["enum"]) == {*ARCHS, "auto", None}
