"""Calling a step's pipeline on prepared inputs: batches, timing, and failures.

A batch that fails is retried row by row, so a bad row fails alone and its batch-mates still get
their outputs. An out-of-memory error is never retried row by row: it raises OutOfMemory, which
ends the run (or the sweep point) as `oom`."""
from __future__ import annotations

import logging
from typing import Any, Callable

from runner.bench.autobatch import input_size
from runner.bench.oom import check_injected_oom, is_oom
from runner.bench.stats import Timer
from runner.engine.errors import OutOfMemory
from runner.engine.pipeline_step import field_value
from runner.engine.settings import Settings
from runner.engine.step_run import StepRun
from runner.tasks import TEXT

log = logging.getLogger(__name__)

Result = tuple[Any, "BaseException | None"]  # (output, None) or (None, the row's error)


def call_step(run: StepRun, inputs: list, settings: Settings) -> list[Result]:
    """(output, None) or (None, error) per input, in input order."""
    if not inputs:
        return []
    order = list(range(len(inputs)))
    if settings.sort_by_length:
        # Longest first: similar lengths share a batch (less padding), and an OOM shows at once.
        order.sort(key=lambda i: input_size(inputs[i]), reverse=True)
    ordered = [inputs[i] for i in order]
    if settings.bench:  # one call per batch, for per-batch latencies
        results = []
        for start in range(0, len(ordered), run.batch_size):
            results += _timed_call(run, ordered[start:start + run.batch_size], one_batch=True)
    else:  # one call for the whole chunk: the pipeline batches it
        results = _timed_call(run, ordered, one_batch=False)
    restored: list = [None] * len(inputs)
    for position, result in zip(order, results):
        restored[position] = result
    return restored


def _timed_call(run: StepRun, inputs: list, one_batch: bool) -> list[Result]:
    with Timer() as timer:
        results = _call_batches(run, inputs)
    # Generated tokens are counted per batch in benchmark mode only (for tokens/s).
    tokens = _token_counter(run, results) if one_batch and run.spec.generative else None
    run.recorder.record(timer.seconds, len(inputs), one_batch=one_batch, count_tokens=tokens)
    return results


def _token_counter(run: StepRun, results: list[Result]) -> Callable[[], int]:
    return lambda: sum(count_tokens(run, output) for output, error in results if error is None)


def _call_batches(run: StepRun, inputs: list) -> list[Result]:
    try:
        check_injected_oom(min(run.batch_size, len(inputs)))
        outputs = run.step.run(inputs)
        return [(output, None) for output in outputs]
    except Exception as error:
        if is_oom(error):
            raise OutOfMemory(run.name, run.batch_size, error) from error
        log.debug("batch of %d rows failed in %s (%s); retrying row by row", len(inputs), run.name, error, exc_info=True)
    return [_call_one(run, x) for x in inputs]


def _call_one(run: StepRun, prepared) -> Result:
    try:
        return run.step.run([prepared])[0], None
    except Exception as error:  # this row's own failure, kept with the row
        if is_oom(error):
            raise OutOfMemory(run.name, 1, error) from error
        return None, error


def count_tokens(run: StepRun, output) -> int:
    """Generated tokens of one output, by re-tokenizing its text with the step's tokenizer."""
    tokenizer = getattr(run.step.pipe, "tokenizer", None)
    text_field = next((f for f, m in run.spec.produces.items() if m == TEXT), None)
    text = field_value(output, text_field) if text_field else None
    if tokenizer is None or not isinstance(text, str):
        return 0
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])
