"""The run's progress bar (tqdm on stderr, or none), and transformers' own bars for progress=false."""
from __future__ import annotations

import sys
from contextlib import contextmanager


def progress_bar(plan, enabled: bool, done: int, staged: bool, step_ids: list[str]):
    """A context manager giving a bar with update(n). A staged run passes every row once per step."""
    if not enabled:
        return NoBar()
    from tqdm import tqdm

    total = plan.source.total_rows(plan.cfg.get("shard"))
    if total is not None:
        total = max(0, total - done) * (len(plan.steps) if staged else 1)
    desc = "+".join(step_ids) if len(step_ids) <= 3 else f"{len(step_ids)} steps"
    return tqdm(desc=desc, total=total, unit="row", file=sys.stderr, dynamic_ncols=True, mininterval=0.5)


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

    if enabled or not hf_logging.is_progress_bar_enabled():
        yield
        return
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.enable_progress_bar()
