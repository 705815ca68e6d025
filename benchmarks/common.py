"""What every benchmark part reports: a ratio of interleaved rounds, with its spread and its target.

A part module (benchmarks/<name>.py) exposes `measure(smoke: bool, rounds: int) -> list[Ratio]`;
`benchmarks/run.py` calls each and prints one table. `smoke=True` uses tiny models and a few rows, so
the whole set runs in seconds in CI (the numbers then say nothing; the code paths are exercised).

Timing on 2 shared cores is noisy, so a figure is never an absolute time: `interleaved` alternates the
two sides round by round (base, ours, base, ours ...) and reports ours/base per round.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Callable


@dataclass
class Ratio:
    name: str
    rounds: list[float]  # ours / base, one per round (higher is better unless `lower_is_better`)
    target: float | None = None  # the claim: ratio >= target (or <= with lower_is_better)
    lower_is_better: bool = False
    detail: str = ""  # what was compared, the absolute figures, the unit
    extra: dict = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.rounds)

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        return self.median <= self.target if self.lower_is_better else self.median >= self.target

    def line(self) -> str:
        spread = f"min {min(self.rounds):.3f} median {self.median:.3f} max {max(self.rounds):.3f}"
        goal = (
            ""
            if self.target is None
            else f"  target {'<=' if self.lower_is_better else '>='} {self.target:g}: "
            f"{'met' if self.met else 'NOT met'}"
        )
        return f"{self.name:<48} {spread}  ({len(self.rounds)} rounds){goal}" + (
            f"\n    {self.detail}" if self.detail else ""
        )

    def to_json(self) -> dict:
        return {**asdict(self), "median": self.median, "met": self.met}


def interleaved(
    rounds: int, base: Callable[[], float], ours: Callable[[], float], warmup: bool = True
) -> tuple[list[float], list[float], list[float]]:
    """Call base() and ours() alternately `rounds` times (after one untimed call each when `warmup`).
    Each returns one figure of the same kind: a rate (items/s; then Ratio(higher is better)) or a time
    (seconds; then Ratio(lower_is_better=True)). Returns (ours/base per round, base figures, ours)."""
    if warmup:
        base(), ours()
    base_values, our_values = [], []
    for _ in range(rounds):
        base_values.append(base())
        our_values.append(ours())
    ratios = [o / b for b, o in zip(base_values, our_values)]
    return ratios, base_values, our_values


class RunnerPlan:
    """The runner's plan composed from `overrides`, executed again and again with one model load (a
    shared cache), each execution into its own folder under `out`: the side a part races its peer with.
    Calling it returns rows/s with the model's first load left out."""

    def __init__(self, overrides: list[str], out, name: str = "runner"):
        from runner.config.compose import compose_config
        from runner.backends.cache import PipelineCache
        from runner.plan import make_plan

        self.plan = make_plan(compose_config([*overrides, "progress=false", "output.include_inputs=false"]))
        self.cache = PipelineCache()
        self.out, self.name, self.runs = out, name, 0
        self.last, self.rows = None, 0

    def __call__(self) -> float:
        import time

        from runner.engine import execute

        self.runs += 1
        self.last = self.out / f"{self.name}-{self.runs}"
        self.last.mkdir()
        started = time.perf_counter()
        metrics = execute(self.plan, self.last, cache=self.cache).to_json()
        elapsed = time.perf_counter() - started - (0 if metrics["model_reused"] else metrics["model_load_seconds"])
        self.rows = metrics["rows_out"]
        return self.rows / elapsed

    def outputs(self) -> list:
        """The last execution's outputs, in row order."""
        import json

        with (self.last / "predictions.jsonl").open() as lines:
            return [json.loads(line)["output"] for line in lines]

    def predictions_bytes(self) -> int:
        return (self.last / "predictions.jsonl").stat().st_size

    def model(self):
        (loaded,) = self.cache._loaded.values()
        return loaded.pipe.model
