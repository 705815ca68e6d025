"""Rows from the source, in chunks, and each row as one step sees it.

Rows travel in chunks of one batch (or, with length bucketing, one window of batches; fast batches are
grouped, see ChunkSizes): each step runs over the chunk's rows that are still alive, then every
finished row is written at once, so a `kill -9` loses at most the chunk in flight and memory holds one
chunk whatever the dataset's size."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from runner.engine.pipeline_step import field_value
from runner.engine.prefetch import prefetched
from runner.engine.settings import Settings
from runner.sources import Row

if TYPE_CHECKING:
    from runner.engine.step_run import StepRun


@dataclass
class Item:
    """A row on its way through the steps: the outputs so far, and whether a step failed it."""

    row: Row
    outputs: dict[str, Any] = field(default_factory=dict)
    error: dict | None = None  # its errors.jsonl record, written when its chunk is settled
    ahead: dict[str, dict[str, Any]] = field(default_factory=dict)  # step -> inputs decoded by the prefetcher
    batch: int = 0  # the batch the reader read it in: a chunk of grouped batches is called as these were

    @property
    def failed(self) -> bool:
        return self.error is not None


class RowReader:
    """The plan's rows (its shard), skipping the positions already `done` (a resumed run)."""

    def __init__(self, plan, done: set[int]):
        self.plan = plan
        self.done = done
        self.rows_read = 0  # rows read from the source for the first step (not those of later stages)

    def rows(self, limit: int | None = None) -> Iterator[Row]:
        for count, row in enumerate(self.plan.source.rows(self.plan.source_mapping, self.plan.shard)):
            if limit is not None and count >= limit:
                return
            yield row

    def chunks(
        self,
        size: "int | ChunkSizes",
        state: Path | None = None,
        decode: Callable[[Item], None] | None = None,
        prefetch: int = 0,
    ) -> Iterator[list[Item]]:
        """Chunks of rows not yet done; with `state`, only the rows an earlier stage kept, with its outputs.
        `size`: rows per chunk, or a ChunkSizes told how long the consumer took over each chunk.
        `decode`: called on each item before it joins a chunk, `prefetch` rows ahead in a background
        thread (0: in line). Close the generator (contextlib.closing) so that thread ends with the run."""
        sizes = size if isinstance(size, ChunkSizes) else ChunkSizes(size, grows=False)
        chunk: list[Item] = []
        with prefetched(self._items(state), decode or _nothing, prefetch) as items:
            for taken, item in enumerate(items):
                if state is None:
                    self.rows_read += 1  # counted as rows are taken, not as the prefetcher reads ahead
                item.batch = taken // sizes.unit
                chunk.append(item)
                if len(chunk) >= sizes.size:
                    handed = time.perf_counter()
                    yield chunk  # the consumer runs it through the steps and writes it before asking again
                    sizes.took(time.perf_counter() - handed)
                    chunk = []
        if chunk:
            yield chunk

    def _items(self, state: Path | None) -> Iterator[Item]:
        kept = _iter_state(state) if state is not None else None
        pending = next(kept, None) if kept is not None else None
        for row in self.rows():
            if row.index in self.done:
                continue
            item = Item(row)
            if kept is not None:
                while pending is not None and pending["index"] < row.index:
                    pending = next(kept, None)
                if pending is None or pending["index"] != row.index:
                    continue  # failed in an earlier stage
                item.outputs = pending["outputs"]
            yield item


FAST_CHUNK_SECONDS = 0.1  # a chunk done sooner: the next one takes twice as many batches
SLOW_CHUNK_SECONDS = 0.4  # one done later: half as many (never less than one batch)
GROWN_CHUNK_ROWS = 64  # grouping stops here (a batch of more rows is still one chunk)


class ChunkSizes:
    """Rows per chunk: one batch to start with; while chunks finish in under FAST_CHUNK_SECONDS, the
    next takes twice as many batches, up to GROWN_CHUNK_ROWS rows, and fewer again when they turn slow.

    Each chunk costs a pipeline call (its DataLoader and iterators), a write and a bar update: ~0.5 ms,
    4 % of the run at batch 1 on MiniLM (14 ms a row) when every batch was its own chunk, none at 32
    (benchmarks/throughput.py). Grouping only fast batches keeps that cost under 1 % while a kill still
    loses at most ~0.1 s of work (or one batch) and the bar still moves several times a second."""

    def __init__(self, batch_rows: int, grows: bool = True):
        self.unit = batch_rows
        self.size = batch_rows
        self.grows = grows
        self.most = max(batch_rows, GROWN_CHUNK_ROWS // batch_rows * batch_rows)

    def took(self, seconds: float) -> None:
        if not self.grows:
            return
        if seconds < FAST_CHUNK_SECONDS:
            self.size = min(self.size * 2, self.most)
        elif seconds > SLOW_CHUNK_SECONDS:
            self.size = max(self.unit, self.size // 2 // self.unit * self.unit)


def chunk_sizes(batch_rows: int, settings: Settings, prefetch: int) -> ChunkSizes:
    """Chunks of `batch_rows` (chunk_size), grouped while fast (ChunkSizes); a bucketing window is large
    already and stays as it is, with rows decoded ahead the chunk stays the batch the prefetcher keeps
    ready, and a benchmark calls one batch at a time anyway (its bench.max_rows budget is checked chunk
    by chunk)."""
    return ChunkSizes(batch_rows, grows=not (settings.sort_by_length or prefetch or settings.bench))


def chunk_size(steps: list[StepRun], settings: Settings) -> int:
    """One batch: each finished batch is written before the next starts (the local engine groups fast
    ones: chunk_sizes; Ray's blocks are one batch each). Length bucketing sorts within a window of
    batches, so its rows are written once the whole window is done: a kill loses at most a window.
    With batching.max_tokens, batch_size is the most rows a batch may hold, so the window stays
    window_batches x batch_size rows however the budget then cuts it."""
    largest = max(run.batch_size for run in steps)
    if settings.sort_by_length:
        return largest * settings.window_batches
    return largest


def step_view(run: StepRun, item: Item) -> Row:
    """The row as this step sees it: its task inputs, from source fields or earlier steps' outputs."""
    fields = {}
    for wanted, (producer, name) in run.inputs.items():
        if producer == "source":
            fields[wanted] = item.row.fields.get(name)
        else:
            fields[wanted] = field_value(item.outputs[producer], name)
    return Row(item.row.id, fields, error=item.row.error, index=item.row.index)


def _nothing(item: Item) -> None:
    pass


def _iter_state(path: Path) -> Iterator[dict]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)
