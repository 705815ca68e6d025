"""Which rows a shard (`shard.count=N shard.index=i`) owns, as positions after dataset.skip.

Two assignments, both a partition of the positions 0..T-1 (T: rows after skip and limit):
- round-robin, position p to shard p % N: any source can pick its rows so, while reading them in order;
- blocks, N balanced contiguous ranges: a Parquet file's shard then reads only the row groups that hold
  its range, about 1/N of the file, where round-robin would read every row group.
Records keep "index" = the position, so merge and resume order rows the same whichever assignment ran.
Pure functions of the config: merge calls them with the config a shard saved, without opening data.
"""

from __future__ import annotations

from pathlib import Path

ROUND_ROBIN, BLOCKS = "round-robin", "blocks"


def assignment(dataset_cfg: dict) -> str:
    """BLOCKS for a Parquet file (dataset=file, format parquet or a .parquet path), ROUND_ROBIN otherwise."""
    if (dataset_cfg or {}).get("type") != "file":
        return ROUND_ROBIN
    fmt = dataset_cfg.get("format") or "auto"
    if fmt == "auto":
        fmt = "parquet" if Path(str(dataset_cfg.get("path", ""))).suffix.lower() == ".parquet" else fmt
    return BLOCKS if fmt == "parquet" else ROUND_ROBIN


def owned(total: int, index: int, count: int, how: str) -> range:
    """The positions shard `index` of `count` owns among 0..total-1."""
    if how == BLOCKS:
        return range(total * index // count, total * (index + 1) // count)
    return range(index, total, count)


def owner(position: int, total: int, count: int, how: str) -> int:
    """The shard that owns `position` (the inverse of owned)."""
    if how == BLOCKS:
        return ((position + 1) * count - 1) // total if total else 0
    return position % count


def rows_after(size: int, skip: int, limit: int | None) -> int:
    """Rows left of `size` after skipping `skip` and keeping at most `limit`."""
    left = max(0, size - skip)
    return left if limit is None else min(left, limit)
