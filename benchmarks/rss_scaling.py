"""Peak memory must not grow with the dataset: the same run over 10k and 100k text rows.

    .venv/bin/python benchmarks/rss_scaling.py [--sizes 10000 100000] [--batch-size 64] [--rounds 1]

Each size runs `run` in its own process (tiny text-classification model, JSONL file source) and
reads the run's own peak RSS from metrics.json; the target is peak(100k) <= 1.1 x peak(10k).
`measure(smoke, rounds)` gives the ratio for benchmarks/run.py: rounds alternate the two sizes and
are capped at 2 (memory, unlike time, barely varies between rounds, and a round is 110k rows);
smoke uses 200 and 2000 rows.
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
from benchmarks.common import Ratio  # noqa: E402

WORDS = "the quick brown fox jumps over the lazy dog while a patient river keeps flowing past old stones".split()


def write_rows(path: Path, count: int) -> None:
    with open(path, "w") as f:
        for i in range(count):
            length = 3 + (i * 7919) % 40
            f.write(json.dumps({"text": " ".join(WORDS[(i + k) % len(WORDS)] for k in range(length))}) + "\n")


def run(folder: Path, rows: int, batch_size: int, fmt: str, index: int = 0) -> dict:
    data = folder / f"rows_{rows}.jsonl"
    if not data.is_file():
        write_rows(data, rows)
    out = folder / f"out_{rows}_{index}"
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "runner",
            "+task=text-classification",
            "model=tiny",
            "dataset=file",
            f"dataset.path={data}",
            f"batch_size={batch_size}",
            "progress=false",
            "task.params.truncation=true",
            f"output.format={fmt}",
            f"hydra.run.dir={out}",
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    metrics = json.loads((out / "metrics.json").read_text())
    metrics["wall"] = time.perf_counter() - started
    return metrics


def measure(
    smoke: bool = False,
    rounds: int = 1,
    sizes: tuple[int, int] | None = None,
    batch_size: int = 64,
    fmt: str = "[jsonl,parquet]",
) -> list[Ratio]:
    small, large = sizes or ((200, 2000) if smoke else (10_000, 100_000))
    ratios, details = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(max(1, min(rounds, 2))):
            low, high = (run(Path(tmp), n, batch_size, fmt, index) for n in (small, large))
            ratios.append(high["peak_rss_mb"] / low["peak_rss_mb"])
            details.append(f"{low['peak_rss_mb']:.0f} vs {high['peak_rss_mb']:.0f} MB")
    return [
        Ratio(
            f"peak RSS {large // 1000}k rows / {small // 1000 or small}{'k' if small >= 1000 else ''} rows",
            ratios,
            target=1.1,
            lower_is_better=True,
            detail=f"tiny text-classification, batch {batch_size}, output {fmt}; peak RSS {'; '.join(details)}",
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs=2, default=[10_000, 100_000])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--format", default="[jsonl,parquet]", help="output.format for both runs")
    parser.add_argument("--rounds", type=int, default=1, help="runs of both sizes, alternating (at most 2)")
    args = parser.parse_args()
    for ratio in measure(False, args.rounds, tuple(args.sizes), args.batch_size, args.format):
        print(ratio.line())


if __name__ == "__main__":
    main()
