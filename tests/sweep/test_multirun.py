"""A real `run -m` sweep: Hydra calls the SweepReport callback when the multirun ends."""

from __future__ import annotations

import csv

from tests.conftest import run_cli


def test_multirun_writes_the_report(tmp_path):
    sweep = tmp_path / "multirun"
    result = run_cli(
        "-m",
        "+task=text-classification",
        "model=tiny",
        "dataset=sample",
        "batch_size=1,2",
        "progress=false",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    for name in ("sweep.csv", "sweep.json", "sweep.md", "sweep.png"):
        assert (sweep / name).is_file(), name
    rows = list(csv.DictReader(open(sweep / "sweep.csv")))
    assert [(r["batch_size"], r["status"]) for r in rows] == [("1", "ok"), ("2", "ok")]
    assert all(float(r["items_per_second"]) > 0 and float(r["peak_memory_mb"]) > 0 for r in rows)
    assert "| batch_size=2 | ok | 2 |" in (sweep / "sweep.md").read_text()
    assert "recommended batch size: " in result.stdout
