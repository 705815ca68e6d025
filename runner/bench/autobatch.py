"""batch_size=auto: the largest batch size that fits, found in few trials on worst-case inputs.

The rule (`search_batch_size`):

1. Grow: try 1, 2, 4, 8, ... doubling until a size runs out of memory or max_batch_size is reached
   (the last step is clamped to max_batch_size, which is then tried as is), or until throughput stops
   improving: after PATIENCE sizes in a row that do not beat the best items/s so far by more than
   PLATEAU_GAIN, the answer is that best size (on CPU this ends the search long before memory runs
   out; a larger batch would only add latency and memory). Each size that fits is run twice and its
   second run timed: the first call at a new shape pays for allocations.
2. Bisect between the last size that fitted and the first that did not. Candidates are every size
   below 8 and only multiples of 8 from 8 up (GPU kernels favour them, and the coarser grid caps the
   number of trials). The search stops when no candidate is left between the two.

Without a plateau, the answer is max_batch_size when it fits; otherwise the largest size that fits among 1..7 and
the multiples of 8; None when even a batch of 1 does not fit. Example: OOM above 24 with
max_batch_size=64 (or 512) tries 1, 2, 4, 8, 16, 32 (oom), 24 and settles on 24 in 7 trials, within
log2(max)+2. In general growing takes at most ceil(log2(max))+1 trials and bisecting log2 of the
candidates left, never more than 2*ceil(log2(max)) trials in all (for max >= 2): an answer between
2^k and 2^(k+1), k >= 3, costs k+2 growing trials and k-3 bisecting ones.

Compared with accelerate's `find_executable_batch_size`, which starts high and only shrinks the size
after each failure (x0.9 per failure in accelerate 1.x; earlier versions halved), growing from 1
never starts with the largest allocation, and bisecting lands closer to the limit.

Trials should use the worst case: `longest_rows` picks the longest inputs of a probe of the data, and
`worst_case_batch` repeats them to fill a batch of any size.
"""

from __future__ import annotations

import heapq
import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence, TypeVar

from runner.bench.oom import is_oom, release_memory

log = logging.getLogger(__name__)

T = TypeVar("T")
GRID = 8  # from this size up, only multiples of it are tried while bisecting
PLATEAU_GAIN = 0.05  # a larger size must beat the best items/s so far by more than this to count as better
PATIENCE = 2  # sizes in a row without such a gain that end the growing


@dataclass
class SearchResult:
    batch_size: int | None  # the largest size that fitted; None when a batch of 1 did not
    trials: list[dict] = field(default_factory=list)  # {batch_size, status: ok|oom, seconds, items_per_second, error}
    stopped_by: str = "max_batch_size"  # what ended the growing: max_batch_size | plateau | oom

    def to_json(self) -> dict:
        return {"batch_size": self.batch_size, "stopped_by": self.stopped_by, "trials": list(self.trials)}


def search_batch_size(
    try_batch: Callable[[int], object],
    max_batch_size: int,
    clock: Callable[[], float] = time.perf_counter,
    plateau: bool = True,
) -> SearchResult:
    """Find the largest batch size that fits (see the module docstring for the rule).

    `plateau=False` keeps growing past a throughput plateau (bench.auto_until=memory: the largest size
    that fits). `try_batch(n)` runs one batch of n rows and raises on failure; an out-of-memory error (see
    `is_oom`) marks n as too large, memory is released and the search goes on; any other error
    propagates.
    """
    if max_batch_size < 1:
        raise ValueError(f"max_batch_size must be at least 1, got {max_batch_size}")
    trials: list[dict] = []
    fitted, failed = _grow(try_batch, max_batch_size, trials, clock, plateau)
    if failed == PLATEAU:
        return SearchResult(fitted, trials, "plateau")
    if failed is not None:
        return SearchResult(_bisect(try_batch, fitted, failed, trials, clock) or None, trials, "oom")
    return SearchResult(fitted or None, trials)


PLATEAU = -1  # _grow's "failed" size when throughput stopped improving


def _grow(try_batch, max_batch_size: int, trials: list, clock, plateau: bool) -> tuple[int, int | None]:
    """(the size to keep, the first size that ran out of memory, PLATEAU, or None at the maximum)."""
    size, fitted, best, misses = 1, 0, (0, 0.0), 0
    while True:
        if not _fits(try_batch, size, trials, clock):
            return fitted, size
        fitted = size
        rate = trials[-1]["items_per_second"] or 0.0
        if rate > best[1] * (1 + PLATEAU_GAIN):
            best, misses = (size, rate), 0
        else:
            misses += 1
            if plateau and misses >= PATIENCE:
                return best[0], PLATEAU
        if size >= max_batch_size:
            return fitted, None
        size = min(size * 2, max_batch_size)


def _bisect(try_batch, fitted: int, failed: int, trials: list, clock) -> int:
    while True:
        candidates = candidates_between(fitted, failed)
        if not candidates:
            return fitted
        size = candidates[len(candidates) // 2]
        if _fits(try_batch, size, trials, clock):
            fitted = size
        else:
            failed = size


def candidates_between(low: int, high: int) -> list[int]:
    """Sizes strictly between low and high worth trying: all below GRID, multiples of GRID above."""
    small = list(range(low + 1, min(high, GRID)))
    first_multiple = max(GRID, -(-(low + 1) // GRID) * GRID)
    return small + list(range(first_multiple, high, GRID))


def _fits(try_batch, size: int, trials: list, clock) -> bool:
    started = clock()
    oom_message = None
    try:
        try_batch(size)
        started = clock()  # it fits: time a second run, past the first call's allocations
        try_batch(size)
    except Exception as error:  # only out-of-memory means "too large"; anything else is a real failure
        if not is_oom(error):
            raise
        oom_message = _first_line(error)
    if oom_message is None:
        seconds = clock() - started
        trials.append(
            {
                "batch_size": size,
                "status": "ok",
                "seconds": round(seconds, 4),
                "items_per_second": round(size / seconds, 3) if seconds > 0 else None,
                "error": None,
            }
        )
        log.info("batch size %d fits", size)
        return True
    # Released outside the except block: by now the exception, its traceback and the failed
    # batch's tensors held by its frames are gone, so gc and empty_cache can actually free them.
    release_memory()
    trials.append(
        {
            "batch_size": size,
            "status": "oom",
            "seconds": round(clock() - started, 4),
            "items_per_second": None,
            "error": oom_message,
        }
    )
    log.info("batch size %d: out of memory", size)
    return False


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def longest_rows(items: Iterable[T], length: Callable[[T], float], k: int) -> list[T]:
    """The k items with the largest length(item), longest first (ties keep their input order)."""
    return heapq.nlargest(k, items, key=length)


def worst_case_batch(longest: Sequence[T], batch_size: int) -> list[T]:
    """A batch of batch_size rows made of the longest rows, repeated as often as needed."""
    if not longest:
        raise ValueError("no rows to build a trial batch from")
    return [longest[i % len(longest)] for i in range(batch_size)]


def input_size(value) -> int:
    """A generic size of one pipeline input, for ranking rows by cost: characters of text, samples of
    audio (a {"raw"|"array": ...} mapping or an array), pixels of an image; mappings and lists add up
    their parts. Rank decoded inputs: a file path's length says nothing about its contents."""
    if isinstance(value, (str, bytes)):
        return len(value)
    if isinstance(value, dict):
        for key in ("raw", "array"):
            if key in value:
                return input_size(value[key])
        return sum(input_size(v) for v in value.values())
    if hasattr(value, "width") and hasattr(value, "height"):  # PIL image
        return int(value.width) * int(value.height)
    shape = getattr(value, "shape", None)
    if shape is not None:  # numpy array or tensor
        count = 1
        for dim in shape:
            count *= int(dim)
        return count
    if isinstance(value, (list, tuple)):
        return sum(input_size(v) for v in value)
    return 0
