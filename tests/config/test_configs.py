"""Every shipped config composes and validates; schemas, YAML and the task registry agree with each other
and with the installed transformers."""

from __future__ import annotations

import json

import pytest

from runner.api import compose
from runner.config.search import ConfigSession
from runner.core.paths import SCHEMA_DIR
from runner.tasks import TASKS, canonical_task_id


def group_options(group: str) -> list[str]:
    return ConfigSession().options(group)


def required_params(task_id: str) -> list[str]:
    """Overrides for the parameters a task's schema requires (the zero-shot tasks' candidate_labels)."""
    schema = json.loads((SCHEMA_DIR / "tasks" / f"{task_id}.schema.json").read_text())
    return [f"task.params.{name}=[a,b]" for name in schema.get("required", [])]


@pytest.mark.parametrize("task", group_options("task"))
def test_every_task_option_composes_and_validates(task):
    cfg = compose([f"+task={task}", *required_params(canonical_task_id(task))])
    assert cfg["task"]["name"] == canonical_task_id(task)


@pytest.mark.parametrize("group", ["model", "dataset", "quantization", "output"])
def test_every_group_option_composes(group):
    required = {
        "file": ["dataset.path=x.csv"],
        "folder": ["dataset.path=x"],
        "hf": ["dataset.name=csv"],
        "inline": ["dataset.rows=[hello]"],
    }
    for option in group_options(group):
        cfg = compose(["+task=text-classification", f"{group}={option}", *required.get(option, [])])
        assert cfg[group]


def test_task_group_entries_hold_the_schema_parameters():
    """The task group is built from the task definitions: each entry carries every parameter of its schema, null."""
    session = ConfigSession()
    for task in TASKS:
        composed = session.compose([f"+task={task}"])
        schema = json.loads((SCHEMA_DIR / "tasks" / f"{task}.schema.json").read_text())
        assert composed.task.name == task
        assert list(composed.task.params) == list(schema["properties"]), task
        assert all(value is None for value in composed.task.params.values()), task


def test_a_users_task_preset_builds_on_a_derived_task(tmp_path):
    (tmp_path / "task").mkdir()
    (tmp_path / "task" / "people.yaml").write_text(
        "defaults:\n  - token-classification\n  - _self_\nparams:\n  aggregation_strategy: simple\n"
    )
    cfg = compose("people", config_dir=tmp_path)
    assert cfg["task"] == {"name": "token-classification", "params": {"aggregation_strategy": "simple"}}


def test_alias_files_point_at_their_task():
    for spec in TASKS.values():
        for alias in spec.aliases:
            assert compose([f"+task={alias}", *required_params(spec.id)])["task"]["name"] == spec.id


def test_schema_task_choices_come_from_the_registry():
    from runner.config.validate import config_schema

    assert (
        "enum"
        not in json.loads((SCHEMA_DIR / "config.schema.json").read_text())["properties"]["task"]["properties"]["name"]
    )
    assert config_schema()["properties"]["task"]["properties"]["name"]["enum"] == sorted(TASKS)


def test_registry_agrees_with_installed_transformers():
    """Each task is a pipeline the installed transformers provides, or one the runner registers where it
    was removed; our pinned default model is transformers' own default for the task where it has one."""
    import transformers
    from transformers.pipelines import SUPPORTED_TASKS, get_supported_tasks

    from runner.tasks.pipelines import register_missing

    # Our defaults are transformers 5's, and 4.x's for the tasks 5 removed.
    from_4x = {*(spec.id for spec in TASKS.values() if spec.port is not None), "image-to-text"}
    on_5x = transformers.__version__.startswith("5.")

    for spec in TASKS.values():
        if spec.port is not None:
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
    not_yet = {
        "any-to-any",
        "decision",
        "depth-estimation",
        "document-question-answering",
        "image-feature-extraction",
        "image-segmentation",
        "keypoint-matching",
        "mask-generation",
        "table-question-answering",
        "text-to-audio",
        "video-classification",
        "zero-shot-audio-classification",
        "zero-shot-image-classification",
        "zero-shot-object-detection",
        "text-to-speech",
        "image-to-image",
    }
    aliases = {"ner", "sentiment-analysis", "vqa"}  # 4.x lists its aliases too
    ours = {t for spec in TASKS.values() for t in spec.pipeline_task_candidates()}
    assert supported - ours - aliases <= not_yet, sorted(supported - ours - aliases - not_yet)


def test_schema_tiny_choices_come_from_the_builders():
    from runner.config.validate import config_schema
    from runner.core.errors import ConfigError
    from runner.models.tiny import ARCHS

    assert set(config_schema()["properties"]["model"]["properties"]["tiny"]["enum"]) == {*ARCHS, "auto", None}
    with pytest.raises(ConfigError) as raised:
        compose("ner", **{"model.tiny": "gpt3"})
    assert raised.value.key == "model.tiny" and "gpt2" in raised.value.hint
