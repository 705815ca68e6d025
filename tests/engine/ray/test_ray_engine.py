"""engine=ray on a local Ray cluster of 2 CPUs (one per module, started here: runs join it), tiny
models and real files: the same predictions as engine=local byte for byte, a poisoned row recorded,
an actor killed mid-run restarted with no row lost or written twice."""

from __future__ import annotations

import csv
import json

import pytest

from tests.conftest import read_jsonl, run_job, write_wav

ray = pytest.importorskip("ray", reason="engine=ray needs the [ray] extra (scripts/setup.sh installs it)")
pytestmark = pytest.mark.slow  # a Ray cluster and its actor processes

TEXT = [
    "+task=text-classification",
    "model=tiny",
    "dataset=file",
    "dataset.path=texts.csv",
    "batch_size=16",
    "progress=false",
]
RAY = ["engine=ray", "engine.actors=2"]


@pytest.fixture(scope="module")
def cluster(tiny_cache):
    """Started by the test process, after the tiny-model cache dir is set: its workers inherit the env."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def texts(tmp_path_factory):
    """2,000 rows of varied lengths (so batches pad), and a local run of them to compare with."""
    root = tmp_path_factory.mktemp("texts")
    with open(root / "texts.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text"])
        for i in range(2000):
            writer.writerow([f"row {i}: " + "a fine day " * (i % 9) + "not good " * (i % 4)])
    local = root / "local"
    assert run_job(*TEXT, f"hydra.run.dir={local}", cwd=root).returncode == 0
    return root


def test_a_2000_row_text_job_on_two_actors_equals_the_local_run(cluster, texts):
    out = texts / "ray"
    result = run_job(*TEXT, *RAY, f"hydra.run.dir={out}", cwd=texts)
    assert result.returncode == 0, result.stderr
    assert (out / "predictions.jsonl").read_bytes() == (texts / "local" / "predictions.jsonl").read_bytes()
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["status"], metrics["rows_in"], metrics["rows_out"], metrics["rows_error"]) == ("ok", 2000, 2000, 0)
    engine = metrics["engine"]
    assert engine["name"] == "ray" and engine["started_cluster"] is False  # joined the module's cluster
    actors = engine["actors"]
    assert len(actors) == 2 and all(a["rows"] > 0 for a in actors)  # both actors took chunks
    assert sum(a["rows"] for a in actors) == 2000 and sum(a["chunks"] for a in actors) == 125
    assert metrics["steps"]["main"]["rows_timed"] == 2000 and metrics["batch_size"] == 16
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "ok" and record["config"]["engine"]["name"] == "ray"


def test_an_actor_killed_mid_run_is_restarted_and_no_row_is_lost_or_doubled(cluster, texts, tmp_path, monkeypatch):
    marker = tmp_path / "killed"
    monkeypatch.setenv("RUNNER_RAY_KILL_AT_INDEX", "250")
    monkeypatch.setenv("RUNNER_RAY_KILL_MARKER", str(marker))
    out = tmp_path / "ray"
    result = run_job(*TEXT, *RAY, "dataset.limit=600", f"hydra.run.dir={out}", cwd=texts)
    assert result.returncode == 0, result.stderr
    assert marker.is_file()  # the actor holding row 250 did die (SIGKILL)
    local = (texts / "local" / "predictions.jsonl").read_bytes().splitlines(keepends=True)[:600]
    assert (out / "predictions.jsonl").read_bytes() == b"".join(local)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["rows_out"] == 600 and sum(a["rows"] for a in metrics["engine"]["actors"]) == 600
    killed_pid = int(marker.read_text().split()[1])
    assert any(killed_pid in a["pids"] and len(a["pids"]) == 2 for a in metrics["engine"]["actors"]), metrics["engine"]


CHAIN = [
    "+graph.steps.transcribe.task=asr",
    "+graph.steps.transcribe.model=tiny",
    "+graph.steps.transcribe.input=audio",
    "+graph.steps.mood.task=text-classification",
    "+graph.steps.mood.model=tiny",
    "+graph.steps.mood.input=transcribe.text",
    "dataset=folder",
    "dataset.path=recordings",
    "batch_size=2",
    "progress=false",
    "seed=1",  # seed 1: the tiny random Whisper emits characters
]


def test_an_audio_chain_runs_as_two_stages_equal_to_local_and_a_broken_file_fails_alone(cluster, tmp_path):
    for i in range(5):
        write_wav(tmp_path / "recordings" / f"r{i}.wav", 0.5 + 0.2 * i, freq=220.0 * (1 + i % 3))
    (tmp_path / "recordings" / "r3b.wav").write_bytes(b"RIFF\x00\x00not audio")  # the poisoned row
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    assert run_job(*CHAIN, f"hydra.run.dir={local}", cwd=tmp_path).returncode == 4  # a failed row, finished
    result = run_job(*CHAIN, "engine=ray", f"hydra.run.dir={on_ray}", cwd=tmp_path)
    assert result.returncode == 4, result.stderr  # finished, with the broken file's row failed (not a crash)
    for name in ("predictions.jsonl", "errors.jsonl"):
        assert (on_ray / name).read_bytes() == (local / name).read_bytes(), name
    (error,) = read_jsonl(on_ray / "errors.jsonl")
    assert (error["id"], error["step"], error["stage"]) == ("r3b.wav", "transcribe", "prepare")
    predictions = read_jsonl(on_ray / "predictions.jsonl")
    assert len(predictions) == 5 and all(set(p["output"]) == {"transcribe", "mood"} for p in predictions)
    metrics = json.loads((on_ray / "metrics.json").read_text())
    assert (metrics["rows_in"], metrics["rows_out"], metrics["rows_error"]) == (6, 5, 1)
    assert {a["step"] for a in metrics["engine"]["actors"]} == {"transcribe", "mood"}  # a stage, an actor pool each


def test_on_error_fail_stops_at_the_failing_row_keeping_the_rows_before_it(cluster, tmp_path):
    rows = ["fine"] * 5 + [""] + ["fine"] * 5  # an empty text fails its row
    (tmp_path / "t.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in rows))
    out = tmp_path / "ray"
    result = run_job(
        "+task=text-classification",
        "model=tiny",
        "dataset=file",
        "dataset.path=t.jsonl",
        "batch_size=2",
        "on_error=fail",
        "progress=false",
        *RAY,
        f"hydra.run.dir={out}",
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "failed in step main" in result.stderr and "index 5" in result.stderr
    assert [p["index"] for p in read_jsonl(out / "predictions.jsonl")] == [0, 1, 2, 3]  # the chunks before it
    assert json.loads((out / "metrics.json").read_text())["status"] == "error"


def test_a_local_run_cut_short_resumes_on_ray_appending_only_the_missing_rows(cluster, texts, tmp_path):
    out = tmp_path / "run"
    assert run_job(*TEXT, "dataset.limit=100", f"hydra.run.dir={out}", cwd=texts).returncode == 0
    lines = (out / "predictions.jsonl").read_bytes().splitlines(keepends=True)
    (out / "predictions.jsonl").write_bytes(b"".join(lines[:37]))  # as a killed run leaves it
    result = run_job(*TEXT, *RAY, "dataset.limit=100", f"resume={out}", f"hydra.run.dir={tmp_path / 'next'}", cwd=texts)
    assert result.returncode == 0, result.stderr
    assert (out / "predictions.jsonl").read_bytes() == b"".join(lines)
    metrics = json.loads((out / "metrics.json").read_text())
    # rows 32-36 were the start of a batch of 16 the stop cut: resume= redoes that batch whole (rows 32-47 in
    # one call, as the uninterrupted run batched them), so 32 rows are kept and 68 go to Ray
    assert (metrics["rows_resumed"], metrics["rows_out"], metrics["engine"]["name"]) == (32, 100, "ray")
    assert sum(a["rows"] for a in metrics["engine"]["actors"]) == 68  # only the missing rows went to Ray


def test_int8_on_ray_probes_the_rows_engine_local_probes_with_the_same_figure(cluster, texts, tmp_path):
    # 5 probe rows in chunks of 2 on 2 actors: the probe's rows come from both actors' chunks, the last
    # one from the middle of a chunk; the float32 call batches them as engine=local does.
    args = [
        "+task=feature-extraction",
        "model=tiny",
        "dataset=file",
        "dataset.path=texts.csv",
        "dataset.limit=12",
        "batch_size=2",
        "threads=1",
        "progress=false",
        "quantization=int8",
        "quantization.probe_rows=5",
    ]
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    assert run_job(*args, f"hydra.run.dir={local}", cwd=texts).returncode == 0
    result = run_job(*args, *RAY, f"hydra.run.dir={on_ray}", cwd=texts)
    assert result.returncode == 0, result.stderr
    assert (on_ray / "predictions.jsonl").read_bytes() == (local / "predictions.jsonl").read_bytes()
    figures = [json.loads((out / "metrics.json").read_text())["quantization"] for out in (local, on_ray)]
    agreement = [{k: v for k, v in f.pop("agreement").items() if k != "seconds"} for f in figures]
    assert agreement[0]["rows"] == 5 and agreement[0]["kind"] == "vectors"
    assert agreement[1] == agreement[0] and figures[1] == figures[0]  # the same figure, to the last digit
    metrics = json.loads((on_ray / "metrics.json").read_text())
    assert metrics["steps"]["main"]["quantization"]["agreement"]["rows"] == 5
    assert all(a["rows"] > 0 for a in metrics["engine"]["actors"])  # both actors took chunks
    assert "int8 agreement vs float32 on 5 rows: mean cosine " in result.stderr
