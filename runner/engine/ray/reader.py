"""The plan's rows as a Ray datasource: one read task that reads them with the local engine's
RowReader (shard, resumed rows, dataset.skip/limit, each row's own read error) and yields one block
per chunk, in input order.

Why runner.sources and not Ray's own readers: a row the source cannot read must fail alone with the
runner's record (errors.jsonl), ids and indices must be the runner's, and `hf`, folders of audio and
images, inline and Python rows all have to read the same way as engine=local; decoding (the costly
part) still happens in the actors, when a step prepares a row. One read task keeps the chunks in
order without a reorder buffer; it streams, so Ray's backpressure bounds what is read ahead."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import partial
from typing import Iterator

from ray.data.block import BlockMetadata
from ray.data.datasource import Datasource, ReadTask

from runner.engine.rows import RowReader
from runner.engine.ray.chunk import COLUMN, Chunk


@dataclass
class ReadPlan:
    """What RowReader needs of the plan: the source, its column mapping and the rows this job owns."""

    source: object
    source_mapping: dict[str, str]
    shard: dict | None


class ChunkSource(Datasource):
    def __init__(self, plan, done: set[int], size: int, cwd: str):
        super().__init__()
        self.read_plan = ReadPlan(plan.source, plan.source_mapping, plan.shard)
        self.done, self.size, self.cwd = done, size, cwd

    def estimate_inmemory_data_size(self) -> int | None:
        return None

    def get_read_tasks(
        self, parallelism: int, per_task_row_limit: int | None = None, data_context=None
    ) -> list[ReadTask]:
        read = partial(read_chunks, self.read_plan, self.done, self.size, self.cwd)
        return [ReadTask(read, BlockMetadata(num_rows=None, size_bytes=None, exec_stats=None))]


def read_chunks(plan: ReadPlan, done: set[int], size: int, cwd: str) -> Iterator:
    import pyarrow as pa

    if os.path.isdir(cwd):  # relative dataset paths are the user's, wherever the task runs
        os.chdir(cwd)
    for items in RowReader(plan, done).chunks(size):
        blob = Chunk(items[0].row.index, items).dumps()
        yield pa.table({COLUMN: pa.array([blob], type=pa.binary())})
