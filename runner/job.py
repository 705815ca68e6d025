"""A job from a composed config to its outputs: validate -> plan (source, mapping, graph) -> execute.

The CLI and the Python API both go through these two functions, so they cannot drift apart.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from runner.config import validate_config
from runner.graph import Graph, build_graph, render_mermaid, render_text
from runner.sinks import write_json
from runner.sources import Source, open_source, resolve_mapping
from runner.tasks import TASKS

log = logging.getLogger(__name__)


@dataclass
class Plan:
    cfg: dict  # validated
    source: Source
    mapping: dict[str, str]  # task input -> source column
    graph: Graph

    def describe(self) -> str:
        return f"{render_text(self.graph)}\n\nMermaid:\n{render_mermaid(self.graph)}"


def make_plan(raw_cfg: dict) -> Plan:
    """Everything that can be checked before a model loads; raises ConfigError (exit 2) on a bad config."""
    from runner.models.loading import check_device_available

    cfg = validate_config(raw_cfg)
    spec = TASKS[cfg["task"]["name"]]
    source = open_source(cfg["dataset"], spec)
    mapping = resolve_mapping(source)
    log.info("rows: %s", ", ".join(f"{name} <- column '{column}'" for name, column in mapping.items()))
    graph = build_graph(cfg, mapping, source.columns())
    if not cfg["graph"]["show"]:
        check_device_available(cfg["device"])
    return Plan(cfg, source, mapping, graph)


def run_plan(plan: Plan, run_dir: Path, argv: list[str], cwd: Path) -> dict:
    """Execute the plan into run_dir; always leaves run.json, with status ok or error."""
    from runner.execute import execute
    from runner.record import build_record, now_iso

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    started_at = now_iso()
    status, metrics = "error", {}
    try:
        metrics = execute(plan.cfg, plan.graph, plan.source, plan.mapping, run_dir)
        status = "ok"
        return metrics
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        record = build_record(plan.cfg, run_dir, argv, cwd, status, started_at, metrics.get("model"))
        write_json(run_dir / "run.json", record)
