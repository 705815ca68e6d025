"""A small Python API for notebooks and scripts: the same job as `run`, without the command line.

    from runner.api import run
    result = run(["+task=text-classification", "model=tiny", "dataset=sample"])
    result.predictions[0]["output"], result.metrics["items_per_second"]
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from runner.config.compose import compose_config


@dataclass
class RunResult:
    run_dir: Path
    metrics: dict
    config: dict

    @property
    def predictions(self) -> list[dict]:
        return _read_jsonl(self.run_dir / "predictions.jsonl")

    @property
    def errors(self) -> list[dict]:
        return _read_jsonl(self.run_dir / "errors.jsonl")


def compose(overrides: list[str]) -> dict:
    """The validated config `run <overrides>` would use (raises runner.errors.ConfigError)."""
    from runner.config import validate_config

    return validate_config(compose_config(overrides))


def run(overrides: list[str], output_dir: str | Path | None = None) -> RunResult:
    """Run a job; outputs go to output_dir (default: outputs/api/<timestamp> under the cwd)."""
    from runner.determinism import configure
    from runner.job import make_plan, run_plan

    plan = make_plan(compose_config(overrides))
    configure(plan.cfg.get("deterministic", False))
    if output_dir is None:
        stamp = datetime.now().strftime("%Y-%m-%d/%H-%M-%S-%f")
        output_dir = Path("outputs") / "api" / stamp
    run_dir = Path(output_dir)
    metrics = run_plan(plan, run_dir, argv=["runner.api.run", *overrides], cwd=Path.cwd())
    return RunResult(run_dir, metrics, plan.cfg)


def _read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
