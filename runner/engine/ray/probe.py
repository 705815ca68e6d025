"""quantization=int8's agreement probe on engine=ray: engine=local's probe (runner/engine/probe.py) on the
same rows, in the same order, in one pipeline call, so metrics.json carries the figure engine=local
computes for the run.

Which rows: engine=local keeps the first `quantization.probe_rows` rows a step computes, chunk after
chunk in input order. On Ray each actor keeps its own first probe_rows rows (engine=local's Probe.keep,
in the RowLoop) and sends them on the chunks they came in; the driver, which gets the chunks in input
order, takes the first probe_rows of them. Those are engine=local's rows: an actor runs its chunks in
the order given, so the rows it kept before one of the run's first probe_rows rows all come before that
row in the run, fewer than probe_rows of them, and that row was kept too. A chunk run again after an
actor died is sent again by a fresh actor; the driver drops the copy with its rows.

Where the float32 comparison runs: in one Ray task after the last chunk is written, with a step
actor's resources, which loads the step as an actor does (the int8 model and the float32 copy it
starts from) and calls engine=local's run_probe with the rows. Not on each actor: an actor sees only
its own chunks, so its float32 calls would batch other rows than engine=local's (a batch's padding
and its activation scales move the figures), a figure per actor could not be merged into the run's
(min over rows, WER over words), and every actor would hold a float32 copy beside its int8 model
for the whole run. The cost is one more model load, after the timed rows (not in items/s or
end_to_end_seconds)."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from runner.engine.settings import Settings
from runner.engine.ray.chunk import Chunk
from runner.core.views import StepView

if TYPE_CHECKING:
    from runner.engine.ray.stage import StagePlan

log = logging.getLogger(__name__)


class ProbeRows:
    """The driver's side: each quantized step's first probe_rows rows, from the chunks as they are written."""

    def __init__(self, steps: dict[str, StepView]):
        self.limits = {name: step.quantization.probe_rows for name, step in steps.items()}
        self.rows: dict[str, list] = {}  # step -> [(index, prepared inputs, int8 output)], in engine=local's order

    def add(self, chunk: Chunk) -> None:
        for name, rows in chunk.probe.items():
            kept = self.rows.setdefault(name, [])
            kept.extend(rows[: max(0, self.limits.get(name, 0) - len(kept))])

    def run(self, stage: StagePlan, engine, step_metrics: dict[str, dict]) -> None:
        """Each step's probe, one Ray task after another; its result goes to the step's `quantization`."""
        import ray

        task = ray.remote(probe_step).options(
            num_cpus=engine.cpus_per_actor, num_gpus=engine.gpus_per_actor or 0, max_retries=engine.max_restarts
        )
        for name, rows in self.rows.items():
            quantization = (step_metrics.get(name) or {}).get("quantization")
            if not rows or quantization is None:
                continue
            log.info("quantization=%s: step %s's agreement probe on %d rows", quantization["mode"], name, len(rows))
            started = time.perf_counter()
            try:
                result = ray.get(task.remote(stage, name, rows))
                log.info(
                    "step %s's agreement probe took %.1fs (a Ray task: the model loaded again)",
                    name,
                    time.perf_counter() - started,
                )
            except Exception as raised:  # the figure is missing, the run's outputs stand
                error = getattr(raised, "cause", None) or raised  # a RayTaskError carries the task's own error
                log.warning("the agreement probe failed (%s: %s); no agreement figure", type(error).__name__, error)
                result = {"error": f"{type(error).__name__}: {error}"}
            step_metrics[name]["quantization"] = {**quantization, "agreement": result}


def probe_step(stage: StagePlan, name: str, rows: list) -> dict | None:
    """In a Ray worker: the step loaded as its actors load it, the rows kept in its Probe as engine=local
    keeps them, and engine=local's run_probe; the probe's result (None when the step is not quantized)."""
    from runner.engine.probe import run_probe
    from runner.engine.ray.stage import load_stage_step

    run = load_stage_step(stage, name, Settings.from_views(stage.views, bench=False))
    if run.probe is None:
        return None
    for index, prepared, output in rows:
        run.probe.keep(index, prepared, output)
    run_probe(run)
    return run.probe.result
