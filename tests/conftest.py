"""Shared test set-up: offline hub, one tiny-model cache per session, helpers to run the CLI and write data."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


# `slow` tests (a `run` subprocess each, a wheel build, launchers, every benchmark part's smoke: about
# two thirds of the suite's time on 2 cores) run where RUNNER_SLOW=1 says so: .ci/run sets it in a step
# of their own, so the README's test command stays a quick pass within its 15 minutes.
RUN_SLOW = os.environ.get("RUNNER_SLOW") == "1"


def pytest_collection_modifyitems(config, items):
    """`slow` tests skip, saying how to run them, unless RUNNER_SLOW=1; `gpu` tests skip cleanly where
    torch sees no CUDA device (CI, laptops)."""
    if not RUN_SLOW:
        later = pytest.mark.skip(reason="slow: .ci/run runs it (RUNNER_SLOW=1 runs it here)")
        for item in items:
            if "slow" in item.keywords:
                item.add_marker(later)
    if not any("gpu" in item.keywords for item in items):
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def tiny_cache(tmp_path_factory) -> Path:
    """Tiny models are built once per test session, into a private cache (shared with CLI subprocesses)."""
    if "RUNNER_CACHE_DIR" not in os.environ:
        os.environ["RUNNER_CACHE_DIR"] = str(tmp_path_factory.mktemp("runner-cache"))
    return Path(os.environ["RUNNER_CACHE_DIR"])


def run_cli(*args: str, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    """`run <args>` in a subprocess, exactly as a user types it."""
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


# Benchmark mode that times a short dataset in several passes (one written, the others re-timed): for
# tests of what a run says or checks across its passes.
RETIMED_BENCH = (
    "bench.enabled=true",
    "bench.min_seconds=0.001",
    "bench.repeats=2",
    "bench.min_batches=16",
    "bench.warmup_batches=0",
)


def run_job(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """What `run <args>` does, in this process: the job entry the command uses (app.run_job, reached
    through runner.run), for end-to-end checks that are not about the command itself (exit codes,
    Hydra's own dirs and flags, sweeps and signals keep run_cli). The exit code is the command's for
    the exception raised; stderr holds the run's log, run.log."""
    import runner
    from runner.core.errors import ConfigError, RunError

    out = next((Path(a.split("=", 1)[1]) for a in args if a.startswith("hydra.run.dir=")), None)
    overrides = [a for a in args if not a.startswith("hydra.run.dir=")]
    previous, code = os.getcwd(), 0
    os.chdir(cwd)  # relative dataset paths, as a user in their data folder writes them
    try:
        code = runner.run(overrides, output_dir=out).exit_code  # 4: rows failed (not raised)
    except ConfigError:
        code = 2
    except RunError:
        code = 1
    finally:
        os.chdir(previous)
    log = out / "run.log" if out is not None else None
    return subprocess.CompletedProcess(list(args), code, "", log.read_text() if log and log.is_file() else "")


def run_main(monkeypatch, *argv: str, cwd: Path) -> int:
    """`run <argv>` through the command's own entry (runner.cli.main) in this process, from `cwd`: its exit
    code (what it says: capsys/capfd). ~0.7 s a case instead of ~1.5 s for a subprocess. Hydra's global state
    is cleared before and after, and the root logger's handlers restored after, so no test depends on what
    ran before it in the same worker (a run that stopped inside Hydra leaves "GlobalHydra is already
    initialized"; Hydra's job logging leaves handlers bound to closed streams). Module-scoped fixtures
    pass a pytest.MonkeyPatch.context()."""
    import logging

    from hydra.core.global_hydra import GlobalHydra

    from runner.cli import main

    saved = (logging.root.level, list(logging.root.handlers))
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", ["run", *argv])
    GlobalHydra.instance().clear()
    try:
        with pytest.raises(SystemExit) as exited:
            main()
    finally:
        for handler in [h for h in logging.root.handlers if h not in saved[1]]:
            logging.root.removeHandler(handler)
            handler.close()
        for handler in saved[1]:
            if handler not in logging.root.handlers:
                logging.root.addHandler(handler)
        logging.root.setLevel(saved[0])
        GlobalHydra.instance().clear()
    return exited.value.code


@pytest.fixture
def run_command(monkeypatch):
    """run_main with this test's monkeypatch: `run_command(*argv, cwd=...)`, the exit code."""

    def run(*argv: str, cwd: Path) -> int:
        return run_main(monkeypatch, *argv, cwd=cwd)

    return run


def step_view(*overrides: str):
    """The StepView (runner/core/views.py) of the composed and checked config `run <overrides>` runs."""
    return _step_view(tuple(overrides))


@functools.lru_cache(maxsize=None)
def _step_view(overrides: tuple[str, ...]):
    from runner.config.checked import check_run
    from runner.config.compose import compose_config
    from runner.core.views import StepView

    return StepView.from_config(check_run(compose_config(list(overrides))).steps["main"])


def read_jsonl(path: Path) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def write_wav(path: Path, seconds: float, rate: int = 16000, freq: float = 440.0) -> Path:
    import soundfile

    t = np.arange(int(seconds * rate)) / rate
    wave = 0.3 * np.sin(2 * np.pi * freq * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, wave.astype(np.float32), rate, subtype="PCM_16")
    return path


def write_png(path: Path, size=(40, 30), color=(200, 30, 30)) -> Path:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, "white")
    ImageDraw.Draw(image).ellipse((5, 5, size[0] - 5, size[1] - 5), fill=color)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path
