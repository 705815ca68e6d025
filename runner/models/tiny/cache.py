"""The cache folder of a tiny build: its name, and an atomic build that leaves the caller's RNGs alone.

A build happens once per cache folder; it is written into a temporary folder next to the target and
renamed into place, so concurrent builders never leave a half-written model.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

# Bump whenever a recipe changes: it is part of the folder name, so old builds are not reused.
# 2: gpt2 / vit_gpt2 / llava carry task_specific_params (transformers 4.x generation lengths);
#    5.x tokenizer_config.json files are rewritten so that 4.x reads them.
BUILDER_VERSION = 2

# Written last into every finished build; a folder without it is not a usable build.
MARKER_FILE = "tiny_model.json"


def runner_cache_root() -> Path:
    """`$RUNNER_CACHE_DIR` when set, else `~/.cache/hf-pipeline-runner`: tiny builds and conversions live under it."""
    root = os.environ.get("RUNNER_CACHE_DIR")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "hf-pipeline-runner"


def folder_name(arch: str, task: str, seed: int) -> str:
    """arch, task, seed, BUILDER_VERSION and the transformers version: a build is reused only when all match."""
    return f"{arch}__{task}__seed{seed}__b{BUILDER_VERSION}__tf{transformers_version()}"


def transformers_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("transformers")
    except PackageNotFoundError:  # pragma: no cover - transformers is a hard dependency
        return "unknown"


def is_complete(folder: Path) -> bool:
    return (folder / MARKER_FILE).is_file()


def build_atomically(target: Path, build: Callable[[Path], None], **marker_info) -> None:
    """Run `build(folder)` on a temporary folder next to `target`, mark it finished, rename it into place.

    The temporary folder is removed whatever happens, so a failed build leaves nothing behind.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".building", dir=target.parent))
    try:
        started = time.perf_counter()
        with _rng_state_kept():
            build(tmp)
        _write_marker(tmp, **marker_info, seconds=time.perf_counter() - started)
        _move_into_place(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def _rng_state_kept():
    """Build without moving the caller's random streams: a run that builds the tiny model and a rerun
    that finds it cached must reach generation with the same RNG state, or sampled text differs."""
    import random

    import numpy as np
    import torch

    python_state, numpy_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        yield
    random.setstate(python_state)
    np.random.set_state(numpy_state)


def _write_marker(folder: Path, **info) -> None:
    import torch

    info.update(
        builder_version=BUILDER_VERSION,
        transformers=transformers_version(),
        torch=torch.__version__,
    )
    (folder / MARKER_FILE).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _move_into_place(tmp: Path, target: Path) -> None:
    """Rename the finished build to `target`; if another process got there first, keep theirs."""
    error: OSError | None = None
    for _ in range(3):
        try:
            os.rename(tmp, target)  # atomic; fails when target exists and is not empty
            return
        except OSError as exc:
            error = exc
            if is_complete(target):
                return  # someone else finished first: ours is discarded by the caller
            if not target.exists():
                continue  # it vanished between the rename and the check: try again
            _move_aside(target)
    if not is_complete(target):
        raise OSError(f"could not move the tiny model build into {target}") from error


def _move_aside(target: Path) -> None:
    """Remove a leftover without the marker (an interrupted copy, a manual edit) so the rename can succeed."""
    trash = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".stale", dir=target.parent))
    try:
        os.rename(target, trash / "old")
    except OSError:
        pass
    shutil.rmtree(trash, ignore_errors=True)
