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
from runner.engine.budget import pack_by_tokens, pair_tokens, reserved_tokens, token_lengths
from runner.engine.errors import OutOfMemory
from runner.engine.pipeline_step import field_value
from runner.engine.settings import Settings
from runner.engine.step_run import StepRun
from runner.tasks import TEXT

log = logging.getLogger(__name__)

Result = tuple[Any, "BaseException | None"]  # (output, None) or (None, the row's error)


def call_step(run: StepRun, inputs: list, settings: Settings, groups: list[int] | None = None) -> list[Result]:
    """(output, None) or (None, error) per input, in input order. `groups`: the sizes of the runs of
    inputs read as one batch each (a chunk of grouped batches, runner.engine.rows.ChunkSizes); they are
    batched as they would have been alone: one pipeline call for each run of groups whose batches it
    cuts the same way. Outputs then never depend on the grouping (padding changes a batch's scores)."""
    if not inputs:
        return []
    segments = _segments(groups, run.batch_size) if groups else []
    if len(segments) > 1:
        parts = _split(inputs, [sum(segment) for segment in segments])
        return [result for part, segment in zip(parts, segments) for result in call_step(run, part, settings, segment)]
    batches = token_batches(run, inputs, settings.max_tokens) if settings.max_tokens else None
    if batches is not None:
        results = _call_token_batches(run, [[inputs[i] for i in batch] for batch in batches], settings.bench)
        return _restored([i for batch in batches for i in batch], results)
    order = list(range(len(inputs)))
    if settings.sort_by_length:
        # Longest first: similar lengths share a batch (less padding), and an OOM shows at once.
        order.sort(key=lambda i: input_size(inputs[i]), reverse=True)
    ordered = [inputs[i] for i in order]
    if settings.bench:  # one call per batch, for per-batch latencies
        results = []
        for start in range(0, len(ordered), run.batch_size):
            results += _timed_call(run, ordered[start : start + run.batch_size], one_batch=True)
    else:  # one call for the whole chunk: the pipeline batches it
        results = _timed_call(run, ordered, one_batch=False, groups=None if settings.sort_by_length else groups)
    return _restored(order, results)


def _segments(groups: list[int], batch_size: int) -> list[list[int]]:
    """The groups cut into runs that one call batches as each group alone would be: a run ends at a
    group that does not fill whole batches (a row of it failed earlier)."""
    segments, current = [], []
    for size in groups:
        current.append(size)
        if size % batch_size:
            segments.append(current)
            current = []
    return segments + [current] if current else segments


def _split(inputs: list, sizes: list[int]) -> list[list]:
    """`inputs` cut into consecutive parts of these sizes."""
    parts, start = [], 0
    for size in sizes:
        parts.append(inputs[start : start + size])
        start += size
    return parts


def token_batches(run: StepRun, inputs: list, max_tokens: int) -> list[list[int]] | None:
    """The chunk's positions cut into batches by padded tokens (engine/budget.py); None when the step's
    inputs hold no text to count (it is then batched by batch_size)."""
    lengths = token_lengths(run.step.pipe, inputs)
    if lengths is None:
        return None
    reserved = reserved_tokens(run.step.pipe, run.step.params, run.spec.generative)
    reserved += pair_tokens(run.step.pipe, run.step.params)
    return pack_by_tokens(lengths, max_tokens, run.batch_size, reserved)


def _call_token_batches(run: StepRun, batches: list[list], bench: bool) -> list[Result]:
    """One pipeline call per batch, each at its own size. In benchmark mode each batch is timed as one;
    otherwise the chunk is timed as one call, as a chunk of fixed batches is."""
    if bench:
        return [
            result for batch in batches for result in _timed_call(run, batch, one_batch=True, batch_size=len(batch))
        ]
    with Timer() as timer:
        results = [result for batch in batches for result in _call_batches(run, batch, len(batch))]
    run.recorder.record(timer.seconds, sum(len(batch) for batch in batches), one_batch=False)
    return results


def _restored(order: list[int], results: list[Result]) -> list[Result]:
    """Results given in `order` (positions), put back in input order."""
    restored: list = [None] * len(order)
    for position, result in zip(order, results):
        restored[position] = result
    return restored


def _timed_call(
    run: StepRun, inputs: list, one_batch: bool, batch_size: int | None = None, groups: list[int] | None = None
) -> list[Result]:
    with Timer() as timer:
        results = _call_batches(run, inputs, batch_size, groups)
    # Generated tokens are counted per batch in benchmark mode only (for tokens/s).
    tokens = _token_counter(run, results) if one_batch and run.spec.generative else None
    run.recorder.record(timer.seconds, len(inputs), one_batch=one_batch, count_tokens=tokens)
    return results


def _token_counter(run: StepRun, results: list[Result]) -> Callable[[], int]:
    return lambda: sum(count_tokens(run, output) for output, error in results if error is None)


def _call_batches(
    run: StepRun, inputs: list, batch_size: int | None = None, groups: list[int] | None = None
) -> list[Result]:
    """`inputs` through the pipeline in batches of `batch_size` (the step's when None). When the call
    fails, each of the `groups` (grouped batches) is called again alone, and a group that fails
    again row by row: the other groups' rows keep their batched outputs."""
    size = batch_size or run.batch_size
    try:
        check_injected_oom(min(size, len(inputs)))
        outputs = run.step.run(inputs, batch_size=size)
        return [(output, None) for output in outputs]
    except Exception as error:
        if is_oom(error):
            raise OutOfMemory(run.name, size, error) from error
        log.debug(
            "batch of %d rows failed in %s (%s); retrying them alone", len(inputs), run.name, error, exc_info=True
        )
    if groups and len(groups) > 1:
        return [result for group in _split(inputs, groups) for result in _call_batches(run, group, batch_size)]
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
