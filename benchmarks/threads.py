"""Which CPU threading a run should default to, on an idle machine and with another core busy.

    .venv/bin/python benchmarks/threads.py            # real all-MiniLM-L6-v2, 300 texts, 3 rounds
    .venv/bin/python benchmarks/threads.py --smoke    # model=tiny, a few rows, seconds

Every figure is one whole `run` process (what a user starts), its rows/s from metrics.json (the model
calls and writing; start-up and the model load left out), for each setting:
  torch default   threads=null: torch's one thread per core, OpenMP's own wait policy (idle threads
                  spin a while before they sleep; torch imported before the runner sets its default)
  threads=1       one torch thread, OpenMP's own wait policy
  passive wait    threads=null with OMP_WAIT_POLICY=PASSIVE in the run's environment: idle threads sleep
                  instead of spinning on a core someone else needs
  runner default  what `run` does with nothing set (runner/__init__.py)
each on an idle machine and with one busy core (a process spinning in a loop, as another job would),
rounds interleaved across settings. Reported as each setting's rate over torch default's, per condition.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import Ratio  # noqa: E402
from benchmarks.throughput import texts  # noqa: E402

SETTINGS = {  # name -> (overrides, environment, whether torch loads before the runner sets its default)
    "torch default": (["threads=null"], {}, True),
    "threads=1": (["threads=1"], {}, True),
    "passive wait": (["threads=null"], {"OMP_WAIT_POLICY": "PASSIVE"}, False),
    "runner default": ([], {}, False),
}
# torch imported first: libgomp reads OMP_WAIT_POLICY as torch loads it, before `import runner` sets its
# default, so the run gets torch's own wait policy
TORCH_FIRST = "import sys, runpy, torch; sys.argv[0] = 'run'; runpy.run_module('runner', run_name='__main__')"


def one_run(
    folder: Path, model: list[str], data: Path, overrides: list[str], env: dict, torch_first: bool, tag: str
) -> float:
    out = folder / tag
    environment = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    done = subprocess.run(
        [
            sys.executable,
            *(["-c", TORCH_FIRST] if torch_first else ["-m", "runner"]),
            "+task=feature-extraction",
            *model,
            "dataset=file",
            f"dataset.path={data}",
            "task.params.truncation=true",
            "progress=false",
            "batch_size=16",
            "batching.sort_by_length=true",
            f"hydra.run.dir={out}",
            *overrides,
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        env={**environment, **env},
    )
    if done.returncode != 0:
        raise RuntimeError(f"run exited {done.returncode}: {done.stderr[-2000:]}")
    return json.loads((out / "metrics.json").read_text())["items_per_second"]


def measure(smoke: bool = False, rounds: int = 3, rows: int | None = None) -> list[Ratio]:
    rounds = 1 if smoke else rounds
    model = ["model=tiny"] if smoke else ["model=minilm"]
    ratios = []
    with tempfile.TemporaryDirectory(prefix="threads-bench-") as name:
        folder = Path(name)
        data = folder / "texts.jsonl"
        count = rows or (8 if smoke else 300)
        data.write_text("".join(json.dumps({"text": " ".join(t.split()[:60])}) + "\n" for t in texts(count)))
        runs = iter(range(10**6))
        # smoke: the busy condition and two settings only (each figure is a whole process: seconds each)
        settings = {k: SETTINGS[k] for k in ("torch default", "runner default")} if smoke else SETTINGS
        for condition in ("one core busy",) if smoke else ("idle", "one core busy"):
            spinner = None
            if condition != "idle":
                spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            try:
                rates = {setting: [] for setting in settings}
                for _ in range(rounds):
                    for setting, (overrides, env, torch_first) in settings.items():
                        rates[setting].append(
                            one_run(folder, model, data, overrides, env, torch_first, f"run{next(runs)}")
                        )
            finally:
                if spinner is not None:
                    spinner.kill()
                    spinner.wait()
            base = rates["torch default"]
            medians = ", ".join(f"{s} {statistics.median(v):.1f}" for s, v in rates.items())
            for setting in settings:
                if setting != "torch default":
                    ratios.append(
                        Ratio(
                            f"threads, {condition}: {setting} / torch default",
                            [o / b for o, b in zip(rates[setting], base)],
                            detail=f"rows/s medians: {medians} ({count} texts, {os.cpu_count()} CPUs, {model[0]})",
                        )
                    )
    return ratios


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int)
    args = parser.parse_args()
    for ratio in measure(args.smoke, args.rounds, args.rows):
        print(ratio.line(), flush=True)
