"""run.json: what is needed to trust and reproduce a run (versions, hardware, git state, hashes)."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import platform
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from runner.config.provenance import dirty_dirs, file_sha256, run_git
from runner.core.redact import redact
from runner.repro.requeue import scheduler_entry
from runner.outputs.rundir import PREDICTIONS

log = logging.getLogger(__name__)

# Keys that cannot change what a run writes to predictions.jsonl/errors.jsonl: how it is shown,
# where it came from, how it is timed. Every other key, known or not, counts (a new key is assumed
# to matter until it is listed here), so a resume or a merge never mixes outputs of two configs.
# `engine`: where rows run, not what they become (engine=ray writes engine=local's bytes: tests/engine/ray),
# so a run interrupted on one engine resumes on the other, and runs saved before the key still resume.
NON_OUTPUT_KEYS = (
    "progress",
    "verbose",
    "graph.show",
    "rerun",
    "merge",
    "resume",
    "resume_allow_changed",
    "bench",
    "max_error_fraction",
    "tracking",
    "engine",
    "quantization.probe_rows",
    "sweep.resume",
)  # probe_rows: int8's float32 probe runs after the rows are written

PACKAGES = (
    "hf-pipeline-runner",
    "torch",
    "transformers",
    "tokenizers",
    "huggingface-hub",
    "accelerate",
    "datasets",
    "bitsandbytes",
    "hydra-core",
    "omegaconf",
    "jsonschema",
    "numpy",
    "soundfile",
    "pillow",
    "soxr",
    "sentencepiece",
    "ctranslate2",
    "faster-whisper",
)  # soxr resamples audio, sentencepiece tokenizes: both change outputs


def package_versions() -> dict:
    return dict(_installed_versions())


@functools.cache
def _installed_versions() -> tuple:
    """Read once per process (~8 ms: each name scans the installed distributions; run.json is written
    twice per run, per sweep point). A package upgraded while a notebook runs keeps the version first
    seen here until the kernel restarts, as the modules it already imported do."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return tuple(versions.items())


def hardware() -> dict:
    info = {"platform": platform.platform(), "machine": platform.machine(), "processor": platform.processor() or None}
    torch = sys.modules.get("torch")
    if torch is not None:
        info["torch_cuda"] = torch.version.cuda
        info["cuda_available"] = torch.cuda.is_available()
        if torch.cuda.is_available():
            info["cuda_devices"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        info["torch_threads"] = torch.get_num_threads()
    return info


def git_state(folder: Path) -> dict:
    """Commit and dirty flag of the git repository the user ran from (the whole repository, tracked
    files only), when there is one."""
    commit = run_git(folder, "rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None}
    status = run_git(folder, "status", "--porcelain", "--untracked-files=no") or ""
    return {"commit": commit.strip(), "dirty": bool(status.strip())}


def run_warnings(conf: dict | None) -> list[str]:
    """A run composed from uncommitted config files cannot be repeated from git by anyone else."""
    warnings = []
    for folder, changes in dirty_dirs(conf or {}):
        shown = ", ".join(changes[:5]) + (", ..." if len(changes) > 5 else "")
        warnings.append(
            f"config dir {folder} has uncommitted changes ({shown}): commit them so that this run "
            "can be repeated from git"
        )
    return warnings


def output_config(cfg: dict, exclude=()) -> dict:
    """The validated config minus the keys that cannot change outputs (NON_OUTPUT_KEYS) and any
    dotted keys in `exclude` (merge leaves out `shard` to check that shards belong together)."""
    kept = redact(cfg)  # a secret (a token) never changes outputs, and a saved config holds it redacted
    if kept.get("backend") == {"name": "transformers"}:  # the default: hashes as runs saved before the key did
        del kept["backend"]
    for dotted in (*NON_OUTPUT_KEYS, *exclude):
        _drop(kept, dotted.split("."))
    return kept


def dotted_differences(before: dict, after: dict, prefix: str = "") -> list[tuple[str, object, object]]:
    """(dotted key, before, after) for every leaf that differs between two nested configs, in key order.
    Resume, rerun and merge all compare configs with it."""
    found = []
    for key in sorted(set(before) | set(after), key=str):
        a, b = before.get(key), after.get(key)
        dotted = f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            found += dotted_differences(a, b, dotted + ".")
        elif a != b:
            found.append((dotted, a, b))
    return found


def _drop(node: dict, path: list[str]) -> None:
    """Remove node[path]; a parent left empty by it goes too (`graph` once `graph.show` is gone)."""
    head, rest = path[0], path[1:]
    if not isinstance(node, dict) or head not in node:
        return
    if rest:
        _drop(node[head], rest)
        if node[head] == {}:
            del node[head]
    else:
        del node[head]


def config_hash(cfg: dict, exclude=()) -> str:
    """sha256 of the canonical JSON of output_config(cfg): equal hashes, same outputs expected."""
    canonical = json.dumps(output_config(cfg, exclude), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def build_record(
    plan,
    run_dir: Path,
    argv: list[str],
    cwd: Path,
    status: str,
    started_at: str,
    model_location: str | None = None,
    conf: dict | None = None,
    earlier: dict | None = None,
    quantization: dict | None = None,
) -> dict:
    """run.json of `plan` (runner.plan.Plan: its config, recorded as it is, and its views). `conf` is the config's provenance (config/provenance.describe): the config dirs of
    the search path with their git state, and each config file read with its sha256. `earlier`: the
    record this run wrote when it started, whose git state, versions, warnings and config hash hold
    for its end too (read once per run). `quantization`: what quantization=int8 did to each step's
    model (quantized_steps), recorded because the library version that quantized changes outputs."""
    cfg, conf = plan.cfg, conf or {}
    if earlier is None:
        warnings = run_warnings(conf)
        for warning in warnings:  # said once, when the run starts
            log.warning("warning: %s", warning)
        fixed = {
            "config_hash": config_hash(cfg),
            "git": git_state(cwd),
            "warnings": warnings,
            "versions": package_versions(),
            "scheduler": scheduler_entry(run_dir),
        }
    else:
        fixed = {key: earlier.get(key) for key in ("config_hash", "git", "warnings", "versions", "scheduler")}
    return redact(
        {  # no secret reaches run.json: the config, the command and the overrides alike
            "status": status,
            "started_at": started_at,
            "finished_at": now_iso(),
            "command": argv,
            "cwd": str(cwd),
            "seed": plan.views.run.seed,
            "model": model_location,
            "config_hash": fixed["config_hash"],
            "predictions_sha256": file_sha256(Path(run_dir) / PREDICTIONS),
            "git": fixed["git"],
            "conf": conf,
            "warnings": fixed["warnings"],
            "versions": fixed["versions"],
            "hardware": hardware(),
            "config": cfg,
            # The scheduler job and its attempt (runner.repro.requeue), only under a scheduler.
            **({"scheduler": fixed["scheduler"]} if fixed["scheduler"] else {}),
            **({"quantization": quantization} if quantization else {}),
        }
    )


def quantized_steps(metrics: dict | None) -> dict | None:
    """run.json's `quantization` from metrics.json: method, library, version and layer counts of each
    step whose model was quantized after loading (the agreement figure stays in metrics.json); one
    step's record as it is, a chain's by step name; None when no step was."""
    steps = (metrics or {}).get("steps") or {}
    done = {
        name: {k: v for k, v in step["quantization"].items() if k != "agreement"}
        for name, step in steps.items()
        if step.get("quantization")
    }
    if not done:
        return None
    return next(iter(done.values())) if len(steps) == 1 else done


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
