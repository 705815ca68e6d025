"""batch_size=auto's search against accelerate's find_executable_batch_size, with injected OOMs.

Pure Python: each "batch" only checks its size against an OOM threshold (the runner's fault
injection, which raises the real torch.OutOfMemoryError), so this measures the search strategies,
not a model. For each threshold it prints the size each strategy settles on, its number of trials,
and the rows those trials fed the model (a proxy for the time a real search spends), then the sizes
each one tried.

    python benchmarks/autobatch_vs_accelerate.py [--max-batch-size 512] [--thresholds 3,24,100,300]

accelerate starts at --max-batch-size and shrinks after each OOM: x0.9 in accelerate 1.x (its
default), and halving (its original rule, still a common choice via reduce_batch_size_fn).
"""

from __future__ import annotations

import argparse
import logging

from runner.bench.autobatch import search_batch_size
from runner.bench.oom import check_injected_oom


def ours(threshold: int, max_batch_size: int) -> tuple[int | None, list[int]]:
    """Every call counted: a size that fits runs twice (its second run is the timed one). A fake clock
    gives every trial one second, so items/s grows with the size and only the OOMs end the search
    (on a real model the throughput plateau may end it sooner)."""
    calls: list[int] = []
    ticks = iter(range(10**6))

    def run(n: int) -> None:
        calls.append(n)
        check_injected_oom(n, threshold)

    result = search_batch_size(run, max_batch_size, clock=lambda: float(next(ticks)))
    return result.batch_size, calls


def accelerate(threshold: int, max_batch_size: int, halve: bool) -> tuple[int | None, list[int]]:
    from accelerate.utils import find_executable_batch_size

    tried: list[int] = []

    def run(batch_size):
        tried.append(batch_size)
        check_injected_oom(batch_size, threshold)
        return batch_size

    def halving():
        return tried[-1] // 2

    try:
        found = find_executable_batch_size(
            run, starting_batch_size=max_batch_size, reduce_batch_size_fn=halving if halve else None
        )()
    except RuntimeError:  # "No executable batch size found, reached zero."
        found = None
    return found, tried


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-batch-size", type=int, default=512)
    parser.add_argument("--thresholds", default="3,24,40,100,300,511")
    args = parser.parse_args()
    logging.getLogger("accelerate").setLevel(logging.ERROR)
    print(f"OOM above the threshold; max / starting batch size {args.max_batch_size}\n")
    print("size found (calls, rows fed; ours runs each size that fits twice):\n")
    print("| OOM above | ours | accelerate x0.9 | accelerate halving |")
    print("|---:|---:|---:|---:|")
    details = []
    for threshold in (int(t) for t in args.thresholds.split(",")):
        rows = {
            "ours": ours(threshold, args.max_batch_size),
            "x0.9": accelerate(threshold, args.max_batch_size, halve=False),
            "halving": accelerate(threshold, args.max_batch_size, halve=True),
        }
        cells = [f"{size} ({len(tried)}, {sum(tried)})" for size, tried in rows.values()]
        print(f"| {threshold} | " + " | ".join(cells) + " |")
        details += [f"  OOM above {threshold}, {name}: tried {tried}" for name, (_, tried) in rows.items()]
    print("\nsizes tried:")
    print("\n".join(details))


if __name__ == "__main__":
    main()
