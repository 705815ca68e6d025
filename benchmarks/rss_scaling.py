"""Peak memory must not grow with the dataset: the same run over 10k and 100k text rows.

    .venv/bin/python benchmarks/rss_scaling.py [--sizes 10000 100000] [--batch-size 64]

Each size runs `run` in its own process (tiny text-classification model, JSONL file source) and
reads the run's own peak RSS from metrics.json; the target is peak(100k) <= 1.1 x peak(10k).
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

WORDS = "the quick brown fox jumps over the lazy dog while a patient river keeps flowing past old stones".split()


def write_rows(path: Path, count: int) -> None:
    with open(path, "w") as f:
        for i in range(count):
            length = 3 + (i * 7919) % 40
            f.write(json.dumps({"text": " ".join(WORDS[(i + k) % len(WORDS)] for k in range(length))}) + "\n")


def run(folder: Path, rows: int, batch_size: int, fmt: str) -> dict:
    data = folder / f"rows_{rows}.jsonl"
    write_rows(data, rows)
    out = folder / f"out_{rows}"
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "runner", "+task=text-classification", "model=tiny", "dataset=file",
         f"dataset.path={data}", f"batch_size={batch_size}", "progress=false", "task.params.truncation=true", f"output.format={fmt}",
         f"hydra.run.dir={out}"],
        check=True, capture_output=True, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    metrics = json.loads((out / "metrics.json").read_text())
    metrics["wall"] = time.perf_counter() - started
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs=2, default=[10_000, 100_000])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--format", default="[jsonl,parquet]", help="output.format for both runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = [run(Path(tmp), n, args.batch_size, args.format) for n in args.sizes]
    for n, m in zip(args.sizes, results):
        print(f"{n:>8} rows: peak RSS {m['peak_rss_mb']:8.1f} MB, {m['rows_out']} outputs, "
              f"{m['items_per_second']} rows/s, wall {m['wall']:.1f}s")
    ratio = results[1]["peak_rss_mb"] / results[0]["peak_rss_mb"]
    print(f"peak RSS ratio {args.sizes[1]}/{args.sizes[0]} rows: {ratio:.3f} (target <= 1.1): {'met' if ratio <= 1.1 else 'MISSED'}")


if __name__ == "__main__":
    main()
