"""A failing row is said once per run (issue 30): not again in each of a benchmark's re-timing passes, and
after ROWS_SHOWN rows the rest go to run.log only, the count by cause closing the run."""

from __future__ import annotations

import json
import logging
import re

from runner.engine.loop import ROWS_SHOWN
from tests.conftest import RETIMED_BENCH, run_job


def test_each_failing_row_is_said_once_and_only_the_first_ones_on_screen(tmp_path, caplog):
    failing = ROWS_SHOWN + 2
    texts = [t for i in range(failing) for t in (f"a fine row {i}", "")]  # every other row empty: fails in prepare
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    out = tmp_path / "out"
    with caplog.at_level(logging.DEBUG, logger="runner"):
        result = run_job(
            "+task=text-classification",
            "model=tiny",
            "dataset=file",
            "dataset.path=rows.jsonl",
            "batch_size=1",
            *RETIMED_BENCH,
            "max_error_fraction=0.9",
            "progress=false",
            f"hydra.run.dir={out}",
            cwd=tmp_path,
        )
    assert result.returncode == 0, result.stderr
    passes = int(re.search(r"timed in (\d+) passes", result.stderr).group(1))
    assert passes > 1  # the rows ran again: their failures were not said again
    said = [r for r in caplog.records if "failed in main" in r.getMessage()]
    assert len(said) == failing  # once per row, whatever the passes
    on_screen = [r for r in said if r.levelno >= logging.INFO]
    assert [r.getMessage().split()[1] for r in on_screen] == [str(2 * i + 1) for i in range(ROWS_SHOWN)]
    more = [r.getMessage() for r in caplog.records if r.getMessage().startswith("more rows failed")]
    assert len(more) == 1 and "errors.jsonl has each" in more[0]
    assert f"{failing} x ValueError: empty text" in result.stderr  # the count, once, at the end
    assert result.stderr.count("failed in main") == failing  # run.log: each row once
