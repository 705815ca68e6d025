"""Loaded pipelines kept across the jobs that share a `PipelineCache`, so a sweep loads its model once.

A sweep's points (Hydra's basic launcher runs them one after another in one process) that differ
only in keys the model does not depend on (batch size, generation parameters, data) reuse the
loaded pipeline. A point that changes the model, dtype, device, placement or quantization frees the
old one before loading the new, so two models never sit in memory only because of the cache.
"""

from __future__ import annotations

import json
import logging

from runner.backends import backend_for
from runner.models.loading import LoadedPipeline, prepare_for_batching
from runner.tasks import Task

log = logging.getLogger(__name__)


def load_key(cfg: dict) -> str:
    """Everything that decides which model is loaded, and where and how."""
    from runner.tasks import TASKS

    params = cfg["task"]["params"]
    load_params = TASKS[cfg["task"]["name"]].load_params  # read when the pipeline is built
    identity = {
        "task": cfg["task"]["name"],
        "load_params": {k: params.get(k) for k in load_params if params.get(k) is not None},
        "model": cfg["model"],
        "seed": cfg.get("seed")
        if cfg["model"].get("tiny") or cfg["model"].get("no_weights")
        else None,  # random weights depend on it
        **{k: cfg.get(k) for k in ("dtype", "device", "device_map")},
        # int8's probe_rows is read after the model loads (a reused model loads float32 again for its probe)
        "quantization": {k: v for k, v in (cfg.get("quantization") or {}).items() if k != "probe_rows"} or None,
        **backend_for(cfg).identity(cfg),  # {} for backend=transformers
    }
    return json.dumps(identity, sort_keys=True, default=str)


def load_pipeline(cfg: dict, spec: Task) -> LoadedPipeline:
    """The step's pipeline from its backend (runner/backends; backend=transformers: runner.models.loading)."""
    return backend_for(cfg).load(cfg, spec)


class PipelineCache:
    """Loaded pipelines by `load_key`. One cache passed to several runs lets them share a model;
    each `execute` without one gets a fresh cache, so nothing outlives that run."""

    def __init__(self):
        self._loaded: dict[str, LoadedPipeline] = {}

    def keep_only(self, keys: set[str]) -> None:
        """Free the cached pipelines that the next job does not need (before it loads its own)."""
        stale = [k for k in self._loaded if k not in keys]
        for key in stale:
            del self._loaded[key]
        if stale:
            _release_memory()

    def get(self, cfg: dict, spec: Task) -> tuple[LoadedPipeline, bool]:
        """The pipeline for this config and whether it was reused from an earlier job."""
        key = load_key(cfg)
        if key in self._loaded:
            loaded = self._loaded[key]
            prepare_for_batching(loaded.pipe, spec, cfg["batch_size"])
            log.info("reusing the loaded %s model %s", loaded.ref.origin, loaded.ref.location)
            return loaded, True
        loaded = load_pipeline(cfg, spec)
        self._loaded[key] = loaded
        return loaded, False

    def forget(self, cfg: dict) -> None:
        """Drop one pipeline (a finished step, when graph.free_finished_models is set)."""
        if self._loaded.pop(load_key(cfg), None) is not None:
            _release_memory()

    def clear(self) -> None:
        self.keep_only(set())


def _release_memory() -> None:
    from runner.bench.oom import release_memory

    release_memory()
