"""metrics.json of an engine=ray run: the keys engine=local writes (runner/engine/metrics.py), from
the actors' figures, plus an `engine` block: the cluster, Ray's start-up cost and each actor's rows,
chunks and seconds."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import TYPE_CHECKING

from runner.bench.memory import peak_memory
from runner.engine.error_summary import errors_by_cause, file_messages
from runner.engine.segments import with_totals
from runner.outputs.rundir import ERRORS

if TYPE_CHECKING:
    from runner.engine.ray.driver import RayRun

BASIS = "timed pipeline calls of the last step, seconds summed over its actors (a rate per actor)"


def build_ray_metrics(run: RayRun, status: str, started: float, error: str | None) -> dict:
    names = list(run.plan.steps)
    per_step = _per_step(run.stats)
    counters, seconds = run.counters, run.rows_seconds
    last = per_step.get(names[-1], {"rows": 0, "seconds": 0.0})
    total_seconds = sum(step["seconds"] for step in per_step.values())
    metrics = {
        "status": status,
        "error": error,
        "run_dir": str(run.run_dir),
        "task": "+".join(step.task.name for step in run.plan.step_views.values()),
        "steps_count": len(names),
        "benchmark": False,
        "rows_in": counters["rows_in"],
        "rows_out": counters["rows_out"],
        "rows_error": counters["rows_error"],
        "rows_skipped": counters["rows_skipped"],
        "rows_unfinished": 0,
        "rows_resumed": len(run.done),
        "stopped_early": False,
        "inference_seconds": round(total_seconds, 4),
        "items_per_second": round(last["rows"] / total_seconds, 3) if total_seconds and last["rows"] else None,
        "items_per_second_basis": BASIS,
        "end_to_end_seconds": round(seconds, 4) if seconds is not None else None,
        "end_to_end_items_per_second": round(counters["rows_in"] / seconds, 3)
        if seconds and counters["rows_in"]
        else None,
        "wall_seconds": round(time.perf_counter() - started, 4),
        "prefetch_rows": 0,  # actors decode each row when their step prepares it
        **peak_memory(),
    }
    steps = {name: {**run.step_metrics.get(name, {}), **_step_figures(per_step.get(name))} for name in names}
    if names[-1] in run.step_metrics:
        top = {k: v for k, v in run.step_metrics[names[-1]].items() if k not in _PER_STEP_ONLY}
        metrics.update(top)
        metrics["model_load_seconds"] = round(sum(s["load_seconds"] for s in per_step.values()), 4)
        metrics["model_reused"] = False
    metrics["steps"] = steps
    metrics["errors_by_cause"] = errors_by_cause(file_messages(run.run_dir / ERRORS), run.skipped_causes)
    metrics["engine"] = engine_block(run, per_step)
    return with_totals(metrics, run.earlier)


_PER_STEP_ONLY = {"rows_timed", "inference_seconds", "items_per_second", "model_load_seconds", "model_reused"}


def _per_step(stats: list[dict]) -> dict[str, dict]:
    steps: dict[str, dict] = defaultdict(lambda: {"rows": 0, "seconds": 0.0, "load_seconds": 0.0})
    loads: dict[str, dict] = defaultdict(dict)
    for stat in stats:
        step = steps[stat["step"]]
        step["rows"] += stat["rows"]
        step["seconds"] += stat["seconds"]
        loads[stat["step"]][(stat["actor"], stat["pid"])] = stat["load_seconds"]
    for name, by_actor in loads.items():  # every (re)start of an actor loaded the model once
        steps[name]["load_seconds"] = sum(by_actor.values())
    return dict(steps)


def _step_figures(step: dict | None) -> dict:
    if not step:
        return {}
    return {
        "rows_timed": step["rows"],
        "inference_seconds": round(step["seconds"], 4),
        "items_per_second": round(step["rows"] / step["seconds"], 3) if step["seconds"] else None,
        "model_load_seconds": round(step["load_seconds"], 4),
        "model_reused": False,
    }


def engine_block(run: RayRun, per_step: dict[str, dict]) -> dict:
    """The cluster, Ray's start-up (startup_seconds: joining or starting the cluster; first_chunk_seconds:
    from there to the first chunk written, actor starts and model loads included) and the actors: one
    entry per actor and step (a restarted actor keeps its id and lists every process it ran in)."""
    actors: dict[tuple, dict] = {}
    for stat in run.stats:
        entry = actors.setdefault(
            (stat["step"], stat["actor"]),
            {
                "step": stat["step"],
                "actor": stat["actor"],
                "node": stat["node"],
                "pids": [],
                "rows": 0,
                "chunks": 0,
                "seconds": 0.0,
                "wall_seconds": 0.0,
            },
        )
        if stat["pid"] not in entry["pids"]:
            entry["pids"].append(stat["pid"])
        entry["rows"] += stat["rows"]
        entry["chunks"] += 1
        entry["seconds"] += stat["seconds"]
        entry["wall_seconds"] += stat["wall_seconds"]
    for entry in actors.values():
        entry["seconds"], entry["wall_seconds"] = round(entry["seconds"], 4), round(entry["wall_seconds"], 4)
        entry["items_per_second"] = round(entry["rows"] / entry["seconds"], 3) if entry["seconds"] else None
    first = run.first_chunk_seconds
    (first_at, last_at, rows_after) = run.steady
    steady = round(rows_after / (last_at - first_at), 3) if last_at and last_at > first_at else None
    return {
        "name": "ray",
        **run.cluster,
        "first_chunk_seconds": round(first, 4) if first is not None else None,
        # rows/s once the actors are up: the rows after the first chunk over the time between the first
        # chunk written and the last (start-up, actor starts and model loads left out)
        "steady_items_per_second": steady,
        "actors_per_step": run.engine.actors,
        "cpus_per_actor": run.engine.cpus_per_actor,
        "gpus_per_actor": run.engine.gpus_per_actor,
        "actor_restarts": sum(len(entry["pids"]) - 1 for entry in actors.values()),
        "chunks_dropped": run.dropped_chunks,
        "actors": list(actors.values()),
    }
