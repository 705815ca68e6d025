"""Record, then check, the predictions of a fixed set of runs, to show a refactor changed no output.

    python benchmarks/behaviour.py record   # writes benchmarks/results/behaviour.json
    python benchmarks/behaviour.py check    # runs the same set again; exit 1 when any file differs

The set: every task on `model=tiny` with the built-in sample data, a two-step chain, and a batch-size
sweep (`run -m`). Each run's predictions.jsonl and errors.jsonl are hashed byte for byte. Paths of the
checkout are replaced by <root> first, so a clone elsewhere compares equal.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "behaviour.json"
CHAIN = {
    "steps": {
        "caption": {"task": "image-to-text", "model": "tiny", "params": {"max_new_tokens": 5}},
        "label": {"task": "text-classification", "model": "tiny", "input": "caption.generated_text"},
    }
}
# Parameters a task needs (or that keep generation short).
PARAMS = {
    "zero-shot-classification": {"candidate_labels": ["sports", "politics", "cooking"]},
    "zero-shot-image-classification": {"candidate_labels": ["cat", "dog"]},
    "zero-shot-object-detection": {"candidate_labels": ["cat", "dog"]},
    "token-classification": {"aggregation_strategy": "simple"},
    "fill-mask": {"top_k": 2},
    "text-classification": {"top_k": 2},
    "object-detection": {"threshold": 0.0},
    **{
        task: {"max_new_tokens": 5}
        for task in (
            "text-generation",
            "summarization",
            "translation",
            "text2text-generation",
            "image-to-text",
            "image-text-to-text",
        )
    },
}
SWEEP = ["+task=text-classification", "model=tiny", "batch_size=1,4", "bench.warmup_batches=0"]


def digest(path: Path) -> str | None:
    if not path.is_file():
        return None
    data = path.read_bytes().replace(str(ROOT).encode(), b"<root>")
    return hashlib.sha256(data).hexdigest()


def digests(run_dir: Path) -> dict:
    return {name: digest(run_dir / name) for name in ("predictions.jsonl", "errors.jsonl")}


def task_ids() -> list[str]:
    from runner.tasks import TASKS

    return sorted(TASKS)


def run_api(out: Path) -> dict:
    import runner

    results = {}
    for task in task_ids():
        result = runner.run(
            task,
            model="tiny",
            device="cpu",
            progress=False,
            output_dir=out / task,
            batch_size=2,
            task_params=PARAMS.get(task, {}),
        )
        results[f"task/{task}"] = digests(result.run_dir)
    result = runner.run(graph=CHAIN, device="cpu", progress=False, output_dir=out / "chain")
    results["chain"] = digests(result.run_dir)
    return results


def run_sweep(out: Path) -> dict:
    sweep_dir = out / "sweep"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    subprocess.run(
        [sys.executable, "-m", "runner", "-m", *SWEEP, "device=cpu", "progress=false", f"hydra.sweep.dir={sweep_dir}"],
        check=True,
        env=env,
        cwd=out,
        capture_output=True,
    )
    return {
        f"sweep/{point.name}": digests(point)
        for point in sorted(sweep_dir.iterdir())
        if point.is_dir() and (point / "predictions.jsonl").exists()
    }


def measure() -> dict:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        return {**run_api(out), **run_sweep(out)}


def main(mode: str) -> int:
    measured = measure()
    if mode == "record":
        RESULT.parent.mkdir(parents=True, exist_ok=True)
        RESULT.write_text(json.dumps(measured, indent=1, sort_keys=True) + "\n")
        print(f"recorded {len(measured)} runs in {RESULT}")
        return 0
    recorded = json.loads(RESULT.read_text())
    differ = sorted(k for k in recorded.keys() & measured.keys() if recorded[k] != measured[k])
    missing = sorted(recorded.keys() - measured.keys())
    for name in differ:
        print(f"DIFFERS {name}: {recorded[name]} then, {measured[name]} now")
    for name in missing:
        print(f"MISSING {name}")
    new = sorted(measured.keys() - recorded.keys())
    print(
        f"{len(recorded) - len(differ) - len(missing)} of {len(recorded)} runs byte-identical"
        + (f"; new runs not in the record: {', '.join(new)}" if new else "")
    )
    return 1 if differ or missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "check"))
