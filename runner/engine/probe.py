"""quantization=int8's agreement probe: how far the int8 outputs are from float32's, on the run's own rows.

While the rows run, a step keeps the first `quantization.probe_rows` rows it computed (their prepared
pipeline inputs and int8 outputs; a re-timed benchmark pass adds nothing). When the rows are written,
those inputs go through the same pipeline call again with the float32 model swapped in, and the two
sets of outputs are compared by the task's own measure (runner.bench.agreement.compare: mean cosine
for vectors, label agreement, WER). The probe runs after the timed calls, outside items/s and
end_to_end_seconds, and writes nothing to predictions.jsonl.

The float32 model is the one quantize_dynamic copied from (runner/models/quantization.py), handed
over once and freed after the probe; a later run that reuses the cached int8 pipeline (a sweep
point) loads a float32 one again for its own probe.

engine=ray keeps the rows on its actors and runs this same probe in one Ray task at the end
(runner/engine/ray/probe.py).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runner.core.views import StepView

if TYPE_CHECKING:
    from runner.engine.step_run import StepRun

log = logging.getLogger(__name__)


@dataclass
class Probe:
    """The rows kept for the probe, and its result once it ran."""

    limit: int
    view: StepView  # the step's config: how to load the float32 model again when the cached one was taken
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    seen: set = field(default_factory=set)
    indices: list = field(default_factory=list)  # the kept rows' indices, in the order kept
    result: dict | None = None

    def keep(self, index: int, prepared: Any, output: Any) -> None:
        if len(self.inputs) < self.limit and index not in self.seen:
            self.seen.add(index)
            self.indices.append(index)
            self.inputs.append(prepared)
            self.outputs.append(output)


def new_probe(view: StepView, loaded) -> Probe | None:
    """A probe for a step whose model was quantized to int8 with probe_rows > 0; else None."""
    if loaded.quantization is None or not view.quantization.probe_rows:
        return None
    return Probe(view.quantization.probe_rows, view)


def run_probe(run: StepRun) -> None:
    """The kept rows through the float32 model, compared with their int8 outputs (once per run)."""
    probe = run.probe
    if probe is None or probe.result is not None or not probe.inputs or run.step.pipe is None:
        return
    from runner.engine.step_run import seed_everything

    started = time.perf_counter()
    reference, run.loaded.reference = run.loaded.reference, None
    if reference is None:
        reference = _load_float32(probe.view, run.spec)
    pipe = run.step.pipe
    quantized = pipe.model
    seed_everything(probe.view.run.seed)  # a sampling task draws as the run's first batch did
    pipe.model = reference
    try:
        outputs = run.step.run(list(probe.inputs))
    except Exception as error:  # the figure is missing, the run's outputs stand
        log.warning(
            "quantization=int8: the float32 probe failed (%s: %s); no agreement figure", type(error).__name__, error
        )
        probe.result = {"error": f"{type(error).__name__}: {error}"}
        return
    finally:
        pipe.model = quantized
        del reference
        _release_memory()
    figures = compare_as_written(run.spec, outputs, probe.outputs)
    probe.result = {"reference": "float32", **figures, "seconds": round(time.perf_counter() - started, 4)}
    probe.inputs, probe.outputs = [], []  # the decoded inputs are not kept past the probe


def compare_as_written(spec, reference: list, candidate: list) -> dict:
    """Two lists of pipeline outputs compared by the task's own measure (runner.bench.agreement.compare), as
    predictions.jsonl holds them (float32 vectors as the numbers written, runner.outputs.sinks.plain)."""
    from runner.bench.agreement import compare
    from runner.engine.pipeline_step import to_jsonable
    from runner.outputs.sinks import plain

    kind, output_field = spec.comparison()
    return compare(
        kind, output_field, [plain(to_jsonable(o)) for o in reference], [plain(to_jsonable(o)) for o in candidate]
    )


def _load_float32(view: StepView, spec):
    from dataclasses import replace

    from runner.backends import backend_for
    from runner.core.views import QuantizationView

    log.info("quantization=int8: loading the float32 model again for the agreement probe")
    return backend_for(view).load(replace(view, quantization=QuantizationView()), spec).pipe.model


def _release_memory() -> None:
    from runner.bench.oom import release_memory

    release_memory()


def figures(run: StepRun) -> dict | None:
    """metrics.json's `quantization` for a step: what was done, and the probe's agreement."""
    record = run.loaded.quantization
    if record is None:
        return None
    agreement = run.probe.result if run.probe is not None else None
    return {**record, "agreement": agreement}


# How each comparison kind says its figure (runner.bench.agreement.KINDS).
_SAID = {
    "vectors": lambda r: f"mean cosine {r['mean_cosine']:.3f} (min {r['min_cosine']:.3f})",
    "labels": lambda r: f"label agreement {r['label_agreement']:.3f}",
    "text": lambda r: f"WER {r['wer']:.3f} (exact match {r['exact_match']:.3f})",
    "exact": lambda r: f"exact match {r['exact_match']:.3f}",
}


def agreement_text(quantization: dict | None) -> str | None:
    """The run's closing line for a quantized step, e.g. `int8 agreement vs float32 on 16 rows: mean
    cosine 0.931 (min 0.820)`; None when nothing was probed."""
    result = (quantization or {}).get("agreement")
    if not result:
        return None
    mode = quantization.get("mode", "int8")
    if "error" in result:
        return f"{mode} agreement vs float32: the probe failed ({result['error']})"
    if result.get("agreement") is None:
        return f"{mode} agreement vs float32: no rows to compare"
    return f"{mode} agreement vs {result['reference']} on {result['rows']} rows: {said(result)}"


def said(result: dict) -> str:
    """An agreement result (runner.bench.agreement.compare) in words, by its kind; `no rows` without one."""
    if result.get("agreement") is None:
        return "no rows to compare"
    return _SAID[result["kind"]](result)
