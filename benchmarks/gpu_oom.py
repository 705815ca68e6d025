"""The GPU check's out-of-memory part: a real `run -m` sweep of doubling batch sizes until the device
runs out of memory (each OOM point recorded, the next point still run), then `batch_size=auto`
checked against the largest batch that truly fits.

The model is gpt2-large's shape with random weights (`model.no_weights=true`, float16), fed prompts
of 512 tokens with one new token each. So that the sweep ends within minutes on any card, the run's
process caps torch's allocator at `memory_gb` (torch.cuda.set_per_process_memory_fraction; 24 GiB
by default, a common card's size): what runs out is the real CUDA caching allocator, raising the
real torch.OutOfMemoryError, only the ceiling is chosen. Without CUDA the same code runs as a dry run
on the tiny model with out-of-memory injected above 8 rows (RUNNER_INJECT_OOM_ABOVE), and says so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks.gpu_models import GPT2_LARGE, config_folder, prompt

# `run` in a process whose allocator is capped (GPU_CHECK_MEMORY_GB) before the runner touches CUDA.
CAPPED_RUN = """import os, sys, torch
gb = float(os.environ.get("GPU_CHECK_MEMORY_GB") or 0)
if gb and torch.cuda.is_available():
    torch.cuda.set_per_process_memory_fraction(min(1.0, gb * 2**30 / torch.cuda.get_device_properties(0).total_memory))
from runner.cli import main
sys.argv = ["run", *sys.argv[1:]]
main()
"""
INJECTED = 8  # the dry run's out-of-memory threshold, in rows


@dataclass
class Setting:
    cuda: bool
    work: Path
    memory_gb: float

    @property
    def sizes(self) -> list[int]:
        return [2**k for k in range(11 if self.cuda else 6)]  # 1 .. 1024 on CUDA, 1 .. 32 in the dry run

    def model(self) -> list[str]:
        if not self.cuda:
            return ["model=tiny", "device=cpu"]
        folder = config_folder("text-generation", GPT2_LARGE, self.work / "gpt2-large-shape")
        return [f"model.id={folder}", "model.no_weights=true", "dtype=float16", "device=cuda"]

    def data(self) -> Path:
        self.work.mkdir(parents=True, exist_ok=True)
        path = self.work / "prompts.jsonl"
        rows = 2 * self.sizes[-1]
        line = json.dumps({"text": prompt(512 if self.cuda else 64)}) + "\n"
        path.write_text(line * rows)
        return path

    def env(self) -> dict:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "GPU_CHECK_MEMORY_GB": str(self.memory_gb)}
        if not self.cuda:
            env["RUNNER_INJECT_OOM_ABOVE"] = str(INJECTED)
        return env


def run(setting: Setting, args: list[str], data: Path) -> subprocess.CompletedProcess:
    base = [
        "+task=text-generation",
        *setting.model(),
        "dataset=file",
        f"dataset.path={data}",
        "task.params.max_new_tokens=1",
        "progress=false",
        "bench.warmup_batches=1",
        "bench.max_seconds=5",
    ]
    return subprocess.run(
        [sys.executable, "-c", CAPPED_RUN, *args, *base], capture_output=True, text=True, env=setting.env(), timeout=300
    )


def sweep(setting: Setting, name: str, sizes: list[int], data: Path) -> tuple[list[dict], str]:
    """`run -m` over the sizes with bench.skip_after_oom=false: (points of sweep.json, sweep.md)."""
    folder = setting.work / name
    done = run(
        setting,
        ["-m", f"batch_size={','.join(map(str, sizes))}", "bench.skip_after_oom=false", f"hydra.sweep.dir={folder}"],
        data,
    )
    if not (folder / "sweep.json").is_file():
        raise RuntimeError(f"the sweep wrote no report (exit {done.returncode}):\n{done.stderr[-3000:]}")
    points = json.loads((folder / "sweep.json").read_text())["points"]
    return points, (folder / "sweep.md").read_text()


def autobatch(setting: Setting, data: Path) -> dict:
    out = setting.work / "auto"
    done = run(setting, ["batch_size=auto", f"bench.max_batch_size={setting.sizes[-1]}", f"hydra.run.dir={out}"], data)
    if not (out / "metrics.json").is_file():
        raise RuntimeError(f"batch_size=auto wrote no metrics (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads((out / "metrics.json").read_text())


def statuses(points: list[dict]) -> dict[int, str]:
    return {int(p["batch_size"]): p["status"] for p in points}


def section(cuda: bool, work: Path, memory_gb: float) -> list[str]:
    setting = Setting(cuda, work, memory_gb)
    data = setting.data()
    lines = (
        [
            f"Model: gpt2-large's shape, random weights (`model.no_weights=true`), float16; prompts of 512 tokens, "
            f"1 new token; allocator capped at {memory_gb:g} GiB in the run's process."
        ]
        if cuda
        else [
            f"**CPU dry run** (no CUDA device): the tiny GPT-2 with out-of-memory *injected* above {INJECTED} rows "
            "(RUNNER_INJECT_OOM_ABOVE); this checks the sweep and the report, not a real device's memory."
        ]
    )
    points, report = sweep(setting, "oom-sweep", setting.sizes, data)
    found = statuses(points)
    ok = [b for b, s in found.items() if s == "ok"]
    oom = [b for b, s in found.items() if s == "oom"]
    after = sorted(b for b, s in found.items() if oom and b > min(oom) and s != "skipped_after_oom")
    report = "\n".join("####" + line[1:] if line.startswith("# ") else line for line in report.strip().splitlines())
    lines += [
        "",
        "### Sweep (`bench.skip_after_oom=false`)",
        "",
        report,
        "",
        f"- largest ok: {max(ok) if ok else None}; out of memory at: {oom or 'none (raise the sizes)'}; "
        f"points run after the first out-of-memory: {after or 'none'}",
    ]
    metrics = autobatch(setting, data)
    chosen = metrics["batch_size"]
    trials = (
        ", ".join(f"{t['batch_size']}:{t['status']}" for t in metrics["autobatch"]["trials"])
        if metrics.get("autobatch")
        else ""
    )
    lines += ["", "### `batch_size=auto`", "", f"- chose **{chosen}** ({trials})"]
    above = chosen + (8 if chosen >= 8 else 1)  # the search's own step: every size below 8, multiples of 8 above
    verify, _ = sweep(setting, "auto-check", [chosen, above], data)
    found = statuses(verify)
    truly = found.get(chosen) == "ok" and found.get(above) == "oom"
    lines.append(
        f"- run at {chosen}: {found.get(chosen)}; at {above}: {found.get(above)} -> "
        + (
            "the largest size on the search's grid that fits: as it should be"
            if truly
            else "NOT the largest that fits on the search's grid (see the statuses)"
        )
    )
    return lines
