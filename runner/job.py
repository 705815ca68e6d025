"""A job from a composed config to its outputs: validate -> plan (source, steps, graph) -> execute.

The CLI and the Python API both go through these functions, so they cannot drift apart. Here live
the run-level policies around execution: resuming an interrupted run, turning SIGTERM into a clean
stop, recording a sweep point's out-of-memory as a result, skipping batch sizes above one that ran
out of memory, and running a point in a child process when asked.
"""
from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from runner.config import validate_config
from runner.config.steps import is_single_task, step_configs
from runner.errors import ConfigError, RunError
from runner.graph import SOURCE, Graph, build_graph, render_mermaid, render_text
from runner.models.cache import PipelineCache
from runner.rundir import CHILD_LOG, CHILD_REQUEST, ERRORS, METRICS, PREDICTIONS, RECORD
from runner.sinks import completed_indices, export_table, write_json
from runner.sources import Source, open_source, resolve_mapping
from runner.tasks import MODALITIES, TASKS

log = logging.getLogger(__name__)

# Beyond record.NON_OUTPUT_KEYS, a resumed run may change how failing rows are handled.
RESUMABLE_DIFFERENCES = ("on_error",)


@dataclass
class Plan:
    cfg: dict  # validated
    steps: dict[str, dict]  # step name -> single-task config (with `step` meta)
    source: Source
    source_mapping: dict[str, str]  # row field -> source column
    graph: Graph
    conf: dict | None = None  # where the config came from (config dirs, files read), for run.json

    @property
    def single(self) -> bool:
        return is_single_task(self.steps)

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

    cfg = validate_config(raw_cfg)
    steps = step_configs(cfg, validate_config)
    first = next(iter(steps.values()))
    source = open_source(cfg["dataset"], TASKS[first["task"]["name"]], rows)
    first_mapping = resolve_mapping(source)
    columns = source.columns()
    formats = _formats(cfg)
    graph = build_graph(steps, first_mapping, columns, {c: c for c in columns if c in MODALITIES},
                        cfg["output"]["steps"], "+".join(formats))
    single = is_single_task(steps)
    source_mapping = {}
    for inputs in graph.inputs.values():
        for _, (producer, field) in inputs.items():
            if producer == SOURCE:
                source_mapping[field] = first_mapping[field] if single else field
    log.info("rows: %s", ", ".join(f"{name} <- column '{column}'" for name, column in source_mapping.items()))
    _check_auto_batch(steps, graph)
    if cfg.get("resume"):
        _resume_record(cfg["resume"])
    if not cfg["graph"]["show"]:
        for step in steps.values():
            check_device_available(step["device"])
    return Plan(cfg, steps, source, source_mapping, graph, conf)


def _formats(cfg: dict) -> list[str]:
    fmt = cfg["output"]["format"]
    return [fmt] if isinstance(fmt, str) else list(fmt)


def _check_auto_batch(steps: dict[str, dict], graph: Graph) -> None:
    for name, step in steps.items():
        fed_by_steps = [p for p, _ in graph.inputs[name].values() if p != SOURCE]
        if step["batch_size"] == "auto" and fed_by_steps:
            key = "batch_size" if len(steps) == 1 else f"graph.steps.{name}.batch_size"
            raise ConfigError(key, f"batch_size=auto needs a step fed by the dataset; {name} is fed by {fed_by_steps[0]}",
                              "give this step a number")


# -- running ----------------------------------------------------------------------------------------
# Smallest batch size that ran out of memory, per sweep point minus its batch size, in this process.
_oom_at: dict[str, int] = {}
# Loaded pipelines shared by the runs of this process, so a sweep loads its model once.
_pipelines = PipelineCache()


def run_plan(plan: Plan, run_dir: Path, argv: list[str], cwd: Path, multirun: bool = False,
             keep: dict[str, list] | None = None) -> dict:
    """Execute the plan into run_dir (or into the run being resumed); always leaves run.json and
    metrics.json with the run's status: ok, oom, skipped_after_oom, error or interrupted.
    `keep`: {"predictions": [...], "errors": [...]} lists that also receive each record written
    (the Python API returns them from memory); a run in a child process fills none."""
    cfg = plan.cfg
    bench = cfg["bench"]["enabled"] is True or (cfg["bench"]["enabled"] == "auto" and multirun)
    if cfg["bench"]["isolation"] == "process":
        return _run_in_child(plan, Path(run_dir), argv, cwd, multirun)
    run_dir, done = _resume_target(cfg, Path(run_dir))
    run_dir.mkdir(parents=True, exist_ok=True)
    skipped = _skip_after_oom(cfg, bench, run_dir)
    if skipped is not None:
        return skipped
    return _execute_recorded(plan, run_dir, argv, cwd, bench, done, keep)


def _execute_recorded(plan: Plan, run_dir: Path, argv, cwd, bench: bool, done: set[int],
                      keep: dict[str, list] | None = None) -> dict:
    from runner.engine import OutOfMemory, execute
    from runner.record import build_record, now_iso

    started_at = now_iso()
    status, metrics = "error", {}
    write_json(run_dir / RECORD, build_record(plan.cfg, run_dir, argv, cwd, "running", started_at, conf=plan.conf))
    try:
        with _sigterm_as_interrupt():
            metrics = execute(plan, run_dir, bench=bench, done=done, append=bool(done) or plan.cfg.get("resume") is not None,
                              keep=keep, cache=_pipelines)
        outputs = None if plan.single else list(plan.graph.nodes["predictions"].consumes)
        for fmt in _formats(plan.cfg):
            if fmt != "jsonl":
                log.info("wrote %s", export_table(run_dir / PREDICTIONS, fmt, outputs))
        status = "ok"
        return metrics
    except OutOfMemory as oom:
        status = "oom"
        _oom_at[_point_key(plan.cfg)] = min(oom.batch_size, _oom_at.get(_point_key(plan.cfg), oom.batch_size))
        metrics = json.loads((run_dir / METRICS).read_text())
        if bench:  # a sweep point that does not fit is a result, not a failure
            log.warning("%s: recorded as oom", oom)
            return metrics
        raise RunError(str(oom), "lower batch_size, or let batch_size=auto find the largest that fits") from oom
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        model = (metrics or {}).get("model")
        write_json(run_dir / RECORD, build_record(plan.cfg, run_dir, argv, cwd, status, started_at, model, plan.conf))


@contextmanager
def _sigterm_as_interrupt():
    """SIGTERM (a scheduler's or `kill`'s stop) ends the run like Ctrl-C: outputs closed on a line boundary."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread (e.g. a launcher's worker thread): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# -- resume -------------------------------------------------------------------------------------------
def _resume_target(cfg: dict, run_dir: Path) -> tuple[Path, set[int]]:
    """With resume=<dir>: that dir and the dataset positions already written there."""
    if not cfg.get("resume"):
        return run_dir, set()
    target = Path(cfg["resume"]).expanduser()
    saved = _resume_record(cfg["resume"]).get("config") or {}
    differences = config_differences(saved, cfg)
    if differences:
        listed = "; ".join(f"{k}: {a!r} then, {b!r} now" for k, a, b in differences[:5])
        raise ConfigError("resume", f"the config differs from the interrupted run's in what changes outputs ({listed})",
                          "resume with the same config (only progress and bench keys may change), or start a new run")
    done = completed_indices(target / PREDICTIONS) | completed_indices(target / ERRORS)
    log.info("resuming %s: %d rows already done, appending the rest", target, len(done))
    return target, done


def _resume_record(resume: str) -> dict:
    record_path = Path(resume).expanduser() / RECORD
    if not record_path.is_file():
        raise ConfigError("resume", f"'{resume}' is not a run directory (no run.json)",
                          "give the output dir of the interrupted run, e.g. resume=outputs/2026-11-25/10-00-00")
    return json.loads(record_path.read_text())


def config_differences(saved: dict, current: dict) -> list[tuple[str, object, object]]:
    """(key, then, now) for each output-changing key that differs."""
    from runner.record import dotted_differences, output_config

    return dotted_differences(output_config(saved, exclude=RESUMABLE_DIFFERENCES),
                              output_config(current, exclude=RESUMABLE_DIFFERENCES))


# -- sweeps ---------------------------------------------------------------------------------------------
def _point_key(cfg: dict) -> str:
    """A sweep point minus its batch size: points with the same key differ only in batch size."""
    rest = {k: v for k, v in cfg.items() if k not in ("batch_size", "bench", "progress", "resume")}
    return json.dumps(rest, sort_keys=True, default=str)


def _skip_after_oom(cfg: dict, bench: bool, run_dir: Path) -> dict | None:
    limit = _oom_at.get(_point_key(cfg))
    size = cfg["batch_size"]
    if not (bench and cfg["bench"]["skip_after_oom"] and limit is not None and isinstance(size, int) and size >= limit):
        return None
    log.warning("batch_size=%d skipped: batch size %d already ran out of memory in this sweep", size, limit)
    metrics = {"status": "skipped_after_oom", "error": f"batch size {limit} ran out of memory earlier in this sweep",
               "batch_size": size, "batch_size_requested": size, "benchmark": True}
    write_json(run_dir / METRICS, metrics)
    return metrics


def _run_in_child(plan: Plan, run_dir: Path, argv, cwd, multirun: bool) -> dict:
    """bench.isolation=process: the point runs in a fresh Python process; a crash (even a segfault
    or the kernel's OOM killer) becomes this point's `error` status, and the next point starts clean."""
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg = {**plan.cfg, "bench": {**plan.cfg["bench"], "isolation": "none"}}
    request = run_dir / CHILD_REQUEST
    write_json(request, {"cfg": cfg, "conf": plan.conf, "run_dir": str(run_dir), "argv": argv, "cwd": str(cwd),
                         "multirun": multirun})
    child = subprocess.run([sys.executable, "-m", "runner.child", str(request)], capture_output=True, text=True)
    (run_dir / CHILD_LOG).write_text(child.stdout + child.stderr)
    metrics_path = run_dir / METRICS
    if child.returncode == 0 and metrics_path.is_file():
        return json.loads(metrics_path.read_text())
    tail = (child.stderr.strip().splitlines() or ["(no output)"])[-1]
    if metrics_path.is_file() and json.loads(metrics_path.read_text()).get("status") in ("oom",):
        metrics = json.loads(metrics_path.read_text())
    else:
        metrics = {"status": "error", "error": f"child process exited with {child.returncode}: {tail}",
                   "batch_size": plan.cfg["batch_size"], "batch_size_requested": plan.cfg["batch_size"]}
        write_json(metrics_path, metrics)
    if metrics["status"] == "oom" and (plan.cfg["bench"]["enabled"] is True or multirun):
        return metrics
    raise RunError(f"the isolated run failed: {metrics['error']}", f"its output is in {run_dir / 'child.log'}")
