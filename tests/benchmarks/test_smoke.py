"""`benchmarks/run.py --smoke` for each part, as CI runs it: the part's code paths on tiny models, every
Ratio finite and positive, and the printed table and JSON agree. The numbers themselves are not checked
(smoke rounds on tiny models say nothing; targets are met in the full command, never asserted here)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from runner.core.paths import REPO_ROOT

# The part modules benchmarks/run.py knows; each lands on its own branch, so a missing one is skipped.
PARTS = [
    "startup",
    "throughput",
    "token_budget",
    "embeddings",
    "prefetch",
    "rss_scaling",
    "asr",
    "asr_backends",
    "tables",
    "threads",
]


def smoke(tmp_path, *parts: str) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path / "smoke.json"
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "run.py"), "--smoke", "--parts", *parts, "--json", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    return result, json.loads(out.read_text()) if out.is_file() else {}


def test_run_knows_every_part():
    from benchmarks.run import PARTS as known

    assert sorted(known) == sorted(PARTS)


@pytest.fixture(scope="module")
def all_parts(tmp_path_factory):
    """Every part's smoke in one `run.py` process, as CI ran it: one interpreter start-up instead of one per part."""
    present = [part for part in PARTS if (REPO_ROOT / "benchmarks" / f"{part}.py").is_file()]
    result, report = smoke(tmp_path_factory.mktemp("smoke"), *present)
    return result, report, present


@pytest.mark.slow
@pytest.mark.parametrize("part", PARTS)
def test_smoke_part_gives_finite_positive_ratios(all_parts, part):
    result, report, present = all_parts
    if part not in present:
        pytest.skip(f"benchmarks/{part}.py is not on this branch")
    assert result.returncode == 0, result.stdout + result.stderr
    (entry,) = [entry for entry in report["parts"] if entry["part"] == part]
    assert entry["status"] == "ok" and entry["ratios"], entry
    for ratio in entry["ratios"]:
        assert ratio["rounds"] and all(math.isfinite(x) and x > 0 for x in ratio["rounds"]), ratio
        assert ratio["name"] in result.stdout  # the table prints what the JSON holds
    assert report["smoke"] is True and report["machine"]["cpus"] >= 1


def test_missing_part_is_reported_not_available(tmp_path, monkeypatch):
    """A part whose module is not there (it lands on another branch) is named, the command still succeeds."""
    from benchmarks import run

    monkeypatch.setattr(run, "HERE", tmp_path)  # a benchmarks folder holding no part at all
    result = run.run_part("throughput", smoke=True, rounds=1)
    assert result["status"] == "not available" and result["ratios"] == []


def test_part_with_a_bad_ratio_fails_the_command_and_the_others_still_print(monkeypatch, capsys):
    from types import SimpleNamespace

    from benchmarks import run
    from benchmarks.common import Ratio

    parts = {
        "startup": SimpleNamespace(measure=lambda smoke, rounds: [Ratio("broken ratio", [float("nan")])]),
        "throughput": SimpleNamespace(measure=lambda smoke, rounds: [Ratio("fine ratio", [1.2], target=1.0)]),
    }
    monkeypatch.setattr(run, "load_part", parts.get)
    assert run.main(["--smoke", "--parts", "startup", "throughput", "asr"]) == 1
    printed = capsys.readouterr().out
    assert "not finite and positive: ['broken ratio']" in printed and "FAILED: startup" in printed
    assert "fine ratio" in printed and "target >= 1: met" in printed and "asr: not available" in printed


@pytest.mark.slow
def test_profile_run_gives_every_phase_and_they_add_up(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "profile_run.py"), "--smoke"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {
        line.split("|")[1].strip(): float(line.split("|")[2])
        for line in result.stdout.splitlines()
        if line.startswith("| ") and not line.startswith("| phase")
    }
    assert {
        "composition (Hydra)",
        "validation (JSON Schema, checks)",
        "model load",
        "rows (read, infer, write)",
        "run.json (versions, git, hashes)",
        "process exit (after main() returned)",
    } <= rows.keys(), rows
    inside = [
        v
        for k, v in rows.items()
        if k not in ("main() total", "process wall (whole command)")
        and not k.startswith(("interpreter", "import", "process exit"))
    ]
    assert all(v >= 0 for v in inside) and rows["rows (read, infer, write)"] > 0
    assert sum(inside) == pytest.approx(rows["main() total"], abs=0.01)  # exclusive phases: nothing counted twice
