"""The config keys the engine reads, read once."""

from __future__ import annotations

from dataclasses import dataclass, field

from runner.bench.repeats import Minimum
from runner.bench.stats import BatchRecorder


@dataclass
class Settings:
    bench: bool
    warmup_batches: int
    max_rows: int | None
    max_seconds: float | None
    sort_by_length: bool
    window_batches: int
    max_tokens: int | None  # with sort_by_length: cut batches by padded tokens (engine/budget.py)
    on_error: str
    include_inputs: bool
    output_steps: str
    progress: bool
    prefetch: int | str = "auto"  # dataset.prefetch: rows decoded ahead in a background thread, or auto
    minimum: Minimum = field(default_factory=Minimum)  # bench.repeats/min_batches/min_seconds (bench mode)

    @classmethod
    def from_config(cls, cfg: dict, bench: bool) -> "Settings":
        return cls(
            bench=bench,
            warmup_batches=cfg["bench"]["warmup_batches"],
            max_rows=cfg["bench"]["max_rows"],
            max_seconds=cfg["bench"]["max_seconds"],
            sort_by_length=cfg["batching"]["sort_by_length"],
            window_batches=cfg["batching"]["window_batches"],
            max_tokens=cfg["batching"].get("max_tokens"),
            on_error=cfg["on_error"],
            include_inputs=cfg["output"].get("include_inputs", True),
            output_steps=cfg["output"]["steps"],
            progress=cfg.get("progress", True),
            prefetch=cfg["dataset"].get("prefetch", "auto"),
            minimum=minimum_from(cfg["bench"]),
        )

    def new_recorder(self) -> BatchRecorder:
        """A step's timing: warm-up and budget apply in benchmark mode only."""
        if not self.bench:
            return BatchRecorder()
        return BatchRecorder(self.warmup_batches, self.max_rows, self.max_seconds)


def minimum_from(bench: dict) -> Minimum:
    """A saved config from before these keys measures as the defaults say."""
    default = Minimum()
    return Minimum(
        bench.get("repeats", default.repeats),
        bench.get("min_batches", default.batches),
        bench.get("min_seconds", default.seconds),
    )
