"""Batch-size sweeps through the CLI: OOM points recorded (injected with RUNNER_INJECT_OOM_ABOVE, the real
torch.OutOfMemoryError type), one model load per sweep, the report, batch_size=auto, length bucketing."""

from __future__ import annotations

import csv
import json
import math
import os

import pytest

from tests.conftest import read_jsonl, run_cli

WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()


def _rows(path, count: int = 64) -> None:
    lines = [
        json.dumps({"text": " ".join(WORDS[(i + k) % len(WORDS)] for k in range(1 + (i * 37) % 24))})
        for i in range(count)
    ]
    path.write_text("\n".join(lines) + "\n")


BASE = ["+task=text-classification", "model=tiny", "dataset=file", "dataset.path=rows.jsonl", "progress=false"]


@pytest.fixture
def oom_above(monkeypatch):
    def set_limit(n: int):
        monkeypatch.setenv("RUNNER_INJECT_OOM_ABOVE", str(n))

    return set_limit


def test_sweep_records_oom_points_loads_once_and_reports(tmp_path, oom_above):
    _rows(tmp_path / "rows.jsonl")
    oom_above(8)
    sweep = tmp_path / "sweep"
    result = run_cli(
        "-m", *BASE, "batch_size=1,4,16,32", "bench.warmup_batches=1", f"hydra.sweep.dir={sweep}", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert (
        result.stderr.count("loading tiny model") == 1 and result.stderr.count("reusing the loaded") == 2
    )  # 32 is skipped, never loaded

    statuses = {}
    for job in sorted(p for p in sweep.iterdir() if p.is_dir() and (p / "metrics.json").exists()):
        metrics = json.loads((job / "metrics.json").read_text())
        statuses[metrics["batch_size"]] = metrics["status"]
        if metrics["status"] == "ok":
            assert metrics["benchmark"] is True and metrics["items_per_second"] > 0
            assert metrics["latency_ms"]["p50"] > 0 and metrics["rows_out"] == 64
    assert statuses == {1: "ok", 4: "ok", 16: "oom", 32: "skipped_after_oom"}
    oom_metrics = json.loads((sweep / "2" / "metrics.json").read_text())
    assert "OutOfMemoryError" in oom_metrics["error"] and "injected" in oom_metrics["error"]

    with open(sweep / "sweep.csv") as f:
        table = list(csv.DictReader(f))
    assert [row["status"] for row in table] == ["ok", "ok", "oom", "skipped_after_oom"]
    report = (sweep / "sweep.md").read_text()
    assert "| batch_size=16 | oom |" in report and "skipped_after_oom" in report
    assert (sweep / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "recommended batch size: " in result.stdout + result.stderr


def test_batch_size_auto_settles_on_the_largest_that_fits(tmp_path, oom_above):
    _rows(tmp_path / "rows.jsonl")
    oom_above(24)
    out = tmp_path / "out"
    result = run_cli(
        *BASE,
        "batch_size=auto",
        "bench.max_batch_size=64",
        "bench.auto_until=memory",
        f"hydra.run.dir={out}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["batch_size"] == 24 and metrics["batch_size_requested"] == "auto"
    assert metrics["autobatch"]["stopped_by"] == "oom"
    trials = metrics["autobatch"]["trials"]
    assert len(trials) <= math.log2(64) + 2
    assert [t["batch_size"] for t in trials if t["status"] == "oom"] and trials[-1]["batch_size"] in (24, 32)
    assert len(read_jsonl(out / "predictions.jsonl")) == 64


def test_length_bucketing_keeps_order_and_outputs(tmp_path):
    _rows(tmp_path / "rows.jsonl", 80)
    runs = {}
    for bucketed in ("false", "true"):
        out = tmp_path / f"bucketed-{bucketed}"
        result = run_cli(
            *BASE,
            "batch_size=8",
            f"batching.sort_by_length={bucketed}",
            "batching.window_batches=4",
            f"hydra.run.dir={out}",
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        runs[bucketed] = read_jsonl(out / "predictions.jsonl")
    plain, bucketed = runs["false"], runs["true"]
    assert [p["index"] for p in bucketed] == list(range(80))
    assert [(p["id"], p["output"]["label"]) for p in bucketed] == [(p["id"], p["output"]["label"]) for p in plain]
    # Padding differs between the two runs; with attention masks the scores agree to float precision.
    assert [p["output"]["score"] for p in bucketed] == pytest.approx([p["output"]["score"] for p in plain], abs=1e-6)


def test_isolated_point_runs_in_a_child_process(tmp_path, oom_above):
    _rows(tmp_path / "rows.jsonl", 16)
    oom_above(4)
    sweep = tmp_path / "sweep"
    result = run_cli(
        "-m",
        *BASE,
        "batch_size=2,8",
        "bench.isolation=process",
        "bench.skip_after_oom=false",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    first, second = (json.loads((sweep / str(i) / "metrics.json").read_text()) for i in range(2))
    assert (first["status"], second["status"]) == ("ok", "oom")
    assert (sweep / "0" / "child.log").is_file() and first["model_reused"] is False
    assert os.getpid() and "loading tiny model" in (sweep / "1" / "child.log").read_text()


def test_a_token_budget_sweep_skips_budgets_above_one_that_ran_out_of_memory(tmp_path, oom_above):
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps({"text": "alpha beta"}) + "\n" for _ in range(32)))
    oom_above(4)  # batches of more than 4 rows fail as CUDA's out-of-memory would
    sweep = tmp_path / "sweep"
    result = run_cli(
        "-m",
        *BASE,
        "batch_size=16",
        "batching.sort_by_length=true",
        "batching.max_tokens=24,400,800",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    statuses = {}
    for job in sorted(p for p in sweep.iterdir() if p.is_dir() and (p / "metrics.json").exists()):
        overrides = (job / ".hydra" / "overrides.yaml").read_text()
        budget = next(int(o.split("=")[1]) for o in overrides.split() if o.startswith("batching.max_tokens="))
        statuses[budget] = json.loads((job / "metrics.json").read_text())["status"]
    assert statuses == {24: "ok", 400: "oom", 800: "skipped_after_oom"}, statuses
