"""A step at run time, and how it gets its model: through the pipeline cache, then re-seeded."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from runner.bench.stats import BatchRecorder
from runner.core.views import StepView
from runner.engine.metrics import placement
from runner.engine.pipeline_step import PipelineStep
from runner.engine.probe import Probe, new_probe
from runner.engine.settings import Settings
from runner.tasks import TASKS

log = logging.getLogger(__name__)


@dataclass
class StepRun:
    """A step at run time: its pipeline, where its inputs come from, its batch size and timings."""

    name: str
    output: str
    step: PipelineStep
    view: StepView  # the step's config, read once
    inputs: dict[str, tuple[str, str]]
    loaded: Any
    reused: bool
    batch_size: int
    recorder: BatchRecorder
    autobatch: dict | None = None
    placement: dict = field(default_factory=dict)  # taken at load time: a staged run frees the model
    probe: Probe | None = None  # quantization=int8: rows kept for the float32 agreement probe (engine/probe.py)

    @property
    def spec(self):
        return self.step.spec


def load_step(plan, name: str, cache, settings: Settings) -> StepRun:
    """The step's pipeline from `cache` (loaded unless an earlier run left it there), ready to run.
    batch_size=auto starts at 1; the caller then searches for the real size."""
    view = plan.step_views[name]
    params = view.task.params
    spec = TASKS[view.task.name]
    loaded, reused = cache.get(view, spec)
    batch_size = view.run.fixed_batch_size
    step = PipelineStep(
        name, spec, loaded.pipe, loaded.pipeline_task, params, batch_size, base_dir=plan.source.base_dir()
    )
    for warning in spec.lossy_settings(loaded.pipe, params):
        log.warning(warning)
    refused = spec.refused_settings(loaded.pipe, params)
    if refused:
        from runner.core.errors import ConfigError

        raise ConfigError(*refused[0])
    run = StepRun(
        name,
        view.output,
        step,
        view,
        plan.graph.inputs[name],
        loaded,
        reused,
        batch_size,
        settings.new_recorder(),
        placement=placement(loaded),
        probe=new_probe(view, loaded),
    )
    # Loading may draw random numbers (differently across versions, or not at all when the model
    # is reused in a sweep): re-seed so the first batch always starts from the same state.
    seed_everything(view.run.seed)
    return run


_TORCH_DEFAULT_THREADS: list[int] = []  # torch's own count, read before the first run changes it


def apply_threads(threads: int | None) -> None:
    """torch.set_num_threads(threads), or back to torch's default for null (a sweep may mix both)."""
    import torch

    if not _TORCH_DEFAULT_THREADS:
        _TORCH_DEFAULT_THREADS.append(torch.get_num_threads())
    torch.set_num_threads(threads or _TORCH_DEFAULT_THREADS[0])


def seed_everything(seed: int, deterministic: bool | None = None) -> None:
    """Seed python, numpy and torch; with `deterministic` given, also switch deterministic algorithms."""
    from runner.repro import determinism

    determinism.seed_all(seed)
    if deterministic is not None:
        determinism.configure(deterministic)
