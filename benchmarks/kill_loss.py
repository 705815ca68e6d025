"""How much finished work a `kill -9` loses: start a slow run (tiny text generation), kill it with
SIGKILL at random moments, and measure what it had not written yet.

    .venv/bin/python benchmarks/kill_loss.py                        # 6 kills, 0.5-3 s after the first write
    .venv/bin/python benchmarks/kill_loss.py --kills 4 --batch-size 4 --python /work/main/.venv/bin/python

The file predictions.jsonl is polled every 2 ms; each change is a write. A row the run had computed
but not written when it was killed is at most the rows between its last write and the next one, so
per kill the script reports whether the run was still going, the rows written, the largest write
(rows that appeared between two polls: finished rows that were waiting, i.e. the most a kill can lose),
the median time between writes and the time from the last write to the kill (a kill inside the batch
being computed loses only that batch).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def start(python: str, folder: Path, batch_size: int, out: Path) -> subprocess.Popen:
    args = [
        "+task=text-generation",
        "model=tiny",
        "task.params.max_new_tokens=48",
        "dataset=file",
        f"dataset.path={folder / 'rows.jsonl'}",
        f"batch_size={batch_size}",
        "progress=false",
        f"hydra.run.dir={out}",
    ]
    return subprocess.Popen(
        [python, "-m", "runner", *args],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )


def lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def one_kill(python: str, folder: Path, batch_size: int, out: Path, after_s: float) -> dict:
    """Run, and kill -9 `after_s` seconds after the first row was written."""
    process = start(python, folder, batch_size, out)
    writes: list[tuple[float, int]] = [(time.monotonic(), 0)]
    first = None
    while process.poll() is None:
        now, count = time.monotonic(), lines(out / "predictions.jsonl")
        if count != writes[-1][1]:
            writes.append((now, count))
            first = first or now
        if first is not None and now - first >= after_s:
            break
        time.sleep(0.002)
    killed_at, finished = time.monotonic(), process.poll()
    process.send_signal(signal.SIGKILL)
    process.wait()
    sizes = [b[1] - a[1] for a, b in zip(writes, writes[1:])] or [0]
    gaps = [b[0] - a[0] for a, b in zip(writes[1:], writes[2:])]
    return {
        "killed": finished is None,
        "written": writes[-1][1],
        "largest_write": max(sizes),
        "writes_seen": len(writes) - 1,
        "median_s_between_writes": round(statistics.median(gaps), 3) if gaps else None,
        "s_since_last_write": round(killed_at - writes[-1][0], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--python", default=sys.executable, help="the interpreter whose runner is measured")
    args = parser.parse_args()
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "rows.jsonl").write_text(
            "".join(json.dumps({"text": f"tell me about row {i}"}) + "\n" for i in range(args.rows))
        )
        results = []
        for kill in range(args.kills):
            result = one_kill(args.python, folder, args.batch_size, folder / f"out{kill}", rng.uniform(0.5, 3.0))
            results.append(result)
            print(json.dumps(result), flush=True)
    killed = [r for r in results if r["killed"]]
    print(
        f"batch size {args.batch_size}: {len(killed)} of {len(results)} runs killed mid-run; largest write "
        f"{max((r['largest_write'] for r in killed), default=None)} rows (the most a kill can lose)"
    )


if __name__ == "__main__":
    main()
