"""The status metrics.json gives a run that ended early: the same for engine=local and engine=ray."""

from __future__ import annotations

import pytest

from runner.engine.errors import OutOfMemory, RowFailed, ended_by


@pytest.mark.parametrize(
    "failure, status, said",
    [
        (OutOfMemory("classify", 32, RuntimeError("CUDA out of memory")), "oom", "out of memory at batch size 32"),
        (KeyboardInterrupt(), "interrupted", "interrupted by a signal"),
        (SystemExit(0), "interrupted", "interrupted by a signal"),  # submitit stopping a job to requeue it
        (RowFailed("row 3 failed", "on_error=skip"), "error", "RowFailed: row 3 failed"),
        (ValueError("bad"), "error", "ValueError: bad"),
    ],
)
def test_each_way_a_run_ends_has_its_status(failure, status, said):
    assert ended_by(failure)[0] == status
    assert said in ended_by(failure)[1]
