"""engine=local against engine=ray with 1 and 2 actors on this machine, and Ray's start-up cost.

    .venv/bin/python benchmarks/scale.py                 # real all-MiniLM-L6-v2, 400 texts, 3 rounds
    .venv/bin/python benchmarks/scale.py --rounds 1
    .venv/bin/python benchmarks/scale.py --smoke         # tiny model, 48 texts: checks the code runs

Model and data: benchmarks/throughput.py's (all-MiniLM-L6-v2's real weights with a text-classification
head, texts of 3-250 words), batch 16, truncation at 256 tokens. Each side is a whole `run_plan`.

Figures (rows/s):
  raw      transformers.pipeline over the same texts, warm (the ceiling of one process)
  local    engine=local, model loaded once and kept (as in a sweep): rows over the run, load excluded
  ray N    engine=ray with N actors on one local cluster of this machine's cores, the cores split
           between the actors (cpus_per_actor = cores / N: the same torch threads in all as local):
           steady rows/s, from the first chunk written to the last (metrics.json engine
           .steady_items_per_second), and whole-run rows/s (actor starts and model loads included)
Start-up: a run that starts its own cluster: ray.init seconds, and ray.init to the first chunk written.

Ratios (interleaved rounds, common.interleaved): local/raw, ray N steady / local, ray N whole run / local.
`measure(smoke, rounds)` returns them for benchmarks/run.py (not in its default parts: each round
starts Ray actors, ~10-20 s on 2 shared cores).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import Ratio, interleaved  # noqa: E402
from benchmarks.throughput import model_dir, raw_pipeline, shared_invocation, texts  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

BATCH, MAX_LENGTH = 16, 256


class Scale:
    def __init__(self, smoke: bool, root: Path):
        self.smoke, self.root, self.rounds_run = smoke, root, 0
        self.data = texts(48 if smoke else 400)
        self.file = root / "texts.jsonl"
        self.file.write_text("".join(json.dumps({"text": t}) + "\n" for t in self.data))
        self.model = model_dir(smoke)
        self.max_length = 64 if smoke else MAX_LENGTH  # the tiny model has 128 positions
        self.cores = os.cpu_count() or 1
        self.startup: list[dict] = []

    def plan(self, extra: list[str]):
        from runner.config.compose import compose_config
        from runner.plan import make_plan

        overrides = [
            "+task=text-classification",
            f"model.id={self.model}",
            "dataset=file",
            f"dataset.path={self.file}",
            f"batch_size={BATCH}",
            "progress=false",
            "task.params.truncation=true",
            f"task.params.max_length={self.max_length}",
            *extra,
        ]
        return make_plan(compose_config(overrides))

    def run(self, extra: list[str]) -> dict:
        from runner.job.policies import run_plan

        self.rounds_run += 1
        out = self.root / f"run{self.rounds_run}"
        started = time.perf_counter()
        metrics = run_plan(
            self.plan(extra), out, argv=["benchmark"], cwd=Path.cwd(), invocation=shared_invocation()
        ).to_json()
        metrics["benchmark_wall"] = time.perf_counter() - started
        assert metrics["rows_out"] == len(self.data), metrics
        return metrics

    def raw(self) -> float:
        if not hasattr(self, "_raw"):
            self._raw = raw_pipeline(self.model, self.max_length)
        started = time.perf_counter()
        outputs = list(self._raw(self.data, batch_size=BATCH, truncation=True, max_length=self.max_length))
        assert len(outputs) == len(self.data)
        return len(self.data) / (time.perf_counter() - started)

    def local(self) -> float:
        metrics = self.run([])
        load = 0 if metrics["model_reused"] else metrics["model_load_seconds"]
        return len(self.data) / (metrics["benchmark_wall"] - load)

    def ray(self, actors: int, figure: str) -> float:
        cpus = max(1, self.cores // actors)
        metrics = self.run(["engine=ray", f"engine.actors={actors}", f"engine.cpus_per_actor={cpus}"])
        if figure == "steady":
            return metrics["engine"]["steady_items_per_second"]
        return len(self.data) / metrics["benchmark_wall"]

    def own_cluster_startup(self) -> dict:
        """A run that starts (and stops) its own local cluster, as `run ... engine=ray` does."""
        metrics = self.run(["engine=ray", f"engine.cpus_per_actor={self.cores}"])
        engine = metrics["engine"]
        return {
            "ray_init_seconds": engine["startup_seconds"],
            "to_first_chunk_seconds": engine["first_chunk_seconds"],
            "whole_run_seconds": round(metrics["benchmark_wall"], 3),
        }


def measure(smoke: bool = False, rounds: int = 3) -> list[Ratio]:
    import ray

    with tempfile.TemporaryDirectory() as tmp:
        scale = Scale(smoke, Path(tmp))
        startup = scale.own_cluster_startup()
        ray.init(num_cpus=scale.cores, include_dashboard=False, log_to_driver=False)
        try:
            ratios = [_ratio("local / raw transformers.pipeline", interleaved(rounds, scale.raw, scale.local))]
            for actors in (1, 2):
                for figure in ("steady", "whole run"):
                    name = f"ray {actors} actor{'s' if actors > 1 else ''} ({figure}) / local"
                    ratios.append(
                        _ratio(name, interleaved(rounds, scale.local, lambda: scale.ray(actors, figure), warmup=False))
                    )
        finally:
            ray.shutdown()
    ratios.append(
        Ratio(
            "ray start-up: ray.init to first chunk (s)",
            [startup["to_first_chunk_seconds"]],
            lower_is_better=True,
            detail=f"own local cluster: {startup}",
            extra=startup,
        )
    )
    return ratios


def _ratio(name: str, result) -> Ratio:
    rounds, base, ours = result
    return Ratio(
        name,
        rounds,
        detail=f"base {', '.join(f'{b:.1f}' for b in base)} rows/s; ours {', '.join(f'{o:.1f}' for o in ours)} rows/s",
        extra={"base": base, "ours": ours},
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny model, 48 texts")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    for ratio in measure(args.smoke, args.rounds):
        print(ratio.line())
    print(f"{'tiny model' if args.smoke else 'all-MiniLM-L6-v2'}, batch {BATCH}, {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
