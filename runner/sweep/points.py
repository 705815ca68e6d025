"""Read a finished sweep from disk: one point per job folder, from the files each job left behind.

Only files are read (never in-process state), so the report works whichever launcher ran the jobs
(basic, joblib, submitit) and can be rebuilt later. A job folder is any folder under the sweep
holding `.hydra/overrides.yaml`, `metrics.json` or `run.json`; a job that crashed before writing
metrics.json still counts, with the status from run.json or "error".
"""

from __future__ import annotations

import re
from pathlib import Path

from runner.outputs.rundir import METRICS, RECORD, JsonFile, RunDir

MARKERS = (".hydra/overrides.yaml", METRICS, RECORD)
# A job's exit code, written by runner.sweep.exit_codes.JobExitCodes in each job's folder.
EXIT_FILE = "job_exit.json"
ROWS_FAILED_CODE = 4  # runner.engine.error_summary.ROWS_FAILED: failed rows beyond max_error_fraction
BATCH_KEY = "batch_size"
SWEEP_RESUME = "sweep.resume"  # a sweep-level key, never one of a point's own
STATUSES = ("ok", "too_short", "oom", "error", "rows_failed", "skipped_after_oom")


def find_job_dirs(sweep_dir: Path) -> list[Path]:
    found = {
        path.parent.parent if path.name == "overrides.yaml" else path.parent
        for marker in MARKERS
        for path in sweep_dir.rglob(Path(marker).name)
        if path.as_posix().endswith(marker)
    }
    found.discard(sweep_dir)
    return sorted(found, key=lambda p: _natural_key(p.relative_to(sweep_dir).as_posix()))


def _natural_key(text: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def read_point(job_dir: Path, sweep_dir: Path) -> dict:
    """One row of the report: the job's overrides and the metrics.json contract, missing keys as None."""
    metrics = _read_json(RunDir(job_dir).read_metrics)
    record = _read_json(RunDir(job_dir).read_record)
    overrides = read_overrides(job_dir)
    latency = metrics.get("latency_ms") or {}
    autobatch = metrics.get("autobatch")
    requested = metrics.get("batch_size_requested", _as_int(overrides.get(BATCH_KEY)) or overrides.get(BATCH_KEY))
    exit_code = read_exit_code(job_dir)
    return {
        "job": job_dir.relative_to(sweep_dir).as_posix(),
        "overrides": overrides,
        "override_args": read_override_args(job_dir),
        "status": point_status(metrics, record, exit_code),
        "exit_code": exit_code,
        "error": metrics.get("error"),
        "batch_size": metrics.get("batch_size", _as_int(overrides.get(BATCH_KEY))),
        "batch_size_requested": requested,
        "items_per_second": metrics.get("items_per_second"),
        **repeat_figures(metrics.get("measurement")),
        "tokens_per_second": metrics.get("tokens_per_second"),
        "latency_p50_ms": latency.get("p50"),
        "latency_p90_ms": latency.get("p90"),
        "latency_p99_ms": latency.get("p99"),
        **peak_memory(metrics),
        "peak_rss_mb": metrics.get("peak_rss_mb"),
        "cuda_max_allocated_mb": metrics.get("cuda_max_allocated_mb"),
        "cuda_max_reserved_mb": metrics.get("cuda_max_reserved_mb"),
        "model_load_seconds": metrics.get("model_load_seconds"),
        "model_reused": metrics.get("model_reused"),
        "rows_out": metrics.get("rows_out"),
        "rows_error": metrics.get("rows_error"),
        "autobatch": autobatch,
        "run_dir": metrics.get("run_dir"),  # where the rows went (a resumed run: the run it resumed)
    }


def repeat_figures(measurement: dict | None) -> dict:
    """The repeats' items/s range and spread, and why a point was too short; None where the point
    was not measured in repeats (benchmark mode off, or metrics.json from before them)."""
    measurement = measurement or {}
    rates = measurement.get("items_per_second") or {}
    return {
        "repeats": len(rates["repeats"]) if rates.get("repeats") else None,
        "items_per_second_min": rates.get("min"),
        "items_per_second_max": rates.get("max"),
        "items_per_second_spread": rates.get("spread"),
        "too_short_reason": measurement.get("reason") if measurement.get("status") == "too_short" else None,
    }


def point_status(metrics: dict, record: dict, exit_code: int | None = None) -> str:
    """metrics.json's status, "too_short" for a finished run whose timings were too few to trust;
    without one, a finished run (rows_out present) is ok, and a job without metrics takes run.json's
    status (error, interrupted) or "error". A finished run whose job still failed (exit code 4: more
    failed rows than max_error_fraction allows) is "rows_failed", as `run -m` and a search count it."""
    if exit_code and metrics.get("status") == "ok":
        return "rows_failed" if exit_code == ROWS_FAILED_CODE else "error"
    if metrics.get("status") == "ok" and (metrics.get("measurement") or {}).get("status") == "too_short":
        return "too_short"
    if metrics.get("status"):
        return metrics["status"]
    if record.get("status") not in (None, "ok"):
        return record["status"]
    return "ok" if metrics.get("rows_out") is not None else "error"


def read_exit_code(job_dir: Path) -> int | None:
    """The job's exit code from job_exit.json, None where the launcher left none (a merged or older sweep)."""
    import json

    try:
        return int(json.loads((job_dir / EXIT_FILE).read_text())["exit_code"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def peak_memory(metrics: dict) -> dict:
    """The memory figure to compare: CUDA max allocated when the point ran on a GPU, else peak RSS."""
    if metrics.get("cuda_max_allocated_mb") is not None:
        return {"peak_memory_mb": metrics["cuda_max_allocated_mb"], "peak_memory_source": "cuda_max_allocated"}
    if metrics.get("peak_rss_mb") is not None:
        return {"peak_memory_mb": metrics["peak_rss_mb"], "peak_memory_source": "peak_rss"}
    return {"peak_memory_mb": None, "peak_memory_source": None}


def read_override_args(job_dir: Path) -> list[str]:
    """The job's command-line overrides as typed (Hydra saves them in .hydra/overrides.yaml), without
    sweep.resume: a resumed sweep's points are the same points as before (runner.repro.sweep_resume)."""
    path = job_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return []
    import yaml  # PyYAML comes with Hydra

    args = [str(item) for item in yaml.safe_load(path.read_text()) or []]
    return [arg for arg in args if arg.partition("=")[0].lstrip("+~") != SWEEP_RESUME]


def read_overrides(job_dir: Path) -> dict[str, str]:
    """key -> value of the job's overrides, in order (`+`/`++`/`~` prefixes dropped from keys)."""
    overrides = {}
    for arg in read_override_args(job_dir):
        key, _, value = arg.partition("=")
        overrides[key.lstrip("+~")] = value
    return overrides


def _read_json(read) -> dict:
    """The file's keys, as written; {} when it is absent (the job crashed) or cut short mid-write."""
    try:
        found: JsonFile | None = read()
    except (OSError, ValueError):
        return {}
    return found.to_json() if found is not None else {}


def _as_int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def annotate(points: list[dict]) -> list[str]:
    """Give each point its group (the other swept overrides) and its speedup over the batch-1 point of
    that group; return the swept keys. A key is swept when its value differs between points."""
    keys = {key for point in points for key in point["overrides"]}
    swept = sorted(k for k in keys if len({p["overrides"].get(k) for p in points}) > 1)
    for point in points:
        point["group"] = " ".join(f"{k}={point['overrides'].get(k)}" for k in swept if k != BATCH_KEY)
    baseline = {}
    for point in points:
        if point["status"] == "ok" and point["batch_size"] == 1 and point["items_per_second"]:
            baseline.setdefault(point["group"], point["items_per_second"])
    for point in points:
        base, rate = baseline.get(point["group"]), point["items_per_second"]
        comparable = base and rate is not None and point["status"] == "ok"
        point["speedup_vs_batch1"] = round(rate / base, 3) if comparable else None
    return swept


def common_overrides(points: list[dict], swept: list[str]) -> list[str]:
    """The overrides every point shares, as typed."""
    args = points[0]["override_args"] if points else []
    return [arg for arg in args if arg.partition("=")[0].lstrip("+~") not in swept]


def earlier_oom(sweep_dir: str | Path, override_args: list[str], batch_size: int) -> dict | None:
    """For a job about to run: a finished point of the same sweep, with the same overrides except
    batch_size, that ran out of memory at a batch size <= this one (the smallest such), else None.
    Read from the job folders' files, so it works with any launcher; with a parallel launcher a point
    still running is simply not seen yet."""
    mine = _without_batch(override_args)
    found = None
    sweep_dir = Path(sweep_dir)
    for job_dir in find_job_dirs(sweep_dir):
        point = read_point(job_dir, sweep_dir)
        if (
            point["status"] == "oom"
            and point["batch_size"] is not None
            and point["batch_size"] <= batch_size
            and _without_batch(point["override_args"]) == mine
            and (found is None or point["batch_size"] < found["batch_size"])
        ):
            found = point
    return found


def _without_batch(override_args: list[str]) -> dict[str, str]:
    pairs = (arg.partition("=") for arg in override_args)
    return {key.lstrip("+~"): value for key, _, value in pairs if key.lstrip("+~") != BATCH_KEY}
