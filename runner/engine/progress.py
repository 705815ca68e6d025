"""The run's progress bar (tqdm on stderr, or none), and transformers' own bars for progress=false.

The bar has an end whenever the total is cheap to know: the source's size (len() of inline rows, a list or
a Hugging Face dataset, a Parquet file's footer, a folder's files) or, for a text file (jsonl, csv, txt),
an estimate from the bytes read so far, refreshed as the run reads and shown as "~total". Its rate is the
average since the first row (rows settled over the seconds since the bar started, as metrics.json's
end_to_end_items_per_second counts them), not tqdm's moving average, so the last figure the bar shows is
the one the `done:` line calls "end to end".
"""

from __future__ import annotations

import sys
from contextlib import contextmanager

ESTIMATED_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/~{total_fmt} [{elapsed}<{remaining}, {rate_fmt}]"


def progress_bar(plan, enabled: bool, done: int, staged: bool, step_ids: list[str]):
    """A context manager giving a bar with update(n). A staged run passes every row once per step."""
    if not enabled:
        return NoBar()
    desc = "+".join(step_ids) if len(step_ids) <= 3 else f"{len(step_ids)} steps"
    return RowBar(plan.source, plan.shard, done, len(plan.steps) if staged else 1, desc)


class RowBar:
    """tqdm over rows, whose total is the source's count or, failing that, its running estimate."""

    def __init__(self, source, shard: dict | None, done: int, passes: int, desc: str):
        from tqdm import tqdm

        self.source, self.shard, self.done, self.passes = source, shard, done, passes
        total = self._total(estimated=False)
        self.estimated = total is None
        self.bar = tqdm(
            desc=desc, total=total, unit="row", file=sys.stderr, dynamic_ncols=True, mininterval=0.5, smoothing=0
        )

    def _total(self, estimated: bool) -> int | None:
        total = self.source.total_rows(self.shard, estimated=estimated)
        return None if total is None else max(0, total - self.done) * self.passes

    def update(self, n: int) -> None:
        if self.estimated:
            total = self._total(estimated=True)
            if total is not None:
                self.bar.total = max(total, self.bar.n + n)
                self.bar.bar_format = ESTIMATED_FORMAT
        self.bar.update(n)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.estimated and exc[0] is None and self.bar.total is not None:
            self.bar.total = self.bar.n  # read to the end: the estimate is now the count
            self.bar.bar_format = None
            self.bar.refresh()
        self.bar.close()


class NoBar:
    def update(self, n):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


@contextmanager
def library_progress_bars(enabled: bool):
    """progress=false also silences transformers' own bars ("Loading weights"), for this run only:
    the switch is global, so a notebook gets its setting back afterwards."""
    from transformers.utils import logging as hf_logging

    from runner.outputs.runlog import adopt_library_logger

    adopt_library_logger("transformers")  # in a `run` job: its warnings to run.log (the screen: verbose=true)
    if enabled or not hf_logging.is_progress_bar_enabled():
        yield
        return
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.enable_progress_bar()
