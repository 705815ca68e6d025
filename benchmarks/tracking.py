"""What tracking=mlflow costs a run: the wall time of a whole `run` command with and without it.

    .venv/bin/python benchmarks/tracking.py            # real all-MiniLM-L6-v2 on the sample, 3 rounds
    .venv/bin/python benchmarks/tracking.py --smoke    # model=tiny, 1 round

Rounds alternate untracked and tracked (benchmarks/common.interleaved); each tracked round logs into a
fresh SQLite store, so it pays what a user's first run pays (MLflow creates its tables, ~1-4 s), and a
second figure logs into a store that exists already. Reported as tracked/untracked (lower is better).
Not part of benchmarks/run.py's PARTS; no target: the cost is opt-in and mostly MLflow's import.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Ratio, interleaved  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
RUN = [sys.executable, "-m", "runner"]


def _timed(args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    result = subprocess.run([*RUN, *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    return time.perf_counter() - start


def measure(smoke: bool, rounds: int) -> list[Ratio]:
    model = "tiny" if smoke else "minilm"
    base = ["+task=feature-extraction", f"model={model}", "dataset=sample", "progress=false"]
    with tempfile.TemporaryDirectory(prefix="bench-tracking-") as folder:
        root = Path(folder)
        count = iter(range(10_000))
        kept = f"sqlite:///{root / 'kept.db'}"

        def untracked() -> float:
            return _timed([*base, f"hydra.run.dir={root / f'run{next(count)}'}"], root)

        def tracked(uri: str | None = None) -> float:
            n = next(count)
            uri = uri or f"sqlite:///{root / f'fresh{n}.db'}"
            return _timed(
                [*base, "tracking=mlflow", f"tracking.tracking_uri={uri}", f"hydra.run.dir={root / f'run{n}'}"], root
            )

        fresh, b1, o1 = interleaved(rounds, untracked, tracked)
        existing, b2, o2 = interleaved(rounds, untracked, lambda: tracked(kept))
    detail = f"`run +task=feature-extraction model={model} dataset=sample`, wall seconds untracked {b1} / tracked {o1}"
    return [
        Ratio("tracking=mlflow, new SQLite store", fresh, lower_is_better=True, detail=detail),
        Ratio(
            "tracking=mlflow, existing store", existing, lower_is_better=True, detail=f"untracked {b2} / tracked {o2}"
        ),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    for ratio in measure(options.smoke, 1 if options.smoke else options.rounds):
        print(ratio.line())
