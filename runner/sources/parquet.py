"""A Parquet file's rows for one shard, reading only the row groups that hold them.

A shard owns a contiguous block of positions (sharding.BLOCKS): its row groups are found in the
file's footer (row counts per group), so a shard of N reads about 1/N of the file, and rows before
dataset.skip are not read at all when they fill whole row groups.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from runner.sources.sharding import BLOCKS, owned, rows_after

# Rows per batch read: memory holds one batch of the file, never a whole row group.
BATCH_ROWS = 1024


def parquet_shard_records(
    path: Path, skip: int, limit: int | None, shard: dict
) -> Iterator[tuple[int, Any, dict[str, Any]]]:
    """(position after skip, id, record) of the rows the shard owns; the id is the row's place in the file."""
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path)
    total = rows_after(file.metadata.num_rows, skip, limit)
    positions = owned(total, shard["index"], shard["count"], BLOCKS, shard.get("unit", 1))
    start, stop = skip + positions.start, skip + positions.stop  # rows of the file
    groups, first = groups_between(file.metadata, start, stop)
    if not groups:
        return
    row = first
    for batch in file.iter_batches(batch_size=BATCH_ROWS, row_groups=groups):
        lo, hi = max(start - row, 0), min(stop - row, batch.num_rows)
        if lo < hi:
            for offset, record in enumerate(batch.slice(lo, hi - lo).to_pylist()):
                yield row + lo + offset - skip, row + lo + offset, record
        row += batch.num_rows
        if row >= stop:
            return


def groups_between(metadata, start: int, stop: int) -> tuple[list[int], int]:
    """The row groups holding rows start..stop-1 of the file, and the file row the first of them begins at."""
    groups, first, row = [], None, 0
    for group in range(metadata.num_row_groups):
        size = metadata.row_group(group).num_rows
        if row < stop and row + size > start:
            groups.append(group)
            first = row if first is None else first
        row += size
    return groups, first or 0
