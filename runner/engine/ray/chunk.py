"""What travels through the Ray stages: one chunk of rows (one local-engine chunk: a batch, or a
length-bucketing window), pickled into a one-column block row, so Ray never merges or splits it
and each stage runs exactly the batches engine=local runs."""

from __future__ import annotations

import pickle
from collections import Counter
from dataclasses import dataclass, field

from runner.engine.rows import Item

COLUMN = "chunk"  # the one column of every block


@dataclass
class Chunk:
    first: int  # index of its first row: chunks ascend and never overlap, so the driver can drop a resent one
    items: list[Item]
    # set by the last stage, in input order: ("prediction" | "error", record) as the local engine writes them
    records: list[tuple[str, dict]] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)  # on_error=skip: causes of the rows skipped (in no file)
    # on_error=fail or out of memory: {"kind": "row_failed" | "oom", "message", "hint", "step", "batch_size"};
    # later stages pass the chunk on untouched and the driver raises it once earlier chunks are written
    failure: dict | None = None
    stats: list[dict] = field(default_factory=list)  # one per stage that ran it: actor, step, rows, seconds
    step_metrics: dict[str, dict] = field(default_factory=dict)  # step -> its actor's figures (placement, ...)
    # quantization=int8: step -> the rows its actor kept for the agreement probe while running this chunk,
    # as (index, prepared inputs, int8 output) in the order kept (runner/engine/ray/probe.py)
    probe: dict[str, list] = field(default_factory=dict)

    def dumps(self) -> bytes:
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)


def loads(blob: bytes) -> Chunk:
    return pickle.loads(blob)
