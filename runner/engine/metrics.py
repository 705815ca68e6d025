"""metrics.json: the run's counts, timings, memory, and each step's model, placement and figures."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from runner.bench.memory import peak_memory
from runner.bench.repeats import summarize
from runner.engine.error_summary import errors_by_cause, file_messages
from runner.engine.probe import figures as quantization_figures
from runner.engine.segments import with_totals
from runner.outputs.rundir import ERRORS

if TYPE_CHECKING:
    from runner.engine.execution import Execution
    from runner.engine.step_run import StepRun


def build_metrics(execution: Execution, status: str, started: float, error: str | None = None) -> dict:
    steps, counters = execution.steps, execution.counters
    total_seconds = sum(run.recorder.seconds for run in steps)
    timed_rows = steps[-1].recorder.rows if steps else 0
    metrics = {
        "status": status,
        "error": error,
        "run_dir": str(execution.run_dir),
        "task": "+".join(run.spec.id for run in steps) if steps else None,
        "steps_count": len(execution.plan.steps),
        "benchmark": execution.settings.bench,
        "rows_in": counters.rows_in,
        "rows_out": counters.rows_out,
        "rows_error": counters.rows_error,
        "rows_skipped": counters.rows_skipped,
        # read but not settled when the run stopped (a kill, Ctrl-C, a failure): not in rows_in, and
        # run again by resume=
        "rows_unfinished": max(0, execution.reader.rows_read - counters.rows_in),
        "rows_resumed": len(execution.reader.done),
        "stopped_early": counters.stopped_early,
        "inference_seconds": round(total_seconds, 4),
        "items_per_second": round(timed_rows / total_seconds, 3) if total_seconds and timed_rows else None,
        **end_to_end(execution),
        "wall_seconds": round(time.perf_counter() - started, 4),
        # dataset.prefetch as resolved: rows decoded ahead in a background thread (0: none, inline)
        "prefetch_rows": execution.prefetch_rows,
        **peak_memory(),
    }
    if steps:
        metrics.update(step_metrics(steps[-1], top_level=True))
        metrics["model_load_seconds"] = round(sum(r.loaded.load_seconds for r in steps if not r.reused), 4)
        metrics["model_reused"] = all(r.reused for r in steps)
    if steps and execution.settings.bench and status == "ok":
        metrics.update(measured(execution))
    metrics["steps"] = {run.name: step_metrics(run) for run in steps}
    metrics["errors_by_cause"] = errors_by_cause(file_messages(execution.run_dir / ERRORS), counters.skipped_causes)
    return with_totals(metrics, execution.earlier)


def end_to_end(execution: Execution) -> dict:
    """What items_per_second counts, and the rate a user sees: rows settled (written or failed) over
    the seconds from the first row read to the last row written, model load excluded, warm-up and
    reading, preparing and writing rows included (docs/outputs.md)."""
    warmup = execution.settings.warmup_batches if execution.settings.bench else 0
    basis = "timed pipeline calls of the last step" + (f", {warmup} warm-up batches excluded" if warmup else "")
    seconds, rows = execution.rows_seconds, execution.counters.rows_in
    return {
        "items_per_second_basis": basis,
        "end_to_end_seconds": round(seconds, 4) if seconds is not None else None,
        "end_to_end_items_per_second": round(rows / seconds, 3) if seconds and rows else None,
    }


def measured(execution: Execution) -> dict:
    """Benchmark mode: "measurement" (repeats, p50, spread, or too_short and why) from the last
    step's timed batches. A single step's items/s and tokens/s become the repeats' p50; a chain keeps
    its summed figure (every step's time), beside the last step's repeats."""
    steps, passes, cut_short_by = execution.steps, 1, None
    if execution.measuring is not None:
        passes, cut_short_by = execution.measuring.passes, execution.measuring.cut_short_by
    minimum = execution.settings.minimum
    summary = summarize(steps[-1].recorder.calls, minimum, passes, cut_short_by)
    figures: dict = {"measurement": summary}
    if summary["status"] == "ok" and len(steps) == 1:
        figures["items_per_second"] = summary["items_per_second"]["p50"]
        if "tokens_per_second" in summary:
            figures["tokens_per_second"] = summary["tokens_per_second"]["p50"]
        figures["items_per_second_basis"] = (
            f"p50 of {minimum.repeats} repeats of timed pipeline calls, {execution.settings.warmup_batches} "
            "warm-up batches excluded"
        )
    return figures


def step_metrics(run: StepRun, top_level: bool = False) -> dict:
    recorder = run.recorder
    metrics = {
        "batch_size": run.batch_size,
        "batch_size_requested": run.step.batch_size if run.autobatch is None else "auto",
        "autobatch": run.autobatch,
        "pipeline_task": run.loaded.pipeline_task,
        "model": run.loaded.ref.location,
        "model_origin": run.loaded.ref.origin,
        **run.placement,
        "latency_ms": recorder.latency_ms,
        "tokens_per_second": recorder.tokens_per_second,
    }
    quantization = quantization_figures(run)
    if quantization is not None:  # quantization=int8: what was done, and agreement with float32
        metrics["quantization"] = quantization
    if not top_level:
        metrics.update(
            {
                "rows_timed": recorder.rows,
                "inference_seconds": round(recorder.seconds, 4),
                "items_per_second": recorder.items_per_second,
                "model_load_seconds": round(run.loaded.load_seconds, 4),
                "model_reused": run.reused,
            }
        )
    return metrics


def placement(loaded) -> dict:
    """Where the model ended up and in which dtype, as loaded (not only as asked); a backend's own
    pipeline (runner/backends) says it itself."""
    if callable(getattr(loaded.pipe, "placement", None)):
        return loaded.pipe.placement()
    model = getattr(loaded.pipe, "model", None)
    parameters = model.parameters() if hasattr(model, "parameters") else ()
    return {
        "device": str(getattr(loaded.pipe, "device", None)),
        "dtype": str(getattr(model, "dtype", None)).replace("torch.", ""),
        "device_map": loaded.kwargs.get("device_map"),
        "parameter_devices": sorted({str(p.device) for p in parameters}),
        "quantized": bool(
            getattr(model, "is_quantized", False)
            or getattr(model, "is_loaded_in_8bit", False)
            or getattr(loaded, "quantization", None) is not None
        ),
    }
