"""A job its scheduler requeues (SLURM time limit or preemption) resumes from its own outputs in its
own dir: under submitit (SIGUSR2 -> the launcher's checkpoint -> the same job again) and as a plain
`sbatch --requeue` script (the same SLURM job id, a higher SLURM_RESTART_COUNT). Any other run into
that dir is still refused."""

from __future__ import annotations

import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import time

import pytest

from runner.core.errors import ConfigError
from runner.job.invocation import Invocation
from runner.outputs.rundir_lock import RunDirLock, read_holder
from tests.conftest import read_jsonl, run_cli, run_job

pytestmark = pytest.mark.slow  # subprocesses, signalled on purpose

ROWS = 1200
# bench.enabled=false: a multirun benchmarks by default, and a benchmark repeats short runs' rows.
BASE = [
    "+task=text-classification",
    "model=tiny",
    "dataset=file",
    "dataset.path=rows.jsonl",
    "batch_size=4",
    "progress=false",
    "bench.enabled=false",
]


def _write_rows(path) -> None:
    """Rows of four one-letter words each: every row is as many tokens long, so no row's output depends
    on which rows share its batch (an interrupted run re-batches the rows it has left)."""
    letters = "abcdefghij"
    path.write_text(
        "".join(json.dumps({"text": " ".join(letters[int(d)] for d in f"{i:04d}")}) + "\n" for i in range(ROWS))
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The rows and the predictions of one uninterrupted, unsharded run."""
    folder = tmp_path_factory.mktemp("requeue")
    _write_rows(folder / "rows.jsonl")
    result = run_job(*BASE, f"hydra.run.dir={folder / 'uninterrupted'}", cwd=folder)
    assert result.returncode == 0, result.stderr[-3000:]
    return folder


def _start(cwd, *args, env=None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "runner", *args],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )


def _lines(path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _wait_for_lines(process: subprocess.Popen, path, count: int) -> int:
    deadline = time.monotonic() + 240
    while _lines(path) < count and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    if process.poll() is not None:
        raise AssertionError(
            f"the run ended before the signal (make the dataset larger): {process.communicate()[1][-3000:]}"
        )
    return _lines(path)


def _indices(path) -> list[int]:
    return [record["index"] for record in read_jsonl(path)]


def _lost_to_submitits_start_race(sweep) -> bool:
    """submitit's local controller opens its log files in the job folder that the submitting process
    creates only after starting it; on a busy machine it can get there first and die without a log
    (a job folder holding nothing but its submitted pickle). That is submitit's, not the runner's."""
    folders = [f for f in (sweep / ".submitit").glob("*") if f.name != "%j"]
    return any(not list(f.glob("*_log.*")) for f in folders)


def _start_sweep(cwd, shard_dir: str) -> tuple[subprocess.Popen, object]:
    """A 2-shard submitit_local sweep, once shard `shard_dir` has written 100 rows (tried again only
    when submitit lost its own start race, see above)."""
    for attempt in range(2):
        sweep = cwd / f"sweep{attempt}"
        process = _start(
            cwd,
            "-m",
            *BASE,
            "shard.count=2",
            "shard.index=range(2)",
            "hydra/launcher=submitit_local",
            f"hydra.sweep.dir={sweep}",
        )
        try:
            _wait_for_lines(process, sweep / shard_dir / "predictions.jsonl", 100)
            return process, sweep
        except AssertionError:
            if not (attempt == 0 and _lost_to_submitits_start_race(sweep)):
                raise
    raise AssertionError("unreachable")


def test_a_preempted_submitit_shard_resumes_its_own_outputs_and_merges_unchanged(reference, tmp_path):
    (tmp_path / "rows.jsonl").write_bytes((reference / "rows.jsonl").read_bytes())
    process, sweep = _start_sweep(tmp_path, "0")
    shard = sweep / "0"
    job_pid = read_holder(shard / "run.lock")["pid"]  # the submitit job process, as SLURM would signal it
    # Some clusters send SIGTERM before a preemption's SIGUSR2: submitit lets it pass, and so does the run.
    os.kill(job_pid, signal.SIGTERM)
    before = _lines(shard / "predictions.jsonl")
    _wait_for_lines(process, shard / "predictions.jsonl", before + 40)
    os.kill(job_pid, signal.SIGUSR2)  # preemption: submitit checkpoints and requeues the job
    stderr = process.communicate(timeout=300)[1]
    assert process.returncode == 0, stderr[-3000:]

    log = (shard / "run.log").read_text()
    assert "Bypassing signal SIGTERM" in log and "this job is preempted" in log
    assert "requeued by the scheduler (submitit-local job" in log and f"resuming {shard}" in log
    # each of its rows once, in order: shard 0 of 2 owns the batches (4 rows) 0, 2, 4, ... (runner.sources.sharding)
    assert _indices(shard / "predictions.jsonl") == [p for p in range(ROWS) if (p // 4) % 2 == 0]
    record = json.loads((shard / "run.json").read_text())
    assert record["status"] == "ok" and record["scheduler"]["attempt"] == 2
    assert record["scheduler"]["name"] == "submitit-local"
    metrics = json.loads((shard / "metrics.json").read_text())
    # submitit's SystemExit lands at any bytecode: between a line written and its count, the first attempt's
    # metrics.json can miss a few rows its file holds, and they show as an `unrecorded` segment between
    statuses = [s["status"] for s in metrics["segments"]]
    assert statuses in (["interrupted", "ok"], ["interrupted", "unrecorded", "ok"]), statuses
    assert metrics["rows_in"] == metrics["rows_out"] == ROWS // 2 == sum(s["rows_out"] for s in metrics["segments"])
    assert json.loads((sweep / "1" / "run.json").read_text())["scheduler"]["attempt"] == 1  # not requeued

    merged = run_cli(f"merge={sweep}", cwd=tmp_path)
    assert merged.returncode == 0, merged.stderr
    assert (sweep / "merged" / "predictions.jsonl").read_bytes() == (
        reference / "uninterrupted" / "predictions.jsonl"
    ).read_bytes()


def _slurm(job_id: str, restart: int) -> dict:
    return {"SLURM_JOB_ID": job_id, "SLURM_RESTART_COUNT": str(restart)}


def test_a_requeued_sbatch_job_resumes_and_other_runs_into_its_dir_are_refused(reference, tmp_path):
    (tmp_path / "rows.jsonl").write_bytes((reference / "rows.jsonl").read_bytes())
    out = tmp_path / "out"
    fixed_dir = f"hydra.run.dir={out}"  # a requeued sbatch script finds its dir again only when it is fixed
    process = _start(tmp_path, *BASE, fixed_dir, env=_slurm("4242", 0))
    _wait_for_lines(process, out / "predictions.jsonl", 100)
    process.send_signal(signal.SIGTERM)  # SLURM's stop before it requeues the job
    assert process.wait(timeout=60) == 130
    first = json.loads((out / "run.json").read_text())
    assert first["status"] == "interrupted"
    assert first["scheduler"] == {"name": "slurm", "job_id": "4242", "restart": 0, "attempt": 1}

    # Not a requeue: another job, or the same allocation running the command again.
    for env in (_slurm("4343", 1), _slurm("4242", 0)):
        refused = _run(tmp_path, env, *BASE, fixed_dir)
        assert refused.returncode == 2, refused.stderr[-2000:]
        assert "already holds a run that ended with status interrupted" in refused.stderr
        assert f"resume={out}" in refused.stderr

    resumed = _run(tmp_path, _slurm("4242", 1), *BASE, fixed_dir)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "requeued by the scheduler (slurm job 4242, attempt 2)" in resumed.stderr
    assert (out / "predictions.jsonl").read_bytes() == (reference / "uninterrupted" / "predictions.jsonl").read_bytes()
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "ok" and record["scheduler"]["attempt"] == 2 and record["config"]["resume"] == str(out)


def _run(cwd, env: dict, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
    )


def _lock_left_by(folder, host: str, scheduler: dict) -> None:
    record = {"pid": 1, "host": host, "since": "2026-11-30T00:00:00+00:00", "argv": ["run"], "scheduler": scheduler}
    (folder / "run.lock").write_text(json.dumps(record) + "\n")


def test_a_lock_left_on_another_node_is_taken_over_only_by_the_same_requeued_job(tmp_path, monkeypatch):
    monkeypatch.delenv("SUBMITIT_EXECUTOR", raising=False)
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    elsewhere = "node-" + socket.gethostname()
    _lock_left_by(tmp_path, elsewhere, {"name": "slurm", "job_id": "4343", "restart": 0})
    with pytest.raises(ConfigError, match="on another host"):
        RunDirLock(tmp_path, "hydra.run.dir").acquire()
    _lock_left_by(tmp_path, elsewhere, {"name": "slurm", "job_id": "4242", "restart": 0})  # its attempt 1
    with RunDirLock(tmp_path, "hydra.run.dir"):
        assert read_holder(tmp_path / "run.lock")["scheduler"] == {"name": "slurm", "job_id": "4242", "restart": 1}


def test_a_pickled_invocation_leaves_its_loaded_models_behind():
    """submitit's checkpoint pickles the job's task function, and with it the invocation: without its
    pipeline cache, or the weights of every loaded model would go into the requeued job's pickle."""
    invocation = Invocation(exit_codes=[0])
    invocation.cache = {"loaded": b"weights" * 1000}
    copy = pickle.loads(pickle.dumps(invocation))
    assert copy.cache is None and copy.exit_codes == [0]
    assert invocation.cache is not None  # the running job keeps its own


def test_run_json_stopped_mid_write_keeps_its_previous_version(tmp_path, monkeypatch):
    """A scheduler's signal can land while run.json or metrics.json is written; the requeued attempt must
    still read the earlier attempt's record (who wrote the dir), so a write is whole or not at all."""
    import runner.outputs.sinks
    from runner.outputs.rundir import RunDir

    folder = RunDir(tmp_path)
    folder.write_record({"status": "running", "scheduler": {"name": "slurm", "job_id": "4242", "attempt": 1}})
    open_output = runner.outputs.sinks.open_output  # where every run-dir file is opened for writing

    def stopped_halfway(path, mode="w", **kwargs):
        file = open_output(path, mode, **kwargs)
        write = file.write

        def half(text):
            write(text[: len(text) // 2])
            raise SystemExit(-1)  # what submitit's handler raises when it requeues the job

        file.write = half
        return file

    monkeypatch.setattr(runner.outputs.sinks, "open_output", stopped_halfway)
    with pytest.raises(SystemExit):
        folder.write_record({"status": "interrupted", "scheduler": {"name": "slurm", "job_id": "4242"}})
    monkeypatch.undo()
    assert folder.read_record().rest["scheduler"] == {"name": "slurm", "job_id": "4242", "attempt": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]  # the half-written temporary file removed
