"""Hydra's config loader, remembering the defaults list of each composition it made.

run.json lists every config file a run read (runner.config.provenance); Hydra computes that list
while composing, and computing it again costs a second pass over the defaults (a copy of the whole
config repository included). A module-level class, so that launchers that pickle Hydra's context
(joblib, submitit) can carry it to their processes.
"""
from __future__ import annotations

from hydra._internal.config_loader_impl import ConfigLoaderImpl


class RecordingLoader(ConfigLoaderImpl):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.defaults_by_overrides: dict[tuple[str, ...], list] = {}  # task overrides -> defaults composed
        self._last_defaults: list = []

    def _compose_config_from_defaults_list(self, defaults, repo):
        self._last_defaults = list(defaults)
        return super()._compose_config_from_defaults_list(defaults=defaults, repo=repo)

    def load_configuration(self, *args, **kwargs):
        cfg = super().load_configuration(*args, **kwargs)
        self.defaults_by_overrides[tuple(cfg.hydra.overrides.task)] = self._last_defaults
        return cfg
