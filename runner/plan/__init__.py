"""The plan of a job: everything that can be checked before a model loads (validate the config, open
the source, build the graph of steps). A bad config raises ConfigError (exit code 2) here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property

from runner.config import check_run
from runner.config.engine import EngineSettings
from runner.core.errors import ConfigError
from runner.plan.graph import SOURCE, Graph, build_graph, render_mermaid, render_text, source_detail
from runner.repro.resume import resume_record
from runner.sources import REFERENCE, Source, open_source, reference_column, resolve_mapping
from runner.sources.checks import check_first_rows
from runner.sources.sharding import shard_of, unit_of
from runner.tasks import MODALITIES, TASKS
from runner.core.views import ConfigViews, StepView

log = logging.getLogger(__name__)


@dataclass
class Plan:
    cfg: dict  # validated
    steps: dict[str, dict]  # step name -> single-task config (with `step` meta)
    source: Source
    source_mapping: dict[str, str]  # row field -> source column
    graph: Graph
    conf: dict | None = None  # where the config came from (config dirs, files read), for run.json
    # The views of cfg and of each step's config, built once (make_plan): what the job and the engine
    # read; cfg and steps stay what run.json records. Left out, they are built from cfg and steps.
    views: ConfigViews = None  # type: ignore[assignment]
    step_views: dict[str, StepView] = field(default_factory=dict)
    engine: EngineSettings = None  # type: ignore[assignment]  # runner/config/engine.py's view of `engine`

    def __post_init__(self) -> None:
        if self.views is None:
            self.views = ConfigViews.from_config(self.cfg)
        if not self.step_views:
            self.step_views = {name: StepView.from_config(step) for name, step in self.steps.items()}
        if self.engine is None:
            self.engine = EngineSettings.from_config(self.cfg)

    @cached_property
    def batch_unit(self) -> int:
        """The rows a shard, and a resume, own whole (runner/sources/sharding.batch_unit)."""
        return _batch_unit(self.views, self.step_views)

    @cached_property
    def shard(self) -> dict | None:
        """The rows this job owns (runner/sources/sharding.shard_of): None unsharded."""
        return shard_of(self.views.shard.index, self.views.shard.count, self.batch_unit)

    def describe(self) -> str:
        return f"{render_text(self.graph)}\n\nMermaid:\n{render_mermaid(self.graph)}"


def make_plan(raw_cfg: dict, conf: dict | None = None, rows=None) -> Plan:
    """Everything that can be checked before a model loads; raises ConfigError (exit 2) on a bad config,
    naming the file and line (or the override) that set the key when `conf` (the provenance) tells.
    `rows`: the Python API's in-memory rows for dataset.type=python (never part of the config)."""
    from runner.config.provenance import annotate

    try:
        return _make_plan(raw_cfg, conf, rows)
    except ConfigError as error:
        raise annotate(error, conf) from None


def _make_plan(raw_cfg: dict, conf: dict | None, rows) -> Plan:
    from runner.models.loading import check_device_available

    checked = check_run(raw_cfg)
    cfg, steps, views, step_views = checked.cfg, checked.steps, checked.views, checked.step_views
    first = next(iter(step_views.values()))
    dataset = cfg["dataset"]  # a Source reads its own keys (runner/sources)
    source = open_source(dataset, TASKS[first.task.name], rows)
    first_mapping = resolve_mapping(source)
    columns = source.columns()
    formats = views.output.formats
    graph = build_graph(
        step_views,
        first_mapping,
        columns,
        {c: c for c in columns if c in MODALITIES},
        views.output.steps,
        "+".join(formats),
        source_detail(dataset),
    )
    source_mapping = {}
    for inputs in graph.inputs.values():
        for _, (producer, column) in inputs.items():
            if producer == SOURCE:
                source_mapping[column] = first_mapping[column] if graph.one_task else column
    if reference_column(source):  # expected outputs: carried to predictions.jsonl, never fed to a step
        source_mapping[REFERENCE] = reference_column(source)
    log.info("rows: %s", ", ".join(f"{name} <- column '{column}'" for name, column in source_mapping.items()))
    _check_auto_batch(step_views, graph)
    shard = shard_of(views.shard.index, views.shard.count, _batch_unit(views, step_views))
    check_first_rows(source, source_mapping, graph, step_views, shard)
    if views.run.resume:
        resume_record(views.run.resume)
    if not views.graph.show:
        for step in step_views.values():
            check_device_available(step.run.device)
    return Plan(cfg, steps, source, source_mapping, graph, conf, views, step_views, checked.engine)


def _batch_unit(views: ConfigViews, steps: dict[str, StepView]) -> int:
    sizes = [step.run.batch_size for step in steps.values()]
    return unit_of(sizes, views.batching.sort_by_length, views.batching.window_batches)


def _check_auto_batch(steps: dict[str, StepView], graph: Graph) -> None:
    for name, step in steps.items():
        fed_by_steps = [p for p, _ in graph.inputs[name].values() if p != SOURCE]
        if step.run.batch_size == "auto" and fed_by_steps:
            key = "batch_size" if len(steps) == 1 else f"graph.steps.{name}.batch_size"
            raise ConfigError(
                key,
                f"batch_size=auto needs a step fed by the dataset; {name} is fed by {fed_by_steps[0]}",
                "give this step a number",
            )
