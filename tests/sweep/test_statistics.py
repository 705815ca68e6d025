"""The sweep report's statistics from real job folders on disk: too-short points marked, the recommendation
withheld inside the repeats' noise and given outside it, auto's trials kept apart, and the plot's artists."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from runner.sweep import write_report
from runner.sweep.plot import build_figure
from tests.sweep.test_report import write_job

COMMON = ["+task=feature-extraction", "model=minilm"]


def measured(batch, repeats: list[float], requested=None, trials=None) -> dict:
    """metrics.json of an ok point measured in repeats (the engine's `measurement` section)."""
    ordered = sorted(repeats)
    p50 = ordered[len(ordered) // 2]
    return {
        "status": "ok",
        "batch_size": batch,
        "batch_size_requested": requested or batch,
        "items_per_second": p50,
        "rows_out": 200,
        "rows_error": 0,
        "peak_rss_mb": 500.0 + batch,
        "latency_ms": {"p50": 10.0, "p99": 20.0},
        "autobatch": {"batch_size": batch, "stopped_by": "plateau", "trials": trials} if trials else None,
        "measurement": {
            "status": "ok",
            "repeats": len(repeats),
            "passes": 1,
            "batches": 30,
            "items_per_second": {
                "p50": p50,
                "min": ordered[0],
                "max": ordered[-1],
                "spread": (ordered[-1] - ordered[0]) / p50,
                "repeats": repeats,
            },
        },
    }


def too_short(batch) -> dict:
    reason = (
        "2 timed batches in 0.050 s; 3 repeats of at least 5 batches and 0.5 s each need more "
        "(the bench.max_rows / bench.max_seconds budget ended it)"
    )
    return {
        "status": "ok",
        "batch_size": batch,
        "batch_size_requested": batch,
        "items_per_second": 80.0,
        "rows_out": 200,
        "rows_error": 0,
        "peak_rss_mb": 520.0,
        "measurement": {"status": "too_short", "repeats": 3, "batches": 2, "seconds": 0.05, "reason": reason},
    }


def sweep_of(tmp_path: Path, points: dict) -> Path:
    sweep = tmp_path / "multirun"
    for num, (batch, metrics) in enumerate(points.items()):
        write_job(sweep, num, [*COMMON, f"batch_size={batch}"], metrics)
    return sweep


def test_inside_the_noise_no_clear_winner_and_the_smaller_batch_if_forced(tmp_path):
    # 16's fastest repeat (101) reaches 64's p50 (100): they cannot be told apart; 4 is clearly slower
    sweep = sweep_of(
        tmp_path, {4: measured(4, [50, 52, 51]), 16: measured(16, [95, 99, 101]), 64: measured(64, [92, 100, 103])}
    )
    report = write_report(sweep)
    best = report.recommended[0]
    assert best["clear"] is False and best["within_noise"] == ["16", "64"]
    assert best["batch_size"] == 16 and best["best_batch_size"] == 64  # 64 has the highest p50, 16 is the pick
    line = report.summary_lines()[0]
    assert line.startswith("recommended batch size: no clear winner within noise: 16, 64; if forced, 16")
    assert "no clear winner within noise: 16, 64" in (sweep / "sweep.md").read_text()


def test_outside_the_noise_the_best_is_recommended(tmp_path):
    sweep = sweep_of(
        tmp_path, {4: measured(4, [50, 52, 51]), 16: measured(16, [95, 97, 99]), 64: measured(64, [110, 112, 115])}
    )
    report = write_report(sweep)
    best = report.recommended[0]
    assert best["clear"] is True and best["batch_size"] == 64 and best["within_noise"] == ["64"]
    assert report.summary_lines()[0].startswith("recommended batch size: 64 (112.0 items/s")
    rows = {r["batch_size"]: r for r in csv.DictReader(open(sweep / "sweep.csv"))}
    assert (rows["64"]["items_per_second_min"], rows["64"]["items_per_second_max"], rows["64"]["repeats"]) == (
        "110",
        "115",
        "3",
    )
    assert "| batch_size=64 | ok | 64 | 112.0 | 110.0..115.0 | 4% |" in (sweep / "sweep.md").read_text()


def test_one_slow_repeat_of_the_best_does_not_hide_a_clear_winner(tmp_path):
    # slowdowns are one-sided: 64's slow first repeat (cold caches) does not make 16 its equal
    sweep = sweep_of(tmp_path, {16: measured(16, [95, 97, 99]), 64: measured(64, [60, 112, 115])})
    best = write_report(sweep).recommended[0]
    assert best["clear"] is True and best["batch_size"] == 64


def test_a_gap_smaller_than_the_floor_is_no_clear_winner(tmp_path):
    # measured on the shared machine: auto choosing 4 and the swept 4 (the same size) 3% apart, no overlap
    sweep = sweep_of(
        tmp_path,
        {
            4: measured(4, [85.8, 86.2, 87.1]),
            "auto": measured(4, [87.4, 90.0, 91.7], "auto"),
            16: measured(16, [56.3, 56.3, 60.8]),
        },
    )
    best = write_report(sweep).recommended[0]
    assert best["clear"] is False and best["within_noise"] == ["4", "auto (4)"] and best["label"] == "4"


def test_a_too_short_point_is_marked_never_ok_and_never_recommended(tmp_path):
    sweep = sweep_of(tmp_path, {1: measured(1, [10, 11, 12]), 64: too_short(64)})
    report = write_report(sweep)
    point = next(p for p in report.points if p["batch_size"] == 64)
    assert point["status"] == "too_short" and "budget ended it" in point["too_short_reason"]
    assert report.recommended[0]["batch_size"] == 1  # 80 items/s would win, but was never measured enough
    md = (sweep / "sweep.md").read_text()
    assert "| batch_size=64 | too short | 64 | 80.0 |" in md
    assert "**too short** (batch_size=64): 2 timed batches" in md


def test_auto_is_labelled_with_its_choice_and_its_trials_are_a_separate_part(tmp_path):
    trials = [{"batch_size": n, "status": "ok", "seconds": 0.1, "items_per_second": 10.0 * n} for n in (1, 2, 4)]
    sweep = sweep_of(tmp_path, {1: measured(1, [10, 11, 12]), "auto": measured(4, [30, 31, 32], "auto", trials)})
    report = write_report(sweep)
    assert len(report.points) == 2  # the trials are not points
    md = (sweep / "sweep.md").read_text()
    assert "| batch_size=auto | ok | auto (4), 3 trials | 31.0 |" in md
    assert "## batch_size=auto trials (batch_size=auto)" in md and "| 2 | ok | 20.0 | 0.1000 |" in md
    assert "throughput plateau" in md
    assert report.summary_lines()[0].startswith("recommended batch size: auto (4) (31.0 items/s")


def test_the_plot_has_one_labelled_tick_per_batch_size_error_bars_and_marked_failures(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    trials = [{"batch_size": n, "status": "ok", "seconds": 0.1, "items_per_second": 10.0 * n} for n in (1, 2, 4, 8)]
    sweep = tmp_path / "multirun"
    points = {
        1: measured(1, [10, 11, 12]),
        4: measured(4, [30, 34, 35]),
        16: too_short(16),
        64: {"status": "oom", "batch_size": 64, "batch_size_requested": 64, "error": "CUDA out of memory"},
        128: {"status": "skipped_after_oom", "batch_size": 128, "batch_size_requested": 128},
        "auto": measured(8, [40, 41, 44], "auto", trials),
    }
    for num, (batch, metrics) in enumerate(points.items()):
        for group in ("float32", "bfloat16"):
            write_job(sweep, f"{group}-{num}", [*COMMON, f"dtype={group}", f"batch_size={batch}"], metrics)
    report = write_report(sweep)
    figure = build_figure(report)
    speed, memory = figure.axes
    ticks = [t.get_text() for t in speed.get_xticklabels()]
    assert ticks == ["1", "4", "16", "64", "128", "auto (8)"]  # no tick without a point, auto with its choice
    legend = [t.get_text() for t in speed.get_legend().get_texts()]
    assert "dtype=float32" in legend and "dtype=bfloat16" in legend and "all points" not in legend
    assert {"out of memory", "skipped after OOM", "too short to measure"} <= set(legend)
    assert "recommended" in legend  # auto (8) beats 4's fastest repeat by more than the floor, in both groups
    bars = [c for c in speed.containers if isinstance(c, matplotlib.container.ErrorbarContainer)]
    assert len(bars) == 4  # per group: the swept sizes measured ok, and the auto point
    marks = sorted(t.get_text() for t in speed.texts)  # each reason written once at its tick, for both groups
    assert marks == ["out of memory", "skipped after OOM", "too short to measure"]
    # memory per group: 1, 4 and the too-short 16 (it ran); no OOM figure, and auto's peak holds its trials
    assert [len(line.get_xdata()) for line in memory.get_lines()] == [3, 3]
    assert "not shown: its peak\nincludes the trials" in [t.get_text() for t in memory.texts]
    assert {"out of memory", "skipped after OOM"} <= {t.get_text() for t in memory.texts}
    matplotlib.pyplot.close(figure)
