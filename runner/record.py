"""run.json: what is needed to trust and reproduce a run (versions, hardware, git state, hashes)."""
from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

PACKAGES = ("hf-pipeline-runner", "torch", "transformers", "tokenizers", "huggingface-hub", "accelerate",
            "datasets", "bitsandbytes", "hydra-core", "omegaconf", "jsonschema", "numpy", "soundfile", "pillow")


def package_versions() -> dict:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


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
    """Commit and dirty flag of the git repository the user ran from, when there is one."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, timeout=10)

    try:
        commit = git("rev-parse", "HEAD")
    except (OSError, subprocess.TimeoutExpired):
        return {"commit": None, "dirty": None}
    if commit.returncode != 0:
        return {"commit": None, "dirty": None}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


def config_hash(cfg: dict) -> str:
    canonical = json.dumps(cfg, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def file_hash(path: Path) -> str | None:
    if not Path(path).is_file():
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_record(cfg: dict, run_dir: Path, argv: list[str], cwd: Path, status: str, started_at: str,
                 model_location: str | None = None) -> dict:
    return {
        "status": status,
        "started_at": started_at,
        "finished_at": now_iso(),
        "command": argv,
        "cwd": str(cwd),
        "seed": cfg.get("seed"),
        "model": model_location,
        "config_hash": config_hash(cfg),
        "predictions_sha256": file_hash(Path(run_dir) / "predictions.jsonl"),
        "git": git_state(cwd),
        "versions": package_versions(),
        "hardware": hardware(),
        "config": cfg,
    }


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
