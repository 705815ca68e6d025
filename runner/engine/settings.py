"""The config keys the engine reads, read once."""

from __future__ import annotations

from dataclasses import dataclass, field

from runner.bench.repeats import Minimum
from runner.bench.stats import BatchRecorder
from runner.core.views import ConfigViews


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
        """The engine's settings from a validated config (a plan has its views: from_views)."""
        return cls.from_views(ConfigViews.from_config(cfg), bench)

    @classmethod
    def from_views(cls, views: ConfigViews, bench: bool) -> "Settings":
        """The engine's settings from the run's views (runner/core/views.py)."""
        timing, batching, output, run = views.bench, views.batching, views.output, views.run
        return cls(
            bench=bench,
            warmup_batches=timing.warmup_batches,
            max_rows=timing.max_rows,
            max_seconds=timing.max_seconds,
            sort_by_length=batching.sort_by_length,
            window_batches=batching.window_batches,
            max_tokens=batching.max_tokens,
            on_error=run.on_error,
            include_inputs=output.include_inputs,
            output_steps=output.steps,
            progress=run.progress,
            prefetch=views.dataset.prefetch,
            minimum=Minimum(timing.repeats, timing.min_batches, timing.min_seconds),
        )

    def new_recorder(self) -> BatchRecorder:
        """A step's timing: warm-up and budget apply in benchmark mode only."""
        if not self.bench:
            return BatchRecorder()
        return BatchRecorder(self.warmup_batches, self.max_rows, self.max_seconds)
