"""The run status when a job's task function returns a metric (an objective for a sweeper) rather than
its exit code: read from the metrics.json the job wrote."""

from __future__ import annotations

import json

import pytest

from runner.tracking.callback import _exit_code_from_files
from runner.tracking.store import status_of


@pytest.mark.parametrize(
    "written, code, status",
    [
        ({"status": "ok"}, 0, "FINISHED"),
        ({"status": "oom"}, 0, "FINISHED"),
        ({"status": "skipped_after_oom"}, 0, "FINISHED"),
        ({"status": "interrupted"}, 130, "KILLED"),
        ({"status": "error"}, 1, "FAILED"),
        (None, 1, "FAILED"),
        ("{cut short", 1, "FAILED"),
    ],
)
def test_status_from_metrics_json(tmp_path, written, code, status):
    if written is not None:
        (tmp_path / "metrics.json").write_text(written if isinstance(written, str) else json.dumps(written))
    assert _exit_code_from_files(tmp_path) == code
    assert status_of(code) == status
