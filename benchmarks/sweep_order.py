"""Does the order of a sweep's points bias its numbers? The same sweep run forward and reversed.

    .venv/bin/python benchmarks/sweep_order.py              # MiniLM, 120 texts, batch 1,4,16,64,auto; 2 rounds
    .venv/bin/python benchmarks/sweep_order.py --smoke      # the tiny model, 24 rows: seconds
    .venv/bin/python benchmarks/sweep_order.py --out DIR    # keep the sweeps (sweep.md, sweep.png) in DIR
    .venv/bin/python benchmarks/sweep_order.py --cost       # what measuring costs: a sweep's wall time with
                                                            # the defaults / with one pass per point

Each round runs `run -m ... batch_size=1,4,16,64,auto` and then `batch_size=auto,64,16,4,1` (interleaved, so a
change of machine load hits both orders alike), each a fresh process as a user runs it, with
`threads=1`. Per batch size the ratio is reversed p50 / forward p50 (1.0: no bias); `extra` says
whether the two points' repeat ranges (min..max) overlap and whether both sweeps recommended the
same size (or both found no clear winner among the same sizes).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from benchmarks.common import Ratio  # noqa: E402

WORDS = "the a model runs fast slow batch data text sentence embedding vector throughput latency memory".split()


def write_texts(path: Path, count: int) -> None:
    pick = random.Random(0)
    lines = [
        json.dumps({"text": " ".join(pick.choice(WORDS) for _ in range(pick.randint(3, 40)))}) for _ in range(count)
    ]
    path.write_text("\n".join(lines) + "\n")


ONE_PASS = ["bench.repeats=1", "bench.min_batches=1", "bench.min_seconds=0"]  # as before the repeats


def sweep(folder: Path, name: str, sizes: list, smoke: bool, extra: tuple = ()) -> dict:
    """One `run -m` in a fresh process; sweep.json's points by batch size, and its recommendation."""
    model = (
        ["+task=text-classification", "model=tiny", "task.params.truncation=true"]
        if smoke  # tiny: 32 positions
        else ["+task=feature-extraction", "model=minilm"]
    )
    out = folder / name
    command = [
        str(Path(sys.executable).parent / "run"),
        "-m",
        *model,
        "dataset=file",
        "dataset.path=texts.jsonl",
        "progress=false",
        "threads=1",
        f"batch_size={','.join(map(str, sizes))}",
        f"hydra.sweep.dir={out}",
        *extra,
    ]
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    document = json.loads((out / "sweep.json").read_text())
    return {
        "points": {str(p["batch_size_requested"]): p for p in document["points"]},
        "recommended": document["recommended"][0],
    }


def agree(forward: dict, backward: dict) -> bool:
    """The same clear pick, or no clear winner in both with the same sizes within noise (auto's
    label carries the size it chose, which may differ between the two: compared without it)."""

    def key(best: dict) -> tuple:
        return best["clear"], [label.split(" ")[0] for label in best["within_noise"]]

    return key(forward["recommended"]) == key(backward["recommended"])


def overlap(a: dict, b: dict) -> bool:
    return (
        a["items_per_second_min"] <= b["items_per_second_max"]
        and b["items_per_second_min"] <= a["items_per_second_max"]
    )


def measure(smoke: bool = False, rounds: int = 2, out: Path | None = None) -> list[Ratio]:
    sizes = ["1", "4", "16", "auto"] if smoke else ["1", "4", "16", "64", "auto"]
    ratios: dict[str, list[float]] = {size: [] for size in sizes}
    overlaps: dict[str, list[bool]] = {size: [] for size in sizes}
    picks = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = out or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        write_texts(folder / "texts.jsonl", 24 if smoke else 120)
        for round_ in range(rounds):
            forward = sweep(folder, f"forward{round_}", sizes, smoke)
            backward = sweep(folder, f"backward{round_}", sizes[::-1], smoke)
            picks.append(agree(forward, backward))
            for size in sizes:
                a, b = forward["points"][size], backward["points"][size]
                ratios[size].append(b["items_per_second"] / a["items_per_second"])
                overlaps[size].append(overlap(a, b))
    return [
        Ratio(
            f"sweep order: batch {size}, reversed / forward p50",
            ratios[size],
            detail=f"{'tiny' if smoke else 'MiniLM'}; repeat ranges overlap in {sum(overlaps[size])} of "
            f"{rounds} rounds; recommendations agree in {sum(picks)} of {rounds}",
            extra={"ranges_overlap": overlaps[size], "recommendations_agree": picks},
        )
        for size in sizes
    ]


def measure_cost(smoke: bool = False, rounds: int = 2) -> Ratio:
    """Wall time of the same sweep with the defaults (repeats, minimums) over one pass per point."""
    import time

    from benchmarks.common import interleaved

    sizes = ["1", "4", "16", "auto"] if smoke else ["1", "4", "16", "64", "auto"]
    with tempfile.TemporaryDirectory() as tmp:
        folder, names = Path(tmp), iter(range(10**6))
        write_texts(folder / "texts.jsonl", 24 if smoke else 120)

        def timed(extra: tuple) -> float:
            started = time.perf_counter()
            sweep(folder, f"cost{next(names)}", sizes, smoke, extra)
            return time.perf_counter() - started

        ratios, base, ours = interleaved(rounds, lambda: timed(tuple(ONE_PASS)), lambda: timed(()), warmup=False)
    return Ratio(
        "sweep wall time: defaults / one pass per point",
        ratios,
        lower_is_better=True,
        detail=f"{'tiny' if smoke else 'MiniLM'}, batch {','.join(sizes)}; seconds, one pass per point: "
        f"{', '.join(f'{x:.1f}' for x in base)}; defaults: {', '.join(f'{x:.1f}' for x in ours)}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, help="keep the sweeps here (default: a temporary folder)")
    parser.add_argument("--cost", action="store_true", help="measure what the repeats cost instead")
    args = parser.parse_args()
    if args.cost:
        print(measure_cost(args.smoke, args.rounds).line())
        return
    for ratio in measure(args.smoke, args.rounds, args.out.resolve() if args.out else None):
        print(ratio.line())


if __name__ == "__main__":
    main()
