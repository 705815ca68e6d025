"""What a job hands back to Hydra: its exit code, or with `objective=<metric>` that metric of its
metrics.json, so that an optimizing sweeper (hydra/sweeper=optuna) has a number to search on.

A point with no number (out of memory, skipped after an OOM, failed, its metric null) returns a
FailedTrial. Hydra's Optuna sweeper calls float() on what a job returns: a value float() refuses
makes that trial FAILED and the study goes on. The other ways out end the study: a job that raises is
re-raised by the sweeper (its max_failure_rate is 0.0 by default), and NaN is refused by optuna's
Study.tell, whose error escapes the sweeper. A FailedTrial also carries the job's exit code, so `run -m`
exits as it does without an objective (runner.sweep.exit_codes reads it with `exit_code_of`).

No import of torch or Hydra here: the task function (runner.cli) and the exit-code callback use it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from runner.outputs.rundir import METRICS

SEARCH_PLUGIN = "hydra_plugins.hydra_optuna_sweeper"  # the `search` extra: hydra-optuna-sweeper


@dataclass(frozen=True)
class Objective:
    path: tuple[str, ...]  # where the figure sits in metrics.json
    higher_is_better: bool
    unit: str


# The figures metrics.json holds for every benchmarked point; the sweeper's `direction` must match:
# maximize the rates, minimize latencies and memory.
OBJECTIVES = {
    "items_per_second": Objective(("items_per_second",), True, "rows/s, timed pipeline calls"),
    "end_to_end_items_per_second": Objective(
        ("end_to_end_items_per_second",), True, "rows/s, reading and writing included"
    ),
    "tokens_per_second": Objective(("tokens_per_second",), True, "tokens/s (tasks that count tokens)"),
    "latency_p50": Objective(("latency_ms", "p50"), False, "ms per batch, median"),
    "latency_p90": Objective(("latency_ms", "p90"), False, "ms per batch, 90th percentile"),
    "latency_p99": Objective(("latency_ms", "p99"), False, "ms per batch, 99th percentile"),
    "peak_rss_mb": Objective(("peak_rss_mb",), False, "MB, the process's peak resident memory"),
    "cuda_max_allocated_mb": Objective(("cuda_max_allocated_mb",), False, "MB, CUDA peak allocated (GPU only)"),
}


@dataclass(frozen=True)
class FailedTrial:
    """A job's return value when its point has no objective value: float() refuses it (see above)."""

    exit_code: int
    reason: str

    def __float__(self) -> float:
        raise TypeError(self.reason)

    def __str__(self) -> str:
        return f"no value: {self.reason}"


def direction(name: str) -> str:
    return "maximize" if OBJECTIVES[name].higher_is_better else "minimize"


def direction_mismatch(objective: str, sweeper_direction) -> str | None:
    """A warning when the sweeper would optimize the metric the wrong way (maximize a latency)."""
    wanted = direction(objective)
    given = str(getattr(sweeper_direction, "name", sweeper_direction)).lower()
    if given in ("maximize", "minimize") and given != wanted:
        return (
            f"objective {objective} is {'higher' if wanted == 'maximize' else 'lower'} is better, but "
            f"hydra.sweeper.direction={given}: set hydra.sweeper.direction={wanted}"
        )
    return None


def check_search_plugin(argv: list[str]) -> None:
    """hydra/sweeper=optuna without the plugin installed is a config error naming the extra, rather
    than Hydra's "Could not find 'hydra/sweeper/optuna'" and its search path."""
    from runner.core.extras import require

    if any(arg.lstrip("+~").replace("override ", "") == "hydra/sweeper=optuna" for arg in argv):
        require(SEARCH_PLUGIN, "hydra/sweeper", "hydra/sweeper=optuna (Hydra's Optuna sweeper plugin)")


def job_return_value(objective: str | None, run_dir: Path, exit_code: int) -> int | float | FailedTrial:
    """The exit code without an objective; with one, the metric as a float or a FailedTrial."""
    if objective is None:
        return exit_code
    if exit_code != 0:
        return FailedTrial(exit_code, f"the job exited with code {exit_code}")
    try:
        metrics = json.loads((Path(run_dir) / METRICS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return FailedTrial(exit_code, f"no readable {METRICS} in {run_dir}")
    if metrics.get("status") != "ok":
        return FailedTrial(exit_code, f"the point's status is {metrics.get('status')}")
    measurement = metrics.get("measurement") or {}
    if measurement.get("status") == "too_short":  # its figure is one short pass: not a value to optimize on
        return FailedTrial(exit_code, f"the point was too short to measure ({measurement.get('reason')})")
    value = _lookup(metrics, OBJECTIVES[objective].path)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return FailedTrial(exit_code, f"{objective} is {value!r} in {METRICS}")
    return float(value)


def exit_code_of(return_value) -> int:
    """The exit code a job's return value stands for: its own (an int), a FailedTrial's, else 0."""
    if isinstance(return_value, FailedTrial):
        return return_value.exit_code
    if isinstance(return_value, int) and not isinstance(return_value, bool):
        return return_value
    return 0  # an objective value (the job finished), or a task function that returns nothing


def _lookup(metrics: dict, path: tuple[str, ...]):
    value = metrics
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value
