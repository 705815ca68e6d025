"""The sweep report from real job folders on disk (metrics.json, run.json, .hydra/overrides.yaml)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from runner.sweep import write_report
from runner.sweep.__main__ import main as sweep_main

COMMON = ["+task=text-generation", "model=tiny"]


def write_job(sweep: Path, num: int, overrides: list[str], metrics: dict | None, run_status: str = "ok") -> Path:
    job = sweep / str(num)
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    if metrics is not None:
        (job / "metrics.json").write_text(json.dumps(metrics))
    (job / "run.json").write_text(json.dumps({"status": run_status}))
    return job


def ok_metrics(batch: int, rate: float, with_tokens: bool) -> dict:
    return {
        "status": "ok",
        "error": None,
        "batch_size": batch,
        "batch_size_requested": batch,
        "items_per_second": rate,
        "tokens_per_second": rate * 12 if with_tokens else None,
        "latency_ms": {"p50": 1000 * batch / rate, "p90": 1100 * batch / rate, "p99": 1200 * batch / rate},
        "peak_rss_mb": 300.0 + 10 * batch,
        "model_load_seconds": 0.5,
        "model_reused": batch > 1,
        "rows_out": 64,
        "rows_error": 0,
        "autobatch": None,
    }


def oom_metrics(batch: int, status: str = "oom") -> dict:
    if status == "skipped_after_oom":
        return {"status": status, "error": None, "batch_size": batch, "batch_size_requested": batch, "rows_out": 0}
    return {
        "status": status,
        "error": "CUDA out of memory. (injected: RUNNER_INJECT_OOM_ABOVE=8)",
        "batch_size": batch,
        "batch_size_requested": batch,
        "rows_out": 0,
        "peak_rss_mb": 900.0,
    }


# two groups (dtype) x batch sizes; float32 runs out of memory above 8, bfloat16 above 16
RATES = {
    ("float32", 1): 10.0,
    ("float32", 2): 18.0,
    ("float32", 4): 30.0,
    ("float32", 8): 28.0,
    ("bfloat16", 1): 12.0,
    ("bfloat16", 2): 22.0,
    ("bfloat16", 4): 40.0,
    ("bfloat16", 8): 70.0,
    ("bfloat16", 16): 65.0,
}


@pytest.fixture
def sweep(tmp_path) -> Path:
    sweep = tmp_path / "multirun"
    num = 0
    for dtype in ("float32", "bfloat16"):
        for batch in (1, 2, 4, 8, 16, 32):
            overrides = [*COMMON, f"dtype={dtype}", f"batch_size={batch}"]
            if (dtype, batch) in RATES:
                metrics = ok_metrics(batch, RATES[(dtype, batch)], with_tokens=dtype == "bfloat16")
            elif dtype == "float32" and batch == 32:
                metrics = oom_metrics(batch, "skipped_after_oom")
            else:
                metrics = oom_metrics(batch)
            write_job(sweep, num, overrides, metrics)
            num += 1
    write_job(sweep, num, [*COMMON, "dtype=bfloat16", "batch_size=64"], None, run_status="error")  # crashed
    (sweep / "multirun.yaml").write_text("hydra: {}\n")
    return sweep


def test_report_files(sweep):
    report = write_report(sweep)
    assert {p.name for p in report.files} == {"sweep.csv", "sweep.json", "sweep.md", "sweep.png"}

    rows = list(csv.DictReader(open(sweep / "sweep.csv")))
    assert len(rows) == 13
    by_key = {(r["group"], r["batch_size"]): r for r in rows}
    assert by_key[("dtype=float32", "16")]["status"] == "oom"
    assert "injected" in by_key[("dtype=float32", "16")]["error"]
    assert by_key[("dtype=float32", "32")]["status"] == "skipped_after_oom"
    assert by_key[("dtype=bfloat16", "32")]["status"] == "oom"
    assert by_key[("dtype=bfloat16", "64")]["status"] == "error"  # from run.json, no metrics.json
    for (dtype, batch), rate in RATES.items():
        row = by_key[(f"dtype={dtype}", str(batch))]
        assert row["status"] == "ok" and float(row["items_per_second"]) == rate
        assert float(row["speedup_vs_batch1"]) == pytest.approx(rate / RATES[(dtype, 1)], abs=1e-3)
        assert row["overrides"] == " ".join([*COMMON, f"dtype={dtype}", f"batch_size={batch}"])
        assert float(row["peak_memory_mb"]) == 300.0 + 10 * batch and row["peak_memory_source"] == "peak_rss"

    document = json.loads((sweep / "sweep.json").read_text())
    assert document["swept_keys"] == ["batch_size", "dtype"]
    assert document["common_overrides"] == COMMON
    best = {r["group"]: r["batch_size"] for r in document["recommended"]}
    for dtype in ("float32", "bfloat16"):
        rates = {b: r for (d, b), r in RATES.items() if d == dtype}
        assert best[f"dtype={dtype}"] == max(rates, key=rates.get)

    md = (sweep / "sweep.md").read_text()
    header = (
        "| overrides | status | batch size | items/s (p50) | min..max | spread | tokens/s | p50 ms | p99 ms "
        "| peak memory MB | speedup vs batch 1 |"
    )
    assert header in md
    assert "| batch_size=16 dtype=float32 | oom | 16 |" in md
    assert "| batch_size=8 dtype=bfloat16 | ok | 8 | 70.0 |  |  | 840.0 |" in md
    assert "**skipped_after_oom**: batch size 32 (dtype=float32) not run" in md
    assert "**error** in job 12: no metrics.json" in md
    assert "- `dtype=bfloat16`: 8 (70.0 items/s, 5.83x batch 1)" in md

    png = (sweep / "sweep.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    from PIL import Image

    with Image.open(sweep / "sweep.png") as image:
        image.verify()
        assert image.size[0] > image.size[1] > 200

    speedup = RATES[("float32", 4)] / RATES[("float32", 1)]
    assert (
        f"recommended batch size for dtype=float32: 4 ({RATES[('float32', 4)]:.1f} items/s, {speedup:.2f}x batch 1)"
        in report.summary_lines()
    )


def test_metrics_from_before_the_status_key(tmp_path):
    """Today's metrics.json has no status, latency or autobatch: a finished run is ok, the rest empty."""
    sweep = tmp_path / "m"
    write_job(sweep, 0, ["batch_size=1"], {"batch_size": 1, "rows_out": 6, "items_per_second": 5.0, "peak_rss_mb": 400})
    write_job(
        sweep,
        1,
        ["batch_size=4"],
        {"batch_size": 4, "rows_out": 6, "rows_error": 2, "items_per_second": 9.0, "peak_rss_mb": 410},
    )
    write_job(
        sweep,
        2,
        ["batch_size=auto"],
        {
            "batch_size": 16,
            "batch_size_requested": "auto",
            "rows_out": 6,
            "items_per_second": 12.0,
            "status": "ok",
            "autobatch": {"batch_size": 16, "trials": [{}] * 6},
        },
    )
    report = write_report(sweep)
    assert [p["status"] for p in report.points] == ["ok", "ok", "ok"]
    assert report.recommended[0]["batch_size"] == 16 and report.recommended[0]["group"] == ""
    md = (sweep / "sweep.md").read_text()
    assert "| batch_size=auto | ok | auto (16), 6 trials | 12.0 |" in md
    assert "tokens/s" not in md
    assert "**Rows failed** (batch_size=4: 2)" in md
    assert "**Recommended batch size:** auto (16) (12.0 items/s" in md


def test_rebuild_from_the_command_line(sweep, capsys):
    assert sweep_main([str(sweep)]) == 0
    out = capsys.readouterr().out
    assert "recommended batch size for dtype=bfloat16: 8" in out
    assert (sweep / "sweep.md").is_file()
    assert sweep_main([str(sweep / "nope")]) == 2


def test_a_job_can_find_an_earlier_oom_of_its_combination(sweep):
    from runner.sweep.points import earlier_oom

    float32 = [*COMMON, "dtype=float32"]
    assert earlier_oom(sweep, [*float32, "batch_size=64"], 64)["batch_size"] == 16
    assert earlier_oom(sweep, [*float32, "batch_size=16"], 16)["job"] == "4"
    assert earlier_oom(sweep, [*float32, "batch_size=8"], 8) is None
    assert earlier_oom(sweep, [*COMMON, "dtype=bfloat16", "batch_size=16"], 16) is None
    assert earlier_oom(sweep, [*COMMON, "dtype=float16", "batch_size=64"], 64) is None


def test_the_plot_helper_draws_the_figure_the_report_would(sweep):
    """The helper process started with the sweep writes the same PNG, byte for byte, as drawing in-process."""
    from runner.sweep.plot_worker import PlotWorker

    write_report(sweep)
    drawn_here = (sweep / "sweep.png").read_bytes()
    (sweep / "sweep.png").unlink()
    helper = PlotWorker()
    report = write_report(sweep, helper)
    assert helper.process.returncode == 0  # it drew and ended; the report did not fall back
    assert sweep / "sweep.png" in report.files
    assert (sweep / "sweep.png").read_bytes() == drawn_here


def test_a_dead_plot_helper_leaves_the_figure_to_the_report(sweep):
    from runner.sweep.plot_worker import PlotWorker

    helper = PlotWorker()
    helper.process.kill()
    helper.process.wait()
    report = write_report(sweep, helper)
    assert sweep / "sweep.png" in report.files and (sweep / "sweep.png").stat().st_size > 10_000


def test_a_helper_the_sweep_never_asks_ends_with_the_sweeps_process(sweep):
    """Interrupted sweeps never reach on_multirun_end: the helper ends when its input closes."""
    from runner.sweep.plot_worker import PlotWorker

    helper = PlotWorker()
    helper.process.stdin.close()
    assert helper.process.wait(timeout=60) == 0
    assert not (sweep / "sweep.png").exists()
