"""quantization=int8 end to end on tiny models: the agreement probe against float32 in metrics.json and on
screen, run.json's record, config errors before load, a sweep over quantization loading each model."""

from __future__ import annotations

import json

import pytest

from runner.api import run
from tests.conftest import read_jsonl, run_cli

BASE = ["model=tiny", "dataset=sample", "progress=false", "device=cpu"]


@pytest.mark.parametrize("task, kind", [("feature-extraction", "vectors"), ("text-classification", "labels")])
def test_int8_changes_outputs_slightly_and_says_how_much(tmp_path, task, kind):
    plain = run([f"+task={task}", *BASE], output_dir=tmp_path / "none")
    int8 = run([f"+task={task}", *BASE, "quantization=int8"], output_dir=tmp_path / "int8")
    assert int8.metrics["rows_out"] == plain.metrics["rows_out"] == 6 and int8.errors == []
    assert [p["output"] for p in int8.predictions] != [p["output"] for p in plain.predictions]

    quantization = int8.metrics["quantization"]
    assert quantization["mode"] == "int8" and quantization["layers_quantized"] > 0
    agreement = quantization["agreement"]
    assert agreement["reference"] == "float32" and agreement["kind"] == kind and agreement["rows"] == 6
    assert 0.5 < agreement["agreement"] <= 1.0 + 1e-9
    assert int8.metrics["quantized"] is True and "quantization" not in plain.metrics

    record = json.loads((tmp_path / "int8" / "run.json").read_text())
    assert record["quantization"]["library"] == "torch.ao.quantization.quantize_dynamic"
    assert record["quantization"]["layers_quantized"] == quantization["layers_quantized"]
    assert record["quantization"]["version"] == record["versions"]["torch"]
    assert "agreement" not in record["quantization"] and "quantization" not in json.loads(
        (tmp_path / "none" / "run.json").read_text()
    )


def test_the_probe_changes_no_prediction_and_stops_at_probe_rows(tmp_path):
    probed = run(
        ["+task=feature-extraction", *BASE, "quantization=int8", "quantization.probe_rows=4", "batch_size=2"],
        output_dir=tmp_path / "probed",
    )
    unprobed = run(
        ["+task=feature-extraction", *BASE, "quantization=int8", "quantization.probe_rows=0", "batch_size=2"],
        output_dir=tmp_path / "unprobed",
    )
    assert probed.predictions == unprobed.predictions
    assert probed.metrics["quantization"]["agreement"]["rows"] == 4
    assert unprobed.metrics["quantization"]["agreement"] is None


def test_benchmark_passes_add_no_probe_rows(tmp_path):
    result = run(
        [
            "+task=feature-extraction",
            *BASE,
            "quantization=int8",
            "bench.enabled=true",
            "batch_size=2",
            "bench.warmup_batches=0",
        ],
        output_dir=tmp_path,
    )
    assert result.metrics["quantization"]["agreement"]["rows"] == 6 and result.metrics["items_per_second"] > 0


def test_the_agreement_is_printed_after_the_done_line(tmp_path):
    result = run_cli(
        "+task=feature-extraction", *BASE, "quantization=int8", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    lines = (result.stdout + result.stderr).splitlines()
    done = next(i for i, line in enumerate(lines) if line.startswith("done: "))
    assert lines[done + 1].startswith("int8 agreement vs float32 on 6 rows: mean cosine ")
    assert " (min " in lines[done + 1]


@pytest.mark.parametrize(
    "override, key", [("device=cuda", "quantization"), ("dtype=bfloat16", "dtype"), ("device_map=auto", "quantization")]
)
def test_a_combination_int8_cannot_run_is_a_config_error(tmp_path, override, key):
    args = ["+task=feature-extraction", "model=tiny", "dataset=sample", "quantization=int8", override]
    if override.startswith("device_map"):
        args.append("device=auto")
    result = run_cli(*args, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert f"config error: {key}:" in result.stderr and "loading" not in result.stderr


def test_a_sweep_over_quantization_loads_each_model(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_cli(
        "-m", "+task=text-classification", *BASE, "quantization=none,int8", f"hydra.sweep.dir={sweep}", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("loading tiny model") == 2 and "reusing the loaded" not in result.stderr
    points = {}
    for job in sorted(p for p in sweep.iterdir() if (p / "metrics.json").exists()):
        metrics = json.loads((job / "metrics.json").read_text())
        points[(metrics.get("quantization") or {}).get("mode", "none")] = metrics
    assert set(points) == {"none", "int8"} and points["int8"]["quantization"]["agreement"]["rows"] == 6
    assert not points["int8"]["model_reused"] and not points["none"]["model_reused"]
    assert read_jsonl(sweep / "0" / "predictions.jsonl") != read_jsonl(sweep / "1" / "predictions.jsonl")


def test_a_reused_int8_model_loads_float32_again_for_its_probe(tmp_path):
    from runner.job.invocation import Invocation

    invocation = Invocation()
    first = run(
        ["+task=feature-extraction", *BASE, "quantization=int8"], output_dir=tmp_path / "a", invocation=invocation
    )
    second = run(
        ["+task=feature-extraction", *BASE, "quantization=int8", "batch_size=2"],
        output_dir=tmp_path / "b",
        invocation=invocation,
    )
    assert second.metrics["model_reused"] is True
    assert second.metrics["quantization"]["agreement"]["rows"] == 6
    assert second.metrics["quantization"]["agreement"]["agreement"] == pytest.approx(
        first.metrics["quantization"]["agreement"]["agreement"], abs=1e-3
    )
