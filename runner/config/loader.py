"""Hydra's config loader, remembering the defaults list of each composition it made, and composing
each job of a sweep once.

run.json lists every config file a run read (runner.config.provenance); Hydra computes that list
while composing, and computing it again costs a second pass over the defaults (a copy of the whole
config repository included). A module-level class, so that launchers that pickle Hydra's context
(joblib, submitit) can carry it to their processes.

Hydra's sweepers compose every job of a batch to check it (`validate_batch_is_legal`) and throw the
result away, then the launcher composes each job again: two compositions per point (~0.1 s each on
2 cores). The first one is kept and handed to the launcher's call for the same overrides instead.

Each composition also deep-copies the whole config repository (~40 ms) so that a `hydra.searchpath`
override cannot change it; a shallow copy guards it as well (see SharedSourcesRepository). And each
composition reads and parses every YAML file it uses again (~20 ms for the ~19 files of a run): parsed
files are kept for the process, keyed by the file's path, size and mtime (ParsedFiles).
"""

from __future__ import annotations

import copy
import os

from hydra.plugins.config_source import ConfigResult
from hydra.types import RunMode
from omegaconf import OmegaConf

from runner.config.hydra_private import ComposingLoader, SharedSourcesRepository, find_config_source
from runner.config.search import file_of


class ParsedFiles:
    """Config files as Hydra's repository returned them (parsed, `defaults` taken out), for this process.

    A sweep composes every job, and a notebook or the tests compose many runs: parsing the same YAML
    each time is the larger part of a composition's file reading. Hydra merges what it loads into the
    composed config without copying it, so each caller gets a deep copy (5x cheaper than parsing). A
    file is kept from its second load on: a process that composes once (a single run, a config error)
    pays for no copy. Only files on disk are kept, keyed by size and mtime, so an edited file is read
    again; ConfigStore entries and zipped packages are always loaded afresh."""

    def __init__(self) -> None:
        self._results: dict[tuple, ConfigResult] = {}
        self._loaded_once: set[tuple] = set()

    def load(self, repository, config_path: str) -> ConfigResult | None:
        source = find_config_source(repository, config_path)
        key = self._key(source, config_path)
        kept = self._results.get(key) if key is not None else None
        if kept is not None:
            return copy.deepcopy(kept)
        loaded = repository.load_config(config_path=config_path)
        if key is None or loaded is None:
            return loaded
        if key in self._loaded_once:
            self._results[key] = copy.deepcopy(loaded)
        else:
            self._loaded_once.add(key)
        return loaded

    @staticmethod
    def _key(source, config_path: str) -> tuple | None:
        path = file_of(source, config_path) if source is not None else None
        if path is None:
            return None
        try:
            stat = os.stat(path)
        except OSError:
            return None
        return type(source).__name__, source.provider, source.path, str(path), stat.st_size, stat.st_mtime_ns


PARSED_FILES = ParsedFiles()


def _load_parsed(repository, config_path: str) -> ConfigResult | None:
    return PARSED_FILES.load(repository, config_path)  # looked up per call: tests swap PARSED_FILES


class RecordingLoader(ComposingLoader):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.defaults_by_overrides: dict[tuple[str, ...], list] = {}  # task overrides -> defaults composed
        self._last_defaults: list = []
        self._checked_jobs: dict[tuple, object] = {}  # sweep job key -> its composition, until used once more

    def __getstate__(self) -> dict:
        # Launchers that pickle the loader compose in their own processes: no need to carry the configs.
        return {**self.__dict__, "_checked_jobs": {}}

    def composition_repository(self, repository) -> SharedSourcesRepository:
        return SharedSourcesRepository(repository, _load_parsed)

    def composed_defaults(self, defaults: list) -> None:
        self._last_defaults = defaults

    def load_configuration(self, *args, **kwargs):
        if kwargs.get("run_mode", args[2] if len(args) > 2 else None) == RunMode.MULTIRUN:
            self._checked_jobs.clear()  # a new sweep: nothing from an earlier one is reused
        cfg = super().load_configuration(*args, **kwargs)
        self.defaults_by_overrides[tuple(cfg.hydra.overrides.task)] = self._last_defaults
        return cfg

    def load_sweep_config(self, master_config, sweep_overrides):
        """The same overrides of the same sweep compose to the same config: the second request
        (the launcher's, after the sweeper's check) gets the first composition, which the sweeper
        discarded. A composition a launcher already took (its hydra.job.id set: a sweeper that
        does not check first, asking for the same point twice) is never handed out again."""
        key = (id(master_config), tuple(master_config.hydra.overrides.hydra), tuple(sweep_overrides))
        checked = self._checked_jobs.pop(key, None)
        if checked is not None and OmegaConf.is_missing(checked.hydra.job, "id"):  # not launched yet
            return checked
        cfg = super().load_sweep_config(master_config, sweep_overrides)
        self._checked_jobs[key] = cfg
        return cfg
