"""Where one `run` spends its wall time, phase by phase (seconds), in a fresh process.

    .venv/bin/python benchmarks/profile_run.py                      # the README demo (real MiniLM)
    .venv/bin/python benchmarks/profile_run.py --rounds 5 -- +task=text-classification model=tiny dataset=sample
    .venv/bin/python benchmarks/profile_run.py --smoke              # model=tiny, for CI

Each round runs a child process that imports the runner, then torch and transformers (timed apart, so
that no later phase pays for them), then calls the `run` command's own entry (`runner.cli.command`) with the given
arguments; the runner's functions for each phase are wrapped with wall-clock timers (where a module
imported a function by name, its copy is wrapped too). The rest of `main()` (Hydra's job set-up,
logging, the config copies, metrics.json) is "other". Interpreter start-up is `python -c pass`.
Times are exclusive: a phase called inside another (validation inside the plan) is taken out of it.
Prints the median of each phase over the rounds, and min..max.
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
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

DEMO = ["+task=feature-extraction", "model=minilm", "dataset=sample"]
SMOKE = ["+task=text-classification", "model=tiny", "dataset=sample"]

# phase -> (module, attribute path) of the functions timed for it
PHASES = {
    "config session (search path, group list)": [("runner.config.search", "ConfigSession.__init__")],
    "composition (Hydra)": [("runner.config.loader", "RecordingLoader.load_configuration")],
    "validation (JSON Schema, checks)": [("runner.config.checked", "check_run")],
    "plan (graph, source peek)": [("runner.plan", "make_plan")],
    "model load": [("runner.models.loading", "load_pipeline")],
    "rows (read, infer, write)": [("runner.engine.loop", "RowLoop.run_chunks")],
    "run.json (versions, git, hashes)": [
        ("runner.repro.record", "build_record"),
        ("runner.outputs.rundir", "RunDir.write_record"),
    ],
    ".hydra config copies": [("runner.outputs.hydra_files", "write_job_configs")],
}

CHILD = r"""
import importlib, json, sys, time
t0 = time.perf_counter()
import runner.cli
t1 = time.perf_counter()
import torch, transformers.pipelines
t2 = time.perf_counter()
phases, out = json.loads(sys.argv[1]), sys.argv[2]
spent = {name: 0.0 for name in phases}
active = []

def timed(name, original):
    def wrapper(*args, **kwargs):
        if active and active[-1] == name:  # a phase calling itself (recursion, a wrapped copy): one call
            return original(*args, **kwargs)
        active.append(name)
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            elapsed = time.perf_counter() - started
            active.pop()
            spent[name] += elapsed
            if active:  # exclusive times: a phase inside another is not counted twice
                spent[active[-1]] -= elapsed
    return wrapper

for name, targets in phases.items():
    for module_name, path in targets:
        module = importlib.import_module(module_name)
        owner, attr = module, path
        if "." in path:
            cls, attr = path.split(".")
            owner = getattr(module, cls)
        original = getattr(owner, attr)
        wrapped = timed(name, original)
        setattr(owner, attr, wrapped)
        if owner is module:  # copies imported by name elsewhere
            for other in list(sys.modules.values()):
                if getattr(other, "__name__", "").startswith("runner") and getattr(other, attr, None) is original:
                    setattr(other, attr, wrapped)

import runner.core.fast_exit
real_exit = runner.core.fast_exit.exit_process

def write_phases(code):
    main_seconds = time.perf_counter() - started
    json.dump({"import runner (hydra, omegaconf, jsonschema)": t1 - t0, "import torch + transformers": t2 - t1,
               **spent, "other (Hydra job set-up, logging, metrics.json)": main_seconds - sum(spent.values()),
               "main() total": main_seconds, "exit": code, "ended_at": time.time()}, open(out, "w"))

def exit_process(code):  # the command's own exit, once the phases are written
    write_phases(code)
    real_exit(code)

runner.core.fast_exit.exit_process = exit_process
sys.argv = ["run", *sys.argv[3:]]
started = time.perf_counter()
runner.cli.command()  # ends the process through exit_process above
"""


def one_round(args: list[str], folder: Path, index: int) -> dict:
    out = folder / f"phases{index}.json"
    run_dir = folder / f"run{index}"
    command = [
        sys.executable,
        "-c",
        CHILD,
        json.dumps(PHASES),
        str(out),
        *args,
        "progress=false",
        f"hydra.run.dir={run_dir}",
    ]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    wall, ended = time.perf_counter() - started, time.time()
    if result.returncode != 0 or not out.is_file():
        raise RuntimeError(f"the profiled run failed ({result.returncode}):\n{result.stderr[-3000:]}")
    phases = json.loads(out.read_text())
    if phases.pop("exit"):
        raise RuntimeError(f"the run exited {phases}: {result.stderr[-2000:]}")
    phases["process exit (after main() returned)"] = max(0.0, ended - phases.pop("ended_at"))
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    phases = {"interpreter start (python -c pass)": time.perf_counter() - started, **phases}
    phases["process wall (whole command)"] = wall
    return phases


def profile(args: list[str], rounds: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as folder:
        results = [one_round(args, Path(folder), i) for i in range(rounds + 1)][1:]  # the first warms caches
    return {name: [r[name] for r in results] for name in results[0]}


def table(figures: dict[str, list[float]]) -> list[str]:
    lines = ["| phase | median s | min..max s |", "|---|---|---|"]
    for name, values in figures.items():
        lines.append(f"| {name} | {statistics.median(values):.3f} | {min(values):.3f}..{max(values):.3f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="model=tiny on the sample rows, 1 round")
    parser.add_argument("run_args", nargs="*", help="the run's arguments (default: the README demo)")
    args = parser.parse_args()
    run_args = args.run_args or (SMOKE if args.smoke else DEMO)
    rounds = 1 if args.smoke else args.rounds
    print(f"run {' '.join(run_args)}: {rounds} round(s) after one warm-up")
    print("\n".join(table(profile(run_args, rounds))))


if __name__ == "__main__":
    main()
