"""Config files parsed once per process (runner.config.loader.ParsedFiles): compositions made from kept
files equal fresh ones, what one composition changes never reaches the next, an edited file is read again."""

from __future__ import annotations

import os

import pytest
from hydra._internal.config_repository import ConfigRepository
from hydra.core.object_type import ObjectType
from omegaconf import OmegaConf

from runner.config import loader
from runner.config.compose import compose_run
from runner.config.search import ConfigSearch, ConfigSession


@pytest.fixture
def fresh_cache(monkeypatch):
    """An empty cache, and a count of the YAML files Hydra's repository really loads (ConfigStore
    entries, such as Hydra's own structured configs, are never kept)."""
    monkeypatch.setattr(loader, "PARSED_FILES", loader.ParsedFiles())
    reads = []
    load = ConfigRepository.load_config

    def counted(self, config_path):
        source = self._find_object_source(config_path=config_path, object_type=ObjectType.CONFIG)
        if source is not None and source.scheme() in ("file", "pkg"):
            reads.append(config_path)
        return load(self, config_path)

    monkeypatch.setattr(ConfigRepository, "load_config", counted)
    return reads


@pytest.fixture
def user_conf(tmp_path):
    conf = tmp_path / "conf"
    (conf / "model").mkdir(parents=True)
    (conf / "model" / "mine.yaml").write_text("defaults:\n  - default\n  - _self_\nname: mine\ntiny: auto\n")
    return conf


def _hydra_yaml(session: ConfigSession, overrides: list[str]) -> str:
    return OmegaConf.to_yaml(session.compose(overrides))


def test_third_composition_reads_no_file_and_equals_a_fresh_one(fresh_cache):
    overrides = ["+task=text-classification", "model=tiny", "batch_size=4"]
    first = _hydra_yaml(ConfigSession(ConfigSearch()), overrides)
    files_read = len(fresh_cache)
    assert files_read > 5  # config.yaml, model, dataset, output, engine ...
    second = _hydra_yaml(ConfigSession(ConfigSearch()), overrides)
    assert len(fresh_cache) == 2 * files_read  # kept from the second load on: one composition copies nothing
    third = _hydra_yaml(ConfigSession(ConfigSearch()), overrides)
    assert len(fresh_cache) == 2 * files_read  # nothing parsed again
    assert first == second == third


def test_what_a_composition_changes_does_not_reach_the_next(fresh_cache):
    # The first composition overrides values of files the second one uses unchanged.
    for _ in range(2):  # from now on the files come from the cache
        changed = compose_run(["+task=text-classification", "model=tiny", "batch_size=7", "task.params.top_k=3"]).cfg
    plain = compose_run(["+task=text-classification", "model=tiny"]).cfg
    loader.PARSED_FILES = loader.ParsedFiles()  # monkeypatch restores the module's own afterwards
    fresh = compose_run(["+task=text-classification", "model=tiny"]).cfg
    assert changed["batch_size"] == 7
    assert plain == fresh
    assert plain["batch_size"] != 7


def test_an_edited_file_is_read_again(fresh_cache, user_conf):
    search = ConfigSearch.from_argv(["-cd", str(user_conf)])
    for _ in range(3):
        assert compose_run(["+task=text-classification", "model=mine"], search).cfg["model"]["name"] == "mine"
    preset = user_conf / "model" / "mine.yaml"
    before = preset.stat()
    preset.write_text(preset.read_text().replace("name: mine", "name: edited"))
    os.utime(preset, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))  # a coarse clock cannot hide it
    assert compose_run(["+task=text-classification", "model=mine"], search).cfg["model"]["name"] == "edited"
