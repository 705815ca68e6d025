"""The row loop keeps Python's cyclic GC off the heap that exists before it (engine/heap.py), and gives
it back afterwards: nothing stays frozen after a run, and a process's own freeze is left alone."""

from __future__ import annotations

import gc

import runner
from runner.engine.heap import frozen_heap


def test_the_heap_is_frozen_inside_and_given_back_after():
    assert gc.get_freeze_count() == 0
    with frozen_heap():
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


def test_a_freeze_made_elsewhere_is_left_alone(monkeypatch):
    """Neither frozen again nor given back. (The frozen count itself may drop while the test runs: a
    frozen object whose last reference goes is freed, e.g. by a thread an earlier test left behind.)"""
    calls = []
    gc.freeze()
    try:
        monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
        monkeypatch.setattr(gc, "unfreeze", lambda: calls.append("unfreeze"))
        with frozen_heap():
            pass
        monkeypatch.undo()
        assert calls == []
        assert gc.get_freeze_count() > 0
    finally:
        monkeypatch.undo()
        gc.unfreeze()


def test_a_run_rows_under_the_freeze_and_leaves_nothing_frozen(tmp_path, monkeypatch):
    seen = []
    from runner.engine import loop

    original = loop.RowLoop.run_chunks

    def recording(self, *args, **kwargs):
        seen.append(gc.get_freeze_count())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(loop.RowLoop, "run_chunks", recording)
    result = runner.run(
        ["+task=text-classification", "model=tiny", "dataset=sample", "progress=false"], output_dir=tmp_path / "out"
    )
    assert result.exit_code == 0 and seen and seen[0] > 0
    assert gc.get_freeze_count() == 0
