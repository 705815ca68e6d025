"""A run dir is owned by one run at a time (run.lock), and a dir that holds a finished run is written into
again only by resume=."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from runner.core.errors import ConfigError
from runner.outputs.rundir_lock import RunDirLock, read_holder, refuse_written
from tests.conftest import read_jsonl, run_cli, run_job

FAST = ["+task=sentiment", "model=tiny", "progress=false"]


def _snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _dead_pid() -> int:
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    return done.pid


def test_a_second_holder_is_refused_naming_the_first(tmp_path):
    with RunDirLock(tmp_path, "hydra.run.dir", ["run", "+task=ner"]):
        holder = read_holder(tmp_path / "run.lock")
        assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
        with pytest.raises(ConfigError) as caught:  # flock: a second open file, even in this process, waits
            RunDirLock(tmp_path, "hydra.run.dir").acquire()
    assert caught.value.key == "hydra.run.dir"
    assert f"is in use by pid {os.getpid()} on {socket.gethostname()} since " in caught.value.message
    assert "run +task=ner" in caught.value.message
    assert not (tmp_path / "run.lock").exists()  # released and removed
    with RunDirLock(tmp_path, "hydra.run.dir"):  # free again
        pass


def test_a_lock_left_by_a_killed_process_is_taken_over_with_a_warning(tmp_path, caplog):
    code = (
        "import sys, time; from runner.outputs.rundir_lock import RunDirLock; "
        "lock = RunDirLock(sys.argv[1], 'hydra.run.dir', ['run', 'killed']); lock.acquire(); "
        "print('held', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(ConfigError):
        RunDirLock(tmp_path, "resume").acquire()
    os.kill(holder.pid, signal.SIGKILL)  # no release: the record stays, the kernel drops the flock
    holder.wait()
    assert read_holder(tmp_path / "run.lock")["pid"] == holder.pid
    with caplog.at_level("WARNING", logger="runner"):
        with RunDirLock(tmp_path, "resume"):
            assert read_holder(tmp_path / "run.lock")["pid"] == os.getpid()
    assert f"locked by pid {holder.pid} on {socket.gethostname()}" in caplog.text
    assert "ended without releasing it; taking it over" in caplog.text


def test_a_record_from_another_host_is_not_taken_over(tmp_path):
    record = {"pid": 12345, "host": "gpu-node-7", "since": "2026-11-30T01:00:00+00:00", "argv": ["run"]}
    (tmp_path / "run.lock").write_text(json.dumps(record))
    with pytest.raises(ConfigError) as caught:
        RunDirLock(tmp_path, "hydra.run.dir").acquire()
    assert "pid 12345 on gpu-node-7" in caught.value.message and "another host" in caught.value.message
    assert f"remove {tmp_path / 'run.lock'}" in caught.value.hint
    assert json.loads((tmp_path / "run.lock").read_text()) == record  # left as found


def test_a_stale_lock_does_not_stop_a_run(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    stale = {"pid": _dead_pid(), "host": socket.gethostname(), "since": "2026-11-30T01:00:00+00:00", "argv": ["run"]}
    (out / "run.lock").write_text(json.dumps(stale))
    result = run_job(*FAST, f"hydra.run.dir={out}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"locked by pid {stale['pid']}" in result.stderr and "taking it over" in result.stderr
    assert len(read_jsonl(out / "predictions.jsonl")) == 6 and not (out / "run.lock").exists()


def _wait_until(process: subprocess.Popen, ready, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        assert process.poll() is None, process.stderr.read()[-3000:]
        assert time.monotonic() < deadline, "the first run never got there"
        time.sleep(0.02)


@pytest.mark.slow
def test_two_runs_into_one_dir_the_second_exits_2_and_the_first_is_intact(tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"text": f"row number {i}"}) + "\n" for i in range(400)))
    out = tmp_path / "out"
    first_args = [*FAST, "dataset=file", f"dataset.path={rows}", "batch_size=1", f"hydra.run.dir={out}"]
    first = subprocess.Popen(
        [sys.executable, "-m", "runner", *first_args],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    predictions = out / "predictions.jsonl"
    _wait_until(first, lambda: read_holder(out / "run.lock") and predictions.is_file() and predictions.stat().st_size)
    os.kill(first.pid, signal.SIGSTOP)  # mid-run, however fast this machine is: it holds the dir until it ends
    try:
        second = run_cli("+task=ner", "model=tiny", "progress=false", f"hydra.run.dir={out}", cwd=tmp_path)
    finally:
        os.kill(first.pid, signal.SIGCONT)
    _, first_err = first.communicate(timeout=600)
    assert second.returncode == 2, second.stderr[-2000:]
    assert f"hydra.run.dir: {out} is in use by pid {first.pid} on {socket.gethostname()} since " in second.stderr
    assert "Traceback" not in second.stderr
    assert first.returncode == 0, first_err[-3000:]
    assert [p["index"] for p in read_jsonl(predictions)] == list(range(400))
    assert (out / "errors.jsonl").read_text() == ""
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "ok" and record["config"]["task"]["name"] == "text-classification"
    assert "text-classification" in (out / ".hydra" / "config.yaml").read_text()  # the first's, not the second's
    assert not (out / "run.lock").exists()


def test_a_finished_run_dir_is_not_written_into_again(tmp_path):
    out = tmp_path / "out"
    assert run_job(*FAST, f"hydra.run.dir={out}", cwd=tmp_path).returncode == 0
    before = _snapshot(out)
    result = run_cli("+task=ner", "model=tiny", f"hydra.run.dir={out}", cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"hydra.run.dir: {out} already holds a finished run (6 rows written)" in result.stderr
    assert f"resume={out}" in result.stderr and "Traceback" not in result.stderr
    after = _snapshot(out)
    assert {k: v for k, v in after.items() if k != "run.log"} == {k: v for k, v in before.items() if k != "run.log"}
    assert after["run.log"].startswith(before["run.log"])  # Hydra's log handler appends the refusal, nothing else


def test_resume_of_a_dir_that_is_running_exits_2_naming_the_holder(tmp_path):
    out = tmp_path / "out"
    assert run_job(*FAST, f"hydra.run.dir={out}", cwd=tmp_path).returncode == 0
    before = _snapshot(out)
    with RunDirLock(out, "hydra.run.dir", ["run", "the-holder"]):
        result = run_cli(*FAST, f"resume={out}", cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"resume: {out} is in use by pid {os.getpid()}" in result.stderr and "(run the-holder)" in result.stderr
    assert "loading" not in result.stderr and _snapshot(out) == before


def test_dirs_with_rows_or_unreadable_records_are_refused_and_empty_ones_are_not(tmp_path):
    refuse_written(tmp_path, "hydra.run.dir")  # nothing there
    (tmp_path / "run.json").write_text(json.dumps({"status": "error"}))
    refuse_written(tmp_path, "hydra.run.dir")  # failed before any row: nothing to lose
    (tmp_path / "predictions.jsonl").write_text('{"index": 0}\n')
    (tmp_path / "run.json").write_text(json.dumps({"status": "running"}))  # killed mid-run
    with pytest.raises(ConfigError, match="ended with status running"):
        refuse_written(tmp_path, "hydra.run.dir")
    (tmp_path / "run.json").write_text("{cut")
    with pytest.raises(ConfigError, match="not valid JSON"):
        refuse_written(tmp_path, "output_dir")
