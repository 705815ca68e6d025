"""Which rows a shard (`shard.count=N shard.index=i`) owns, as positions after dataset.skip.

Rows are owned in whole batch units (batch_unit: unit k is positions [k*U, (k+1)*U), U the batch the
local engine calls the model on), so a shard calls the model on the very batches an unsharded run does:
padding, hence every float, is the same, and the merged shards equal the unsharded run byte for byte.
Two assignments of the units, both a partition of the positions 0..T-1 (T: rows after skip and limit):
- round-robin, unit k to shard k % N (position p to shard p % N at batch_size=1): any source can pick
  its rows so, while reading them in order;
- blocks, N balanced contiguous runs of units: a Parquet file's shard then reads only the row groups that
  hold its range, about 1/N of the file, where round-robin would read every row group.
Records keep "index" = the position, so merge and resume order rows the same whichever assignment ran.
Pure functions: a run's plan gives them its views (runner/plan); merge calls batch_unit and assignment
with the config a shard saved (its run.json), without opening data.
"""

from __future__ import annotations

from pathlib import Path

ROUND_ROBIN, BLOCKS = "round-robin", "blocks"


def batch_unit(cfg: dict) -> int:
    """Rows of the unit the local engine batches together, by global position: unit k is positions
    [k*U, (k+1)*U). U is the largest step batch_size (each chunk of rows starts a batch), times
    batching.window_batches with sort_by_length (rows are sorted, and max_tokens budgets cut, within
    such a window). 1 when a step's batch_size is auto (found at run time: each run may find another).
    A shard that owns whole units, and a resume that redoes a unit an interruption cut, then call the
    model on the same batches as an unsharded, uninterrupted run: padding, hence every float, the same."""
    top = cfg.get("batch_size")
    steps = ((cfg.get("graph") or {}).get("steps") or {}).values()
    sizes = [step.get("batch_size", top) if isinstance(step, dict) else top for step in steps] or [top]
    batching = cfg.get("batching") or {}
    return unit_of(
        [top if size is None else size for size in sizes],
        bool(batching.get("sort_by_length")),
        int(batching.get("window_batches") or 1),
    )


def unit_of(sizes: list, sort_by_length: bool, window_batches: int) -> int:
    """batch_unit from the steps' batch sizes and the batching keys (a plan gives its views' values)."""
    if not all(isinstance(size, int) and not isinstance(size, bool) and size > 0 for size in sizes):
        return 1
    return max(sizes) * (window_batches if sort_by_length else 1)


def cut_units(done: set[int], unit: int, total: int | None = None, ends_after=None) -> set[int]:
    """The positions of `done` in units not wholly done (a run stopped mid-unit wrote part of one).
    `total`: the rows of the data (after skip and limit), whose last unit may be shorter. When it is not
    known, `ends_after(position)` says whether the data holds no row after that position (asked only of
    a last unit found short: it may read the data); without either, a short last unit counts as cut."""
    if unit <= 1 or not done:
        return set()
    counts: dict[int, int] = {}
    for position in done:
        counts[position // unit] = counts.get(position // unit, 0) + 1
    cut = {k for k, n in counts.items() if n < (unit if total is None else min(unit, total - k * unit))}
    last = max(counts)
    if total is None and last in cut and ends_after is not None and len(cut) == 1 and ends_after(max(done)):
        cut = set()  # the data ends there: the short last unit is whole
    return {position for position in done if position // unit in cut}


def assignment(dataset_cfg: dict) -> str:
    """BLOCKS for a Parquet file (dataset=file, format parquet or a .parquet path), ROUND_ROBIN otherwise."""
    if (dataset_cfg or {}).get("type") != "file":
        return ROUND_ROBIN
    fmt = dataset_cfg.get("format") or "auto"
    if fmt == "auto":
        fmt = "parquet" if Path(str(dataset_cfg.get("path", ""))).suffix.lower() == ".parquet" else fmt
    return BLOCKS if fmt == "parquet" else ROUND_ROBIN


def shard_of(index: int, count: int, unit: int) -> dict | None:
    """The run's `shard` ({index, count}) with the batch unit its rows are owned in ("unit"); None unsharded."""
    if count == 1:
        return None
    return {"index": index, "count": count, "unit": unit}


def owns(position: int, index: int, count: int, unit: int = 1) -> bool:
    """Whether shard `index` of `count` owns `position` under round-robin."""
    return (position // unit) % count == index


def owned(total: int, index: int, count: int, how: str, unit: int = 1) -> range:
    """The positions shard `index` of `count` owns among 0..total-1, as a range: blocks, or round-robin
    at unit 1 (owned_count counts round-robin's at any unit)."""
    if how == BLOCKS:
        units = -(-total // unit)
        return range(min(total, units * index // count * unit), min(total, units * (index + 1) // count * unit))
    if unit != 1:
        raise ValueError("round-robin units are no range: use owns() or owned_count()")
    return range(index, total, count)


def owned_count(total: int, index: int, count: int, how: str, unit: int = 1) -> int:
    """How many of the positions 0..total-1 shard `index` of `count` owns."""
    if how == BLOCKS or unit == 1:
        return len(owned(total, index, count, how, unit))
    units = -(-total // unit)
    mine = len(range(index, units, count))  # units k with k % count == index
    last = units - 1
    if mine and last % count == index:  # the last unit holds total - last * unit rows, not unit
        return (mine - 1) * unit + total - last * unit
    return mine * unit


def owner(position: int, total: int, count: int, how: str, unit: int = 1) -> int:
    """The shard that owns `position` (the inverse of owned)."""
    if how == BLOCKS:
        units = -(-total // unit)
        return ((position // unit + 1) * count - 1) // units if units else 0
    return (position // unit) % count


def rows_after(size: int, skip: int, limit: int | None) -> int:
    """Rows left of `size` after skipping `skip` and keeping at most `limit`."""
    left = max(0, size - skip)
    return left if limit is None else min(left, limit)
