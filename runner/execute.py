"""Stream rows from the source through the step into the sinks, with progress, timing and error rows.

No Hydra here: the CLI, the Python API and the tests all call `execute` with a validated config.
A row that cannot be prepared or that breaks its batch is written to errors.jsonl with its id,
step and error; every other row reaches predictions.jsonl, in input order.
"""
from __future__ import annotations

import logging
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from runner.graph import Graph
from runner.sinks import JsonlSink, write_json
from runner.sources import Row, Source
from runner.steps import PipelineStep, to_jsonable
from runner.tasks import TASKS

log = logging.getLogger(__name__)

# Rows handed to the pipeline per call, in batches: big enough that the pipeline's own DataLoader
# batching pays off, small enough that one failing row costs little to isolate.
CHUNK_BATCHES = 4


@dataclass
class Pending:
    row: Row
    prepared: object


@dataclass
class Counters:
    rows_in: int = 0
    rows_out: int = 0
    rows_error: int = 0
    inference_seconds: float = 0.0
    errors_by_stage: dict = field(default_factory=dict)


def execute(cfg: dict, graph: Graph, source: Source, mapping: dict, run_dir: Path) -> dict:
    """Run the job; write predictions.jsonl, errors.jsonl and metrics.json into run_dir; return the metrics."""
    from runner.models.loading import load_pipeline

    run_dir = Path(run_dir)
    started = time.perf_counter()
    seed_everything(cfg.get("seed", 0))
    spec = TASKS[cfg["task"]["name"]]
    loaded = load_pipeline(cfg, spec)
    (node,) = graph.steps()
    step = PipelineStep(node.name, spec, loaded.pipe, loaded.pipeline_task, cfg["task"]["params"], cfg["batch_size"],
                        base_dir=source.base_dir())
    warn_about_lossy_settings(loaded.pipe, spec, cfg["task"]["params"])
    include_inputs = cfg["output"].get("include_inputs", True)
    counters = Counters()
    with JsonlSink(run_dir / "predictions.jsonl") as predictions, JsonlSink(run_dir / "errors.jsonl") as errors, \
            _progress(cfg, source.total_rows(cfg.get("shard"))) as bar:
        chunk: list[Pending] = []
        chunk_size = cfg["batch_size"] * CHUNK_BATCHES
        for row in source.rows(mapping, cfg.get("shard")):
            counters.rows_in += 1
            try:
                chunk.append(Pending(row, step.prepare(row)))
            except Exception as error:  # any decode failure belongs to this row alone
                _record_error(errors, counters, row, "prepare", step.name, error)
                bar.update(1)
            if len(chunk) >= chunk_size:
                _run_chunk(step, chunk, predictions, errors, counters, include_inputs, spec, bar)
                chunk = []
        if chunk:
            _run_chunk(step, chunk, predictions, errors, counters, include_inputs, spec, bar)
    metrics = {
        "task": spec.id,
        "pipeline_task": loaded.pipeline_task,
        "model": loaded.ref.location,
        "model_origin": loaded.ref.origin,
        **placement(loaded),
        "batch_size": cfg["batch_size"],
        "rows_in": counters.rows_in,
        "rows_out": counters.rows_out,
        "rows_error": counters.rows_error,
        "model_load_seconds": round(loaded.load_seconds, 4),
        "inference_seconds": round(counters.inference_seconds, 4),
        "items_per_second": round(counters.rows_out / counters.inference_seconds, 3) if counters.inference_seconds else None,
        "wall_seconds": round(time.perf_counter() - started, 4),
        **peak_memory(),
    }
    write_json(run_dir / "metrics.json", metrics)
    return metrics


def warn_about_lossy_settings(pipe, spec, params: dict) -> None:
    model_type = getattr(getattr(getattr(pipe, "model", None), "config", None), "model_type", None)
    if spec.id == "automatic-speech-recognition" and model_type == "whisper" and params.get("chunk_length_s"):
        log.warning(
            "chunk_length_s with Whisper splits the audio into independent chunks and loses text at the seams "
            "(measured on transformers 5.24: 514 of 921 characters kept on a 52 s clip). For long audio, drop "
            "chunk_length_s and set task.params.return_timestamps=true: Whisper then transcribes it long-form."
        )


def _run_chunk(step: PipelineStep, chunk: list[Pending], predictions: JsonlSink, errors: JsonlSink,
               counters: Counters, include_inputs: bool, spec, bar) -> None:
    started = time.perf_counter()
    try:
        outputs = step.run([p.prepared for p in chunk])
        results = list(zip(chunk, outputs, [None] * len(chunk)))
    except Exception as error:
        log.debug("batch of %d rows failed (%s); retrying row by row", len(chunk), error, exc_info=True)
        results = [_run_one(step, pending) for pending in chunk]
    counters.inference_seconds += time.perf_counter() - started
    for pending, output, error in results:
        if error is not None:
            _record_error(errors, counters, pending.row, "run", step.name, error)
        else:
            record = {"id": pending.row.id, "index": pending.row.index}
            if include_inputs:
                # text and file paths; never decoded audio or image data
                record["input"] = {k: v for k, v in pending.row.fields.items() if isinstance(v, str)}
            record["output"] = to_jsonable(output)
            predictions.write(record)
            counters.rows_out += 1
        bar.update(1)


def _run_one(step: PipelineStep, pending: Pending):
    try:
        return pending, step.run([pending.prepared])[0], None
    except Exception as error:  # this row's own failure, kept with the row
        return pending, None, error


def _record_error(errors: JsonlSink, counters: Counters, row: Row, stage: str, step_name: str, error: Exception) -> None:
    counters.rows_error += 1
    message = f"{type(error).__name__}: {error}"
    log.warning("row %r failed in %s (%s): %s", row.id, step_name, stage, message)
    errors.write({"id": row.id, "index": row.index, "step": step_name, "stage": stage, "error": message})


def seed_everything(seed: int, deterministic: bool | None = None) -> None:
    """Seed python, numpy and torch; with `deterministic` given, also switch deterministic algorithms."""
    from runner import determinism

    determinism.seed_all(seed)
    if deterministic is not None:
        determinism.configure(deterministic)


def placement(loaded) -> dict:
    """Where the model ended up and in which dtype, as loaded (not only as asked)."""
    model = getattr(loaded.pipe, "model", None)
    parameters = model.parameters() if hasattr(model, "parameters") else ()
    return {
        "device": str(getattr(loaded.pipe, "device", None)),
        "dtype": str(getattr(model, "dtype", None)).replace("torch.", ""),
        "device_map": loaded.kwargs.get("device_map"),
        "parameter_devices": sorted({str(p.device) for p in parameters}),
        "quantized": bool(getattr(model, "is_quantized", False) or getattr(model, "is_loaded_in_8bit", False)),
    }


def peak_memory() -> dict:
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    memory = {"peak_rss_mb": round(rss_kb / 1024, 1)}
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        memory["cuda_max_allocated_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        memory["cuda_max_reserved_mb"] = round(torch.cuda.max_memory_reserved() / 2**20, 1)
    return memory


class _NoBar:
    def update(self, n):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


def _progress(cfg: dict, total: int | None):
    if not cfg.get("progress", True):
        return _NoBar()
    from tqdm import tqdm

    return tqdm(desc=cfg["task"]["name"], total=total, unit="row", file=sys.stderr, dynamic_ncols=True, mininterval=0.5)
