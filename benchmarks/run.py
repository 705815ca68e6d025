"""Every ratio the project claims, in one printout: each benchmark part's interleaved rounds
(min/median/max) against its target, then the date and the machine.

    .venv/bin/python benchmarks/run.py                        # every part, real models (10+ minutes on 2 cores)
    .venv/bin/python benchmarks/run.py --smoke                # tiny models, a few rows, 1 round (CI)
    .venv/bin/python benchmarks/run.py --parts throughput rss_scaling --rounds 5 --json out.json
    .venv/bin/python -m benchmarks ...                        # the same

A part is a module benchmarks/<name>.py with `measure(smoke: bool, rounds: int) -> list[Ratio]`
(benchmarks/common.py). A part that is not there (yet) prints "<name>: not available"; a part that
raises prints its error, the others still run, and the command exits 1. A target not met is a
measurement, not a failure (exit 0).
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import math
import os
import platform
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # keep the table readable: no load bars, no deprecations
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

# In printing order: the cheap, start-up-sensitive parts first, before the heavy ones warm caches.
PARTS = (
    "startup",
    "throughput",
    "token_budget",
    "embeddings",
    "prefetch",
    "rss_scaling",
    "asr",
    "asr_backends",
    "tables",
    "threads",
)


def load_part(name: str):
    """The part's module, or None when benchmarks/<name>.py is not there (another branch brings it).
    A module that is there but fails to import (a missing dependency) raises: that is a defect."""
    if not (HERE / f"{name}.py").is_file():
        return None
    # Parts import either `common` or `benchmarks.common`: both the folder and the repository root
    # must be importable (done here, not at import time, so importing this module changes nothing).
    for folder in (str(HERE.parent), str(HERE)):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    return importlib.import_module(f"benchmarks.{name}")


def run_part(name: str, smoke: bool, rounds: int) -> dict:
    """{"part", "status": ok|not available|failed, "ratios": [Ratio], "seconds", "error"}. torch's thread
    count is restored afterwards: a part that sets it (asr: threads=1 on both sides) must not set the next's."""
    import torch

    started, threads = time.perf_counter(), torch.get_num_threads()
    try:
        module = load_part(name)
        if module is None or not hasattr(module, "measure"):
            return {"part": name, "status": "not available", "ratios": [], "seconds": 0.0}
        ratios = list(module.measure(smoke=smoke, rounds=rounds))
        bad = [r.name for r in ratios if not all(math.isfinite(x) and x > 0 for x in r.rounds) or not r.rounds]
        if bad:
            raise ValueError(f"ratios not finite and positive: {bad}")
        status, error = "ok", ""
    except Exception:  # noqa: BLE001 - one broken part must not hide the others' figures
        ratios, status, error = [], "failed", traceback.format_exc()
    torch.set_num_threads(threads)
    return {"part": name, "status": status, "ratios": ratios, "seconds": time.perf_counter() - started, "error": error}


def machine() -> dict:
    import torch
    import transformers

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def print_part(result: dict) -> None:
    name = result["part"]
    if result["status"] == "not available":
        print(f"{name}: not available", flush=True)
        return
    print(f"== {name} ({result['status']}, {result['seconds']:.0f} s)", flush=True)
    for ratio in result["ratios"]:
        print(ratio.line(), flush=True)
    if result["status"] == "failed":
        print(result["error"].rstrip(), flush=True)


def summary(results: list[dict], info: dict, smoke: bool) -> str:
    ratios = [r for result in results for r in result["ratios"]]
    targeted = [r for r in ratios if r.target is not None]
    met = sum(bool(r.met) for r in targeted)
    absent = [r["part"] for r in results if r["status"] == "not available"]
    failed = [r["part"] for r in results if r["status"] == "failed"]
    lines = [
        f"{len(ratios)} ratios, {met}/{len(targeted)} targets met"
        + (" (smoke: tiny models, the numbers mean nothing)" if smoke else ""),
        *([f"not available: {', '.join(absent)}"] if absent else []),
        *([f"FAILED: {', '.join(failed)}"] if failed else []),
        f"{info['date']}; {info['cpus']} CPUs ({info['processor']}), torch {info['torch']} "
        f"({info['torch_threads']} threads), transformers {info['transformers']}, Python {info['python']}"
        + (f", CUDA: {info['cuda']}" if info["cuda"] else ", no CUDA"),
    ]
    return "\n".join(lines)


def write_json(path: Path, results: list[dict], info: dict, smoke: bool) -> None:
    parts = [
        {**{k: v for k, v in r.items() if k != "ratios"}, "ratios": [x.to_json() for x in r["ratios"]]} for r in results
    ]
    path.write_text(json.dumps({"machine": info, "smoke": smoke, "parts": parts}, indent=2) + "\n")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny models, a few rows: seconds, numbers meaningless")
    parser.add_argument("--rounds", type=int, help="interleaved rounds per ratio (default 3; 1 with --smoke)")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--json", type=Path, help="also write every ratio (and the machine) as JSON here")
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = 1 if args.smoke else 3
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    info = machine()  # before the parts: the date they started, torch's own thread count
    results = []
    for name in args.parts:
        print(f"({name} ...)", file=sys.stderr, flush=True)  # progress, outside the table on stdout
        results.append(run_part(name, args.smoke, args.rounds))
        print_part(results[-1])
    print(summary(results, info, args.smoke), flush=True)
    if args.json:
        write_json(args.json, results, info, args.smoke)
    return 1 if any(r["status"] == "failed" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
