"""The plan of a job: everything that can be checked before a model loads (validate the config, open
the source, build the graph of steps). A bad config raises ConfigError (exit code 2) here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from runner.config import check_run
from runner.core.errors import ConfigError
from runner.plan.graph import SOURCE, Graph, build_graph, render_mermaid, render_text
from runner.repro.resume import resume_record
from runner.sources import REFERENCE, Source, open_source, reference_column, resolve_mapping
from runner.sources.checks import check_first_rows
from runner.sources.sharding import shard_of
from runner.tasks import MODALITIES, TASKS
from runner.core.views import GraphView, OutputView, RunView

log = logging.getLogger(__name__)


@dataclass
class Plan:
    cfg: dict  # validated
    steps: dict[str, dict]  # step name -> single-task config (with `step` meta)
    source: Source
    source_mapping: dict[str, str]  # row field -> source column
    graph: Graph
    conf: dict | None = None  # where the config came from (config dirs, files read), for run.json

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
    cfg, steps = checked.cfg, checked.steps
    first = next(iter(steps.values()))
    source = open_source(cfg["dataset"], TASKS[first["task"]["name"]], rows)
    first_mapping = resolve_mapping(source)
    columns = source.columns()
    formats = output_formats(cfg)
    graph = build_graph(
        steps,
        first_mapping,
        columns,
        {c: c for c in columns if c in MODALITIES},
        OutputView.from_config(cfg).steps,
        "+".join(formats),
    )
    source_mapping = {}
    for inputs in graph.inputs.values():
        for _, (producer, field) in inputs.items():
            if producer == SOURCE:
                source_mapping[field] = first_mapping[field] if graph.one_task else field
    if reference_column(source):  # expected outputs: carried to predictions.jsonl, never fed to a step
        source_mapping[REFERENCE] = reference_column(source)
    log.info("rows: %s", ", ".join(f"{name} <- column '{column}'" for name, column in source_mapping.items()))
    _check_auto_batch(steps, graph)
    check_first_rows(source, source_mapping, graph, steps, shard_of(cfg))
    resume = RunView.from_config(cfg).resume
    if resume:
        resume_record(resume)
    if not GraphView.from_config(cfg).show:
        for step in steps.values():
            check_device_available(step["device"])
    return Plan(cfg, steps, source, source_mapping, graph, conf)


def output_formats(cfg: dict) -> list[str]:
    return OutputView.from_config(cfg).formats


def _check_auto_batch(steps: dict[str, dict], graph: Graph) -> None:
    for name, step in steps.items():
        fed_by_steps = [p for p, _ in graph.inputs[name].values() if p != SOURCE]
        if step["batch_size"] == "auto" and fed_by_steps:
            key = "batch_size" if len(steps) == 1 else f"graph.steps.{name}.batch_size"
            raise ConfigError(
                key,
                f"batch_size=auto needs a step fed by the dataset; {name} is fed by {fed_by_steps[0]}",
                "give this step a number",
            )
