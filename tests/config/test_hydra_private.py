"""Each behaviour of Hydra's private API that runner/config/hydra_private.py relies on (numbered as in
its docstring), checked against the installed Hydra through the runner's own session and loader, so a
Hydra upgrade that changes one fails here by name. In-process, one composition or less each."""

from __future__ import annotations

import inspect
import re

import pytest

from runner.config import hydra_private
from runner.config.search import ConfigSearch, ConfigSession, file_of
from runner.core.paths import PRIMARY_CONFIG, REPO_ROOT

TINY = ["+task=text-classification", "model=tiny"]


@pytest.fixture(scope="module")
def session() -> ConfigSession:
    return ConfigSession()


def test_1_each_composition_gets_its_repository_from_the_seam(session, monkeypatch):
    made = []
    original = session.loader.composition_repository

    def counted(repository):
        made.append(original(repository))
        return made[-1]

    monkeypatch.setattr(session.loader, "composition_repository", counted)
    session.compose(TINY)
    assert len(made) >= 1 and all(isinstance(r, hydra_private.SharedSourcesRepository) for r in made)
    assert made[0].cache, "the composition loaded its configs through the repository the seam made"


def test_1_a_searchpath_override_reaches_the_composition_not_the_loader(tmp_path):
    conf = tmp_path / "conf"
    (conf / "model").mkdir(parents=True)
    (conf / "model" / "mine.yaml").write_text("defaults:\n  - default\n  - _self_\nname: mine\ntiny: auto\n")
    session = ConfigSession(ConfigSearch())
    sources_before = [s.path for s in session.loader.repository.get_sources()]
    cfg = session.compose(["+task=text-classification", "model=mine", f"hydra.searchpath=[file://{conf}]"])
    assert cfg.model.name == "mine"
    assert [s.path for s in session.loader.repository.get_sources()] == sources_before  # a copy was changed


def test_2_caching_repository_keeps_results_by_config_path(session):
    repository = hydra_private.CachingConfigRepository(session.loader.repository)
    assert repository.delegate is not session.loader.repository  # Hydra's own copies its delegate
    result = repository.load_config("config")
    assert result is not None and repository.cache["config_path=config"] is result
    shared = hydra_private.SharedSourcesRepository(session.loader.repository, lambda repo, path: repo.load_config(path))
    assert shared.load_config("config").config == result.config and "config_path=config" in shared.cache


def test_3_the_source_of_a_config(session):
    source = hydra_private.find_config_source(session.loader.repository, "model/tiny")
    assert source is not None
    assert (
        file_of(source, "model/tiny").resolve() == (REPO_ROOT / "conf" / "model" / "tiny.yaml").resolve()
        or file_of(source, "model/tiny").name == "tiny.yaml"
    )  # installed as a wheel: pkg://runner.conf
    assert hydra_private.find_config_source(session.loader.repository, "model/no_such_model") is None


def test_4_the_defaults_list_of_each_composition(session):
    cfg = session.compose(TINY)
    defaults = session.loader.defaults_by_overrides[tuple(cfg.hydra.overrides.task)]
    paths = {d.config_path for d in defaults}
    assert {"config", "model/tiny", "model/default"} <= paths, paths


def test_5_the_search_path_hydra_starts_from():
    path = hydra_private.create_config_search_path(PRIMARY_CONFIG)
    providers = [element.provider for element in path.get_path()]
    assert "main" in providers and "schema" in providers, providers
    assert "anchor" in inspect.signature(path.prepend).parameters


def test_6_what_hydra_main_runs():
    assert hydra_private.run_and_report(lambda: 3) == 3
    assert {"task_name", "config_loader"} <= set(inspect.signature(hydra_private.Hydra.__init__).parameters)
    assert {"config_name", "task_function", "overrides"} <= set(
        inspect.signature(hydra_private.Hydra.multirun).parameters
    )
    for hook in ("on_run_start", "on_run_end", "on_multirun_start", "on_multirun_end"):
        assert callable(getattr(hydra_private.Callbacks, hook))
    loader = hydra_private.ConfigLoaderImpl
    assert list(inspect.signature(loader._process_config_searchpath).parameters)[1:] == [
        "config_name",
        "parsed_overrides",
        "repo",
    ]
    assert list(inspect.signature(loader._compose_config_from_defaults_list).parameters)[1:] == ["defaults", "repo"]


def test_7_the_grid_sweepers_name_in_a_composed_multirun(session):
    """sweep.resume reads hydra.sweeper._target_ from a sweep's multirun.yaml and resumes only grids."""
    cfg = session.compose(["+task=text-classification", "model=tiny"])  # the default sweeper: the grid
    assert cfg.hydra.sweeper._target_ == hydra_private.BASIC_SWEEPER_TARGET


def test_the_tested_version_is_the_pinned_and_installed_one():
    import hydra

    pins = [
        re.search(r"^hydra-core==(\S+)$", (REPO_ROOT / name).read_text(), re.M).group(1)
        for name in ("constraints.txt", "constraints-transformers4.txt")
    ]
    assert pins == [hydra_private.TESTED_HYDRA_CORE] * 2
    assert hydra.__version__ == hydra_private.TESTED_HYDRA_CORE


def test_no_other_module_imports_hydra_internals():
    offenders = [
        str(path.relative_to(REPO_ROOT))
        for path in (REPO_ROOT / "runner").rglob("*.py")
        if "hydra._internal" in path.read_text() and path.name != "hydra_private.py"
    ]
    assert not offenders
