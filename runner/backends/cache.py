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
from runner.core.views import StepView
from runner.models.loading import LoadedPipeline, prepare_for_batching
from runner.tasks import Task

log = logging.getLogger(__name__)


def load_key(step: StepView) -> str:
    """Everything that decides which model is loaded, and where and how."""
    from runner.tasks import TASKS

    params, run, model = step.task.params, step.run, step.model
    load_params = TASKS[step.task.name].load_params  # read when the pipeline is built
    identity = {
        "task": step.task.name,
        "load_params": {k: params.get(k) for k in load_params if params.get(k) is not None},
        "model": model.as_dict(),
        "seed": run.seed if model.tiny or model.no_weights else None,  # random weights depend on it
        "dtype": run.dtype,
        "device": run.device,
        "device_map": run.device_map,
        # int8's probe_rows is read after the model loads (a reused model loads float32 again for its probe)
        "quantization": step.quantization.identity(),
        **backend_for(step).identity(step),  # {} for backend=transformers
    }
    return json.dumps(identity, sort_keys=True, default=str)


def load_pipeline(step: StepView, spec: Task) -> LoadedPipeline:
    """The step's pipeline from its backend (runner/backends; backend=transformers: runner.models.loading)."""
    return backend_for(step).load(step, spec)


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

    def get(self, step: StepView, spec: Task) -> tuple[LoadedPipeline, bool]:
        """The pipeline for this step and whether it was reused from an earlier job."""
        key = load_key(step)
        if key in self._loaded:
            loaded = self._loaded[key]
            prepare_for_batching(loaded.pipe, spec, step.run.batch_size)
            log.info("reusing the loaded %s model %s", loaded.ref.origin, loaded.ref.location)
            return loaded, True
        loaded = load_pipeline(step, spec)
        self._loaded[key] = loaded
        return loaded, False

    def forget(self, step: StepView) -> None:
        """Drop one pipeline (a finished step, when graph.free_finished_models is set)."""
        if self._loaded.pop(load_key(step), None) is not None:
            _release_memory()

    def clear(self) -> None:
        self.keep_only(set())


def _release_memory() -> None:
    from runner.bench.oom import release_memory

    release_memory()
