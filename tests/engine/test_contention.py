"""The mid-run notice that other processes take the cores this run's threads need: said once, only when
they do, from the machine's and the process's CPU time (stand-in clocks here; the real readers on Linux)."""

from __future__ import annotations

import logging
import sys

import pytest

from runner.engine.contention import ContentionWatch, machine_busy_seconds, own_busy_seconds


class Clocks:
    """Wall time, the machine's busy CPU seconds and this process's, advanced by the test."""

    def __init__(self):
        self.wall = self.machine_busy = self.own = 0.0

    def spend(self, seconds: float, own_cores: float, other_cores: float) -> None:
        self.wall += seconds
        self.own += seconds * own_cores
        self.machine_busy += seconds * (own_cores + other_cores)

    def watch(self, threads: int, cores: int) -> ContentionWatch:
        return ContentionWatch(
            threads, cores, every=10, machine=lambda: self.machine_busy, own=lambda: self.own, clock=lambda: self.wall
        )


@pytest.mark.parametrize(
    "threads,cores,other_cores,said",
    [
        (2, 2, 1.0, True),  # torch's default beside one busy core: the README demo's crawl
        (2, 2, 0.1, False),  # a quiet machine
        (1, 2, 1.0, False),  # threads=1 leaves the busy core alone
        (4, 8, 3.0, False),  # enough free cores for every thread
        (8, 8, 2.0, True),
    ],
)
def test_said_once_when_others_take_the_cores_the_threads_need(caplog, threads, cores, other_cores, said):
    clocks = Clocks()
    watch = clocks.watch(threads, cores)
    with caplog.at_level(logging.WARNING, logger="runner.engine.contention"):
        for _ in range(10):  # 10 batches of 3 s: checks every 10 s
            clocks.spend(3, own_cores=min(threads, cores - other_cores), other_cores=other_cores)
            watch.check()
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == (1 if said else 0), warnings
    if said:
        assert f"about {other_cores:.1f} of this machine's {cores} CPU cores" in warnings[0]
        assert f"{threads} torch threads" in warnings[0] and "threads=1" in warnings[0]


def test_nothing_is_said_before_a_window_has_passed_or_off_linux(caplog):
    clocks = Clocks()
    watch = clocks.watch(2, 2)
    clocks.spend(9, own_cores=1, other_cores=1)
    assert watch.others_cores() is None  # under `every` seconds: too soon to tell
    clocks.spend(2, own_cores=1, other_cores=1)
    assert watch.others_cores() == pytest.approx(1.0)
    blind = ContentionWatch(2, 2, every=0, machine=lambda: None)
    assert blind.others_cores() is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/stat is Linux's")
def test_the_real_readers_count_this_process_busy_time():
    machine_before, own_before = machine_busy_seconds(), own_busy_seconds()
    total = 0
    for i in range(3_000_000):  # ~0.2 s of this process's own CPU time
        total += i
    machine_spent, own_spent = machine_busy_seconds() - machine_before, own_busy_seconds() - own_before
    assert own_spent > 0.05
    assert machine_spent >= own_spent * 0.8  # the machine's busy time includes this process's


def test_a_run_says_it_once_across_its_benchmark_passes(tmp_path, caplog, monkeypatch):
    """The watch is the execution's: checked after every batch, the re-timing passes included (cores taken
    only then are seen), and it speaks once per run however many passes see them taken."""
    import json
    import re

    from runner.engine import contention
    from tests.conftest import RETIMED_BENCH, run_job

    looks = []

    def machine() -> float:
        """Idle beside this run through the written pass (8 rows, a look after each), then others take every
        core: only the re-timing passes can see it."""
        looks.append(None)
        own = contention.own_busy_seconds()
        return own if len(looks) <= 9 else own + 50.0 * len(looks)

    monkeypatch.setattr(contention, "machine_busy_seconds", machine)
    monkeypatch.setattr(contention, "EVERY_SECONDS", 0.0)
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps({"text": f"row {i}"}) + "\n" for i in range(8)))
    with caplog.at_level(logging.INFO, logger="runner"):
        result = run_job(
            "+task=text-classification",
            "model=tiny",
            "dataset=file",
            "dataset.path=rows.jsonl",
            "batch_size=1",
            *RETIMED_BENCH,
            "progress=false",
            f"hydra.run.dir={tmp_path / 'out'}",
            cwd=tmp_path,
        )
    assert result.returncode == 0, result.stderr
    assert int(re.search(r"timed in (\d+) passes", result.stderr).group(1)) > 1
    said = [r for r in caplog.records if r.getMessage().startswith("other processes are using")]
    assert len(said) == 1
    assert len(looks) > 9  # it was a re-timing pass's look that saw the cores taken
