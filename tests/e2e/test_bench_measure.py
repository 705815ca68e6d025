"""Benchmark numbers through real runs of a tiny model: a short dataset re-timed into repeats, a budget
that leaves a point too short, batch_size=auto bounded by the rows, and sweep order that cannot bias
the result (a fake clock makes the model's cost, and its cold first calls, deterministic)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.sweep import build_report
from tests.conftest import read_jsonl, run_cli, run_job

BASE = [
    "+task=text-classification",
    "model=tiny",
    "dataset=file",
    "dataset.path=rows.jsonl",
    "progress=false",
    "bench.enabled=true",
]


def write_rows(folder: Path, count: int) -> None:
    words = "alpha beta gamma delta epsilon zeta eta theta".split()
    lines = [
        json.dumps({"text": " ".join(words[(i + k) % len(words)] for k in range(2 + i % 5))}) for i in range(count)
    ]
    (folder / "rows.jsonl").write_text("\n".join(lines) + "\n")


def metrics_of(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())


def test_a_short_dataset_is_timed_again_unwritten_until_the_repeats_are_long_enough(tmp_path):
    write_rows(tmp_path, 6)
    out = tmp_path / "out"
    result = run_job(
        *BASE,
        "batch_size=4",
        "bench.repeats=3",
        "bench.min_batches=2",
        "bench.min_seconds=0",
        f"hydra.run.dir={out}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    metrics = metrics_of(out)
    measurement = metrics["measurement"]
    # 6 rows at batch 4 are 2 batches a pass; 2 warm-up + 3 repeats x 2 batches need 4 passes
    assert measurement["status"] == "ok" and measurement["passes"] == 4 and measurement["batches"] == 6
    assert len(measurement["items_per_second"]["repeats"]) == 3
    assert metrics["items_per_second"] == measurement["items_per_second"]["p50"]
    assert (
        measurement["items_per_second"]["min"] <= metrics["items_per_second"] <= measurement["items_per_second"]["max"]
    )
    assert metrics["rows_out"] == 6 and len(read_jsonl(out / "predictions.jsonl")) == 6  # written once


def test_a_budget_that_stops_before_the_minimum_leaves_the_point_too_short(tmp_path):
    write_rows(tmp_path, 12)
    out = tmp_path / "out"
    result = run_job(*BASE, "batch_size=2", "bench.max_rows=4", f"hydra.run.dir={out}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    measurement = metrics_of(out)["measurement"]
    assert measurement["status"] == "too_short" and "items_per_second" not in measurement
    assert "bench.max_rows / bench.max_seconds budget" in measurement["reason"]
    assert "2 timed batches" in measurement["reason"]
    assert "too short to measure: 2 timed batches" in result.stderr  # the run's last line says so


def test_auto_never_grows_past_the_rows(tmp_path):
    write_rows(tmp_path, 6)
    out = tmp_path / "out"
    result = run_job(*BASE, "batch_size=auto", "bench.min_seconds=0", f"hydra.run.dir={out}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    autobatch = metrics_of(out)["autobatch"]
    assert autobatch["rows_known"] == 6 and autobatch["max_batch_size"] == 512
    assert max(t["batch_size"] for t in autobatch["trials"]) <= 6 and autobatch["batch_size"] <= 6
    assert autobatch["stopped_by"] in ("rows", "plateau")
    assert all(t["items_per_second"] > 0 for t in autobatch["trials"])


def test_the_issues_small_sweep_has_a_figure_for_every_point(tmp_path):
    """Issue 16: a 6-row sweep showed "ok" with empty numbers for batch 4 and 8, and auto grew to 512 rows
    (more than there were) and printed "None rows/s". Now every point is measured on re-timed rows."""
    write_rows(tmp_path, 6)
    sweep = tmp_path / "sweep"
    result = run_cli(
        "-m", *BASE[:-1], "batch_size=1,4,8,auto", "bench.min_seconds=0.05", f"hydra.sweep.dir={sweep}", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "None" not in result.stderr + result.stdout
    document = json.loads((sweep / "sweep.json").read_text())
    points = {p["batch_size_requested"]: p for p in document["points"]}
    assert set(points) == {1, 4, 8, "auto"}
    for point in points.values():
        assert point["status"] == "ok" and point["repeats"] == 3
        assert point["items_per_second_min"] <= point["items_per_second"] <= point["items_per_second_max"]
    assert (
        points["auto"]["batch_size"] <= 6 and max(t["batch_size"] for t in points["auto"]["autobatch"]["trials"]) <= 6
    )
    assert "recommended batch size: " in result.stdout


class FakeModelClock:
    """The time a batch of n rows takes: 10 ms + 2 ms a row, 20 times that for the process's first
    three calls (lazy init, caches): whichever point runs first pays for them."""

    def __init__(self):
        self.now, self.calls, self.depth = 0.0, 0, 0

    def install(self, monkeypatch) -> None:
        from runner.bench import stats
        from runner.engine.pipeline_step import PipelineStep

        original = PipelineStep.run

        def run(step, inputs, batch_size=None):
            self.depth += 1  # PipelineStep.run calls itself to apply a batch size: count the outer call
            try:
                return original(step, inputs, batch_size)
            finally:
                self.depth -= 1
                if self.depth == 0:
                    self.calls += 1
                    self.now += (20.0 if self.calls <= 3 else 1.0) * (0.010 + 0.002 * len(inputs))

        monkeypatch.setattr(PipelineStep, "run", run)
        monkeypatch.setattr(stats, "now", lambda: self.now)


def sweep_in_order(tmp_path: Path, name: str, sizes: list[int], monkeypatch) -> dict:
    """The points run one after the other in this process, as Hydra's basic launcher runs them."""
    FakeModelClock().install(monkeypatch)
    sweep = tmp_path / name
    for num, size in enumerate(sizes):
        out = sweep / str(num)
        result = run_job(
            *BASE,
            f"batch_size={size}",
            "bench.min_batches=3",
            "bench.min_seconds=0.05",
            f"hydra.run.dir={out}",
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr
    return {
        "report": build_report(sweep),
        "naive": {
            metrics_of(sweep / str(n))["batch_size"]: metrics_of(sweep / str(n))["steps"]["main"]["items_per_second"]
            for n in range(len(sizes))
        },
    }


def test_the_order_of_the_points_cannot_bias_the_result(tmp_path, monkeypatch):
    write_rows(tmp_path, 24)
    forward = sweep_in_order(tmp_path, "forward", [1, 4, 8], monkeypatch)
    backward = sweep_in_order(tmp_path, "backward", [8, 4, 1], monkeypatch)
    # the cold calls are real: the first point's all-calls average pays for the one warm-up does not cover
    assert forward["naive"][1] < backward["naive"][1] and backward["naive"][8] < forward["naive"][8]

    def p50s(result) -> dict:
        return {p["batch_size"]: p["items_per_second"] for p in result["report"].points}

    assert p50s(forward) == p50s(backward)
    assert p50s(forward)[8] == pytest.approx(8 / 0.026, rel=1e-3)
    assert forward["report"].recommended == [
        {**backward["report"].recommended[0], "job": forward["report"].recommended[0]["job"]}
    ]
    assert forward["report"].recommended[0]["batch_size"] == 8


def test_auto_says_how_its_batch_changes_the_answers(tmp_path):
    """Quality beside speed for batch_size=auto: the chosen size's outputs vs each probe row alone, by the
    task's measure (labels here), in metrics.json and on screen; the run then starts from the seed again."""
    write_rows(tmp_path, 6)
    out = tmp_path / "out"
    result = run_job(
        *BASE, "batch_size=auto", "bench.auto_until=memory", "bench.min_seconds=0", f"hydra.run.dir={out}", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    autobatch = metrics_of(out)["autobatch"]
    assert autobatch["batch_size"] == 6  # until memory: the largest the rows allow
    agreement = autobatch["agreement"]
    assert agreement["reference"] == "batch_size=1" and agreement["kind"] == "labels"
    assert agreement["rows"] == 6 and agreement["label_agreement"] == 1.0  # padding does not move a label
    assert "outputs at batch size 6 vs each row alone, on 6 rows: label agreement 1.000" in result.stderr
