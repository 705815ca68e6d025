"""Saying once, mid-run, that other processes are taking the CPU cores this run's threads need.

A run with torch's threads on every core crawls when something else uses one of them (a second job, a
test suite): the README demo went from 34.5 to 2.05 rows/s beside one busy core. Nothing on screen said
why. This watch compares, at batch boundaries and at most every `every` seconds, the machine's busy
CPU time (Linux /proc/stat) with this process's own: what is left is other processes' use, in cores.
When they take enough cores that this run's threads cannot each have one, it says so once, with what
to do. It reads two small files per check and never imports torch itself (the thread count is given).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Callable

log = logging.getLogger(__name__)

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
EVERY_SECONDS = 10.0  # between two looks: long enough that one slow batch is not mistaken for contention


def machine_busy_seconds() -> float | None:
    """CPU seconds all cores spent busy since boot (everything but idle and iowait), or None off Linux."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / CLOCK_TICKS  # guest time is counted inside user already


def own_busy_seconds() -> float:
    times = os.times()
    return times.user + times.system


class ContentionWatch:
    """`check()` after each batch; says at most one warning per run."""

    def __init__(
        self,
        threads: int,
        cores: int | None = None,
        every: float | None = None,
        machine: Callable[[], float | None] | None = None,
        own: Callable[[], float] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.threads, self.cores = threads, cores or os.cpu_count() or 1
        self.every = EVERY_SECONDS if every is None else every
        self.machine, self.own = machine or machine_busy_seconds, own or own_busy_seconds
        self.clock = clock
        self.said = False
        self._mark = self._sample()

    def _sample(self) -> tuple[float, float | None, float]:
        return self.clock(), self.machine(), self.own()

    def others_cores(self) -> float | None:
        """Other processes' CPU use since the last sample, in cores (None: not known, or too soon)."""
        now = self._sample()
        (then, machine_then, own_then), (clock, machine_now, own_now) = self._mark, now
        if machine_then is None or machine_now is None or clock - then < self.every:
            return None
        self._mark = now
        return max(0.0, (machine_now - machine_then) - (own_now - own_then)) / (clock - then)

    def check(self) -> None:
        if self.said:
            return
        others = self.others_cores()
        if others is None or others < 0.5 or self.threads + others <= self.cores + 0.25:
            return
        self.said = True
        log.warning(
            "other processes are using about %.1f of this machine's %d CPU cores while this run has %d torch "
            "threads: it runs slower than on an idle machine. With several jobs side by side, give each "
            "threads=1 (or cores / jobs); for one job, wait for the machine to be free.",
            others,
            self.cores,
            self.threads,
        )
