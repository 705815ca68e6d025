"""Hydra's private API (`hydra._internal`), in one place: every use of it in the runner goes through
this module, and tests/config/test_hydra_private.py checks each behaviour relied on here against the
installed Hydra, so that an upgrade that changes one fails there, by name, instead of silently.

Tested with hydra-core TESTED_HYDRA_CORE (pinned in constraints.txt; pyproject.toml allows 1.3.x only).

What the runner relies on, and why (each is a start-up or sweep-time gain, or Hydra's own run path
without `hydra.main`):

1. `ConfigLoaderImpl._parse_overrides_and_create_caching_repo(config_name, overrides)` makes the
   repository of one composition, and `_process_config_searchpath(config_name, parsed, repo)` applies
   a `hydra.searchpath` override to it: overridden so that repository is a shallow copy
   (SharedSourcesRepository) rather than Hydra's deep copy (~40 ms per composition).
2. `CachingConfigRepository` keeps its per-composition results in `cache`, keyed `config_path=<path>`,
   over a `delegate` repository: SharedSourcesRepository keeps that shape and loads through a hook
   (the runner's parsed-file cache).
3. `ConfigRepository._find_object_source(config_path=..., object_type=...)` says which source holds a
   config (find_config_source): the parsed-file cache keys by that source's file.
4. `ConfigLoaderImpl._compose_config_from_defaults_list(defaults, repo)` is called with the defaults
   list of each composition: overridden to keep that list (the files a run read, for run.json)
   without computing it a second time.
5. `create_config_search_path(primary)` builds the search path Hydra's app would start from.
6. `Callbacks(cfg)`, `Hydra(task_name, config_loader)`, `run_and_report(fn)`: what `hydra.main` runs,
   used to run a job (runner.job.prepared) and a multirun on the runner's own loader.
"""

from __future__ import annotations

import copy
from typing import Callable

from hydra._internal.callbacks import Callbacks
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.config_repository import CachingConfigRepository
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra._internal.hydra import Hydra
from hydra._internal.utils import create_config_search_path, run_and_report

TESTED_HYDRA_CORE = "1.3.8"
# Hydra's grid sweeper as a sweep's multirun.yaml names it (hydra.sweeper._target_): sweep.resume only
# resumes grids, whose points come back in the same order.
BASIC_SWEEPER_TARGET = f"{BasicSweeper.__module__}.{BasicSweeper.__qualname__}"

__all__ = [
    "BASIC_SWEEPER_TARGET",
    "TESTED_HYDRA_CORE",
    "Callbacks",
    "ComposingLoader",
    "Hydra",
    "SharedSourcesRepository",
    "create_config_search_path",
    "find_config_source",
    "run_and_report",
]


def find_config_source(repository, config_path: str):
    """The config source (a folder, a package, the ConfigStore) that holds `config_path`, or None. (3)"""
    from hydra.core.object_type import ObjectType

    return repository._find_object_source(config_path=config_path, object_type=ObjectType.CONFIG)


class SharedSourcesRepository(CachingConfigRepository):
    """Hydra's per-composition repository, over a shallow copy of the loader's repository. (1, 2)

    Hydra deep-copies it because `initialize_sources` (a hydra.searchpath override) must not change
    the loader's own; that method rebinds the copy's `sources` to a new list and never mutates the old
    one, and the sources themselves only read files, so the copy need not be deep. `load(delegate,
    config_path)` loads a config the composition has not loaded yet."""

    def __init__(self, delegate, load: Callable) -> None:  # no super().__init__: it is the deep copy
        self.delegate = copy.copy(delegate)
        self.cache = {}
        self._load = load

    def load_config(self, config_path: str):
        key = f"config_path={config_path}"  # Hydra's own per-composition key
        if key not in self.cache:
            self.cache[key] = self._load(self.delegate, config_path)
        return self.cache[key]


class ComposingLoader(ConfigLoaderImpl):
    """Hydra's config loader with two public seams over its private steps (1, 4):
    `composition_repository(repository)` makes each composition's repository, and
    `composed_defaults(defaults)` sees each composition's defaults list."""

    def composition_repository(self, repository) -> CachingConfigRepository:
        return CachingConfigRepository(repository)

    def composed_defaults(self, defaults: list) -> None:
        pass

    def _parse_overrides_and_create_caching_repo(self, config_name, overrides):
        from hydra.core.override_parser.overrides_parser import OverridesParser

        parsed_overrides = OverridesParser.create().parse_overrides(overrides=overrides)
        repo = self.composition_repository(self.repository)
        self._process_config_searchpath(config_name, parsed_overrides, repo)
        return parsed_overrides, repo

    def _compose_config_from_defaults_list(self, defaults, repo):
        self.composed_defaults(list(defaults))
        return super()._compose_config_from_defaults_list(defaults=defaults, repo=repo)
