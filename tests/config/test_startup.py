"""Start-up (issue 17): a config error leaves nothing behind, --help lists every config group (a -cd
dir's too) without Hydra's composition, a single run composes its config once, and metrics.json says
which items/s it reports beside the end-to-end figure."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import run_cli, run_job


def test_config_error_leaves_no_run_dir(tmp_path: Path):
    done = run_cli("+task=text-classification", "model=tiny", "batch_size=0", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "config error: batch_size" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "outputs").exists(), list(tmp_path.rglob("*"))


def test_unknown_key_leaves_no_run_dir(tmp_path: Path):
    done = run_cli("+task=text-classification", "model=tiny", "batch_sise=4", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "batch_sise" in done.stderr and "batch_size" in done.stderr  # the did-you-mean
    assert not (tmp_path / "outputs").exists()


def test_help_lists_groups_of_a_user_config_dir(tmp_path: Path):
    conf = tmp_path / "myconf"
    (conf / "experiment").mkdir(parents=True)
    (conf / "experiment" / "my_own_experiment.yaml").write_text("# @package _global_\nbatch_size: 2\n")
    (conf / "model").mkdir()
    (conf / "model" / "my_model.yaml").write_text("defaults:\n  - default\n  - _self_\nname: mine\n")
    done = run_cli("-cd", str(conf), "--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    groups = {
        line.split(":", 1)[0]: line.split(": ", 1)[1].split(", ")
        for line in done.stdout.splitlines()
        if line.split(":", 1)[0] in ("dataset", "experiment", "model", "output", "quantization", "task")
    }
    assert "my_own_experiment" in groups["experiment"] and "meeting_notes" in groups["experiment"]
    assert "my_model" in groups["model"] and "minilm" in groups["model"]
    assert "text-classification" in groups["task"] and "sentiment" in groups["task"]  # ids and aliases
    assert "run: a declarative runner" in done.stdout and "Exit codes (" in done.stdout  # header, exit codes
    assert "${" not in done.stdout and not re.search(r"\$[A-Z_]", done.stdout)  # every placeholder filled
    assert not (tmp_path / "outputs").exists()


# Runs `run` in a child process with Hydra's loader counting its compositions of the run config.
COUNTING = textwrap.dedent("""
    import sys
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    calls = []
    original = ConfigLoaderImpl.load_configuration
    def counted(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)
    ConfigLoaderImpl.load_configuration = counted
    import runner.cli
    sys.argv = ["run", *sys.argv[1:]]
    try:
        runner.cli.main()
    except SystemExit as exit:
        print(f"compositions={len(calls)} exit={exit.code}")
""")


def test_a_single_run_composes_its_config_once(tmp_path: Path):
    done = subprocess.run(
        [sys.executable, "-c", COUNTING, "+task=text-classification", "model=tiny", "dataset=sample", "progress=false"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "compositions=1 exit=0" in done.stdout, done.stdout + done.stderr
    run_dir = next(tmp_path.glob("outputs/*/*"))
    assert (run_dir / "predictions.jsonl").is_file()
    log = (run_dir / "run.log").read_text()
    assert "rows: text <- column" in log  # logged while planning, before run.log existed: kept
    assert (run_dir / ".hydra" / "config.yaml").is_file() and (run_dir / ".hydra" / "overrides.yaml").is_file()
    record = json.loads((run_dir / "run.json").read_text())
    assert [f["config"] for f in record["conf"]["files"]][-1] == "config"
    assert "model/tiny" in [f["config"] for f in record["conf"]["files"]]


def test_metrics_give_both_rates(tmp_path: Path):
    out = tmp_path / "run"
    done = run_job(
        "+task=text-classification",
        "model=tiny",
        "dataset=sample",
        "progress=false",
        f"hydra.run.dir={out}",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["items_per_second_basis"].startswith("timed pipeline calls")
    assert metrics["end_to_end_items_per_second"] > 0
    assert metrics["end_to_end_seconds"] >= metrics["inference_seconds"]
    # Both figures are rounded when written (seconds to 4 places, the rate to 3) from the unrounded time.
    assert metrics["end_to_end_items_per_second"] == pytest.approx(
        metrics["rows_in"] / metrics["end_to_end_seconds"], rel=0.01
    )
