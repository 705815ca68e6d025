"""sweep.resume=<sweep dir>: a stopped `run -m` goes on in its own dir. Finished points are kept, a stopped
point is resumed (its cut batch redone), a failed one runs again, and every point's predictions end byte
for byte as an uninterrupted sweep's, also after kill -9 of the whole process group at random moments."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import run_main
from tests.faults.conftest import interrupted

POINTS = 6
SWEEP = (
    "+task=text-classification",
    "model=tiny",
    "dataset=file",
    "dataset.path=rows.jsonl",
    "batch_size=1,2,3,4,5,6",
    "bench.enabled=false",  # one pass per point: what is compared is predictions.jsonl
    "progress=false",
)
QUICK = (*SWEEP[:4], "batch_size=1,2,3", *SWEEP[5:])  # 3 points, for the tests of the quick suite


def _rows(folder: Path, count: int) -> None:
    # Lengths vary, so padding inside a batch changes the scores' last bits: a batch cut differently shows.
    text = "".join(json.dumps({"text": f"row {i} says " + "hello there " * (i % 11)}) + "\n" for i in range(count))
    (folder / "rows.jsonl").write_text(text)


def _predictions(sweep: Path, points: int = POINTS) -> dict[str, bytes]:
    return {str(n): (sweep / str(n) / "predictions.jsonl").read_bytes() for n in range(points)}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """An uninterrupted 3-point sweep of 12 rows, run in this process (its rows.jsonl beside it)."""
    base = tmp_path_factory.mktemp("sweep")
    _rows(base, 12)
    code = _in_process("-m", *QUICK, f"hydra.sweep.dir={base / 'whole'}", cwd=base)
    assert code == 0
    return base / "whole"


def _in_process(*argv: str, cwd: Path) -> int:
    """`run <argv>` through runner.cli.main in this process, for a module's fixture."""
    with pytest.MonkeyPatch.context() as patch:
        return run_main(patch, *argv, cwd=cwd)


def _copy(reference: Path, tmp_path: Path) -> Path:
    shutil.copy(reference.parent / "rows.jsonl", tmp_path / "rows.jsonl")
    sweep = tmp_path / "sweep"
    shutil.copytree(reference, sweep)
    for name in ("sweep.md", "sweep.csv", "sweep.json", "sweep.png"):
        (sweep / name).unlink(missing_ok=True)
    multirun = sweep / "multirun.yaml"  # as Hydra wrote it there: hydra.sweep.dir is the copy's
    multirun.write_text(multirun.read_text().replace(str(reference), str(sweep)))
    return sweep


def test_finished_points_are_kept_stopped_resumed_failed_rerun(reference, tmp_path, run_command, capsys):
    sweep = _copy(reference, tmp_path)
    kept = (sweep / "0" / "predictions.jsonl").stat().st_mtime_ns
    # point 1 stopped mid-write (a torn line, no metrics.json), point 2 failed
    predictions = sweep / "1" / "predictions.jsonl"
    predictions.write_bytes(predictions.read_bytes()[: len(predictions.read_bytes()) // 2])
    interrupted(sweep / "1")
    (sweep / "1" / "metrics.json").unlink()
    record = json.loads((sweep / "2" / "run.json").read_text())
    (sweep / "2" / "run.json").write_text(json.dumps({**record, "status": "error"}))
    code = run_command("-m", *QUICK, f"sweep.resume={sweep}", cwd=tmp_path)
    said = capsys.readouterr().err
    assert code == 0, said[-3000:]
    assert _predictions(sweep, 3) == _predictions(reference, 3)
    assert (sweep / "0" / "predictions.jsonl").stat().st_mtime_ns == kept  # untouched
    assert "point 0: finished with status ok: kept" in said
    assert "point 1: it was stopped (run.json: interrupted): resuming it" in said
    assert "point 2: it failed (run.json: error): running it again" in said
    report = (sweep / "sweep.md").read_text()
    assert "3 points in" in report and "3 ok" in report
    assert "sweep.resume" not in report  # not a swept key of the report


def test_a_point_finished_with_another_config_is_refused_by_name(reference, tmp_path, run_command, capsys):
    from runner.repro.record import config_hash

    sweep = _copy(reference, tmp_path)
    record = json.loads((sweep / "0" / "run.json").read_text())
    record["config"]["seed"] = 5
    record["config_hash"] = config_hash(record["config"])
    (sweep / "0" / "run.json").write_text(json.dumps(record))
    code = run_command("-m", *QUICK, f"sweep.resume={sweep}", cwd=tmp_path)
    said = capsys.readouterr().err
    assert code == 2
    assert "config error: sweep.resume: point 0 (" in said and "seed: 5 then, 0 now" in said


@pytest.mark.parametrize(
    "make, argv, expected",
    [
        (lambda s: s / "nothing", QUICK, "is not a directory"),
        (lambda s: s / "0", QUICK, "is not a sweep dir (no multirun.yaml)"),
        (lambda s: s, (*QUICK[:4], "batch_size=1,2", *QUICK[5:]), "the sweep had batch_size=1,2,3"),
        (lambda s: s, (*QUICK, "seed=3"), "this command has seed=3"),
    ],
    ids=["missing", "a-run-dir", "other-points", "another-key"],
)
def test_a_dir_that_is_not_this_sweep_is_refused(reference, tmp_path, run_command, capsys, make, argv, expected):
    sweep = _copy(reference, tmp_path)
    before = _predictions(sweep, 3)
    code = run_command("-m", *argv, f"sweep.resume={make(sweep)}", cwd=tmp_path)
    said = capsys.readouterr().err
    assert code == 2 and "config error: sweep.resume:" in said and expected in said, said
    assert _predictions(sweep, 3) == before


def test_sweep_resume_needs_a_multirun(reference, tmp_path, run_command, capsys):
    sweep = _copy(reference, tmp_path)
    code = run_command(*QUICK[:4], "batch_size=2", f"sweep.resume={sweep}", cwd=tmp_path)
    said = capsys.readouterr().err
    assert code == 2 and "sweep.resume: resumes a sweep (`run -m`)" in said


def test_an_optimizing_sweepers_dir_is_refused(reference, tmp_path, run_command, capsys):
    sweep = _copy(reference, tmp_path)
    multirun = sweep / "multirun.yaml"
    multirun.write_text(
        multirun.read_text().replace(
            "hydra._internal.core_plugins.basic_sweeper.BasicSweeper", "hydra_plugins.optuna.OptunaSweeper"
        )
    )
    code = run_command("-m", *QUICK, f"sweep.resume={sweep}", cwd=tmp_path)
    said = capsys.readouterr().err
    assert code == 2 and "only a grid sweep" in said


# -- kill -9 ---------------------------------------------------------------------------------------------
def _start(cwd: Path, *args: str) -> subprocess.Popen:
    """`run <args>` in a process group of its own, so kill -9 reaches every process the sweep started."""
    return subprocess.Popen(
        [sys.executable, "-m", "runner", *args],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )


def _kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:  # it had finished
        pass
    process.wait()


def _wait_for(process: subprocess.Popen, ready, limit_s: float = 120) -> bool:
    deadline = time.monotonic() + limit_s
    while process.poll() is None and time.monotonic() < deadline:
        if ready():
            return True
        time.sleep(0.005)
    return False


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _job_begun(sweep: Path, since: float) -> bool:
    return any(log.stat().st_mtime >= since for log in sweep.glob("*/run.log"))


def _states(sweep: Path) -> list[str]:
    """Each point's run.json status ("-" for none yet)."""
    states = []
    for n in range(POINTS):
        try:
            states.append(json.loads((sweep / str(n) / "run.json").read_text())["status"])
        except (OSError, ValueError):
            states.append("-")
    return states


@pytest.fixture(scope="module")
def long_reference(tmp_path_factory) -> Path:
    """An uninterrupted sweep of 240 rows (point 4 takes over a second), run in this process."""
    base = tmp_path_factory.mktemp("long")
    _rows(base, 240)
    assert _in_process("-m", *SWEEP, f"hydra.sweep.dir={base / 'whole'}", cwd=base) == 0
    return base / "whole"


@pytest.mark.slow
def test_kill_9_during_point_4_then_resume_gives_the_same_predictions(long_reference, tmp_path, run_command):
    shutil.copy(long_reference.parent / "rows.jsonl", tmp_path / "rows.jsonl")
    sweep = tmp_path / "sweep"
    process = _start(tmp_path, "-m", *SWEEP, f"hydra.sweep.dir={sweep}")
    point4 = sweep / "3" / "predictions.jsonl"
    assert _wait_for(process, lambda: _lines(point4) >= 20), "point 4 never wrote its rows"
    _kill(process)
    assert not (sweep / "4").exists() and _lines(point4) < 240  # killed while point 4 ran
    assert json.loads((sweep / "3" / "run.json").read_text())["status"] == "running"
    assert run_command("-m", *SWEEP, f"sweep.resume={sweep}", cwd=tmp_path) == 0
    assert _predictions(sweep) == _predictions(long_reference)


@pytest.mark.slow
def test_five_kills_at_random_moments_then_resume_gives_the_same_predictions(long_reference, tmp_path, run_command):
    shutil.copy(long_reference.parent / "rows.jsonl", tmp_path / "rows.jsonl")
    sweep = tmp_path / "sweep"
    moments = random.Random(29)
    started = [f"hydra.sweep.dir={sweep}"]
    states = []
    for kill in range(5):
        launched = time.time()
        process = _start(tmp_path, "-m", *SWEEP, *started)
        # from the moment this process's first job began (it logs to its job dir's run.log), a random
        # delay into the points: the kill lands in a point, between points, or in the report
        begun = _wait_for(process, lambda since=launched: _job_begun(sweep, since))
        assert begun or process.returncode == 0, f"kill {kill}: the sweep never began"
        time.sleep(moments.uniform(0.0, 2.5))
        _kill(process)
        states.append(_states(sweep))
        started = [f"sweep.resume={sweep}"]
    # the kills found the sweep part done: points finished, one stopped mid-way, others not begun
    assert sum(state.count("ok") < POINTS for state in states) >= 4, states
    assert any("running" in state for state in states), states
    assert run_command("-m", *SWEEP, f"sweep.resume={sweep}", cwd=tmp_path) == 0
    assert _predictions(sweep) == _predictions(long_reference)
