"""One run writes into a run dir at a time: <run dir>/run.lock, held with flock while the run writes.

The kernel releases a flock when its process dies, even on `kill -9`, so on one host a lock that can be
taken is free. The file also records who took it (pid, host, since, command): a second run is refused
naming that holder (ConfigError, exit code 2), and a run that finds the record of a holder that died
without releasing takes over with a warning naming it. A record from another host (a shared filesystem,
where flock may not reach across hosts) is never taken over: the message says to remove the file once
that run is known to be gone. A clean release removes the file.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import socket
import stat
import sys
from datetime import datetime, timezone
from pathlib import Path

from runner.core.errors import ConfigError
from runner.core.redact import redact
from runner.outputs.rundir import (
    CHILD_REQUEST,
    ERRORS,
    FINISHED,
    HYDRA_DIR,
    LOCK,
    MEDIA,
    MERGE,
    METRICS,
    PREDICTIONS,
    RECORD,
    RERUN,
    STAGES,
    TABLES,
    WRITTEN,
    RunDir,
)
from runner.outputs.sinks import line_count

log = logging.getLogger(__name__)


# The scheduler job a run is part of, recorded in run.lock and run.json: a requeued attempt of the same
# job may take its own dir over (runner.repro.requeue).


def scheduler_job() -> dict | None:
    """The scheduler job this process runs in: {"name", "job_id"} (and "restart" for plain SLURM);
    None outside one. Environment variables only: submitit's JobEnvironment reads the same ones."""
    executor = os.environ.get("SUBMITIT_EXECUTOR")
    if executor:
        try:
            import submitit

            return {"name": f"submitit-{executor}", "job_id": str(submitit.JobEnvironment().job_id)}
        except (ImportError, KeyError, RuntimeError):  # the variable leaked into a process submitit did not start
            return None
    if os.environ.get("SLURM_JOB_ID"):
        array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
        job_id = f"{array}_{task}" if array and task else os.environ["SLURM_JOB_ID"]
        return {"name": "slurm", "job_id": job_id, "restart": int(os.environ.get("SLURM_RESTART_COUNT") or 0)}
    return None


def is_same_job(recorded: dict | None, current: dict | None) -> bool:
    """Whether `recorded` (a run.json's or run.lock's `scheduler`) is an earlier attempt of `current`."""
    if not recorded or not current:
        return False
    if (recorded.get("name"), recorded.get("job_id")) != (current["name"], current["job_id"]):
        return False
    # Within one SLURM allocation the job id stays; only SLURM's own requeue raises the restart count.
    return current["name"] != "slurm" or current["restart"] > int(recorded.get("restart") or 0)


class RunDirLock:
    """`with RunDirLock(run_dir, key, argv):` holds the dir for the block; `key` is the config key that
    named the dir (hydra.run.dir, resume, output_dir), for the message when it is taken."""

    def __init__(self, run_dir: Path, key: str, argv: list[str] | None = None):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK
        self.key = key
        self.argv = list(argv if argv is not None else sys.argv)
        self.fd: int | None = None

    def __enter__(self) -> "RunDirLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def acquire(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        while self.fd is None:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
            except OSError as error:
                raise ConfigError(
                    self.key,
                    f"{self.path} cannot be opened: {error.strerror}"
                    + (" (a symbolic link)" if error.errno == errno.ELOOP else ""),
                    f"remove {self.path} (or give another dir)",
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                os.close(fd)
                if error.errno not in (errno.EWOULDBLOCK, errno.EACCES):
                    raise
                raise self._taken(read_holder(self.path)) from None
            if _same_file(fd, self.path):
                self.fd = fd
            else:  # the holder released (and removed) it between our open and our flock: try again
                os.close(fd)
        self._claim_record()

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)  # still ours: nobody else can hold a flock on it now
        finally:
            os.close(self.fd)
            self.fd = None

    def _claim_record(self) -> None:
        """Write our record; the record found there belongs to a holder that died without releasing."""
        previous = _read_fd(self.fd)
        job = scheduler_job()
        if previous:
            # An earlier attempt of this scheduler job (requeued, maybe onto another node) is over:
            # the scheduler runs one attempt of a job at a time.
            earlier_attempt = is_same_job(previous.get("scheduler"), job)
            if previous.get("host") != socket.gethostname() and not earlier_attempt:
                self.release_kept()
                raise self._taken(previous, other_host=True)
            log.warning(
                "warning: %s was locked by pid %s on %s since %s, which ended without releasing it; taking it over",
                self.run_dir,
                previous.get("pid"),
                previous.get("host"),
                previous.get("since"),
            )
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": _now(),
            "argv": redact(self.argv),
            **({"scheduler": job} if job else {}),
        }
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, (json.dumps(record) + "\n").encode(), 0)
        os.fsync(self.fd)

    def release_kept(self) -> None:
        """Let go without removing the file: its record is another host's."""
        os.close(self.fd)
        self.fd = None

    def _taken(self, holder: dict | None, other_host: bool = False) -> ConfigError:
        who = describe_holder(holder)
        if other_host:
            return ConfigError(
                self.key,
                f"{self.run_dir} was locked by {who}, on another host",
                f"if that run is gone, remove {self.path}; or use another dir",
            )
        return ConfigError(
            self.key,
            f"{self.run_dir} is in use by {who}: one run writes into a run dir at a time",
            "wait for it to end, or give another dir (leave hydra.run.dir unset for a fresh one)",
        )


NAME_MAX = 255  # bytes in one path component on Linux, macOS and Windows filesystems alike


def check_run_dir(run_dir: Path, key: str) -> None:
    """A run dir that cannot be made is a config error (exit code 2), found before anything runs: a path
    through or onto an existing file, a name longer than filesystems allow, a place this user (or a
    read-only filesystem) cannot write."""
    path = Path(run_dir)
    for part in path.parts:
        if len(os.fsencode(part)) > NAME_MAX:
            raise ConfigError(
                key,
                f"the name '{part[:40]}...' is {len(os.fsencode(part))} bytes; a filesystem allows {NAME_MAX}",
                "give a shorter dir name",
            )
    existing = path
    while not existing.exists() and not existing.is_symlink() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        what = "is an existing file" if existing == path else f"cannot be made: {existing} is a file"
        raise ConfigError(key, f"{path} {what}", "give a dir path (leave hydra.run.dir unset for a fresh one)")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(
            key,
            f"{path} cannot be written: {existing} is not writable (permissions, or a read-only filesystem)",
            "give a dir you can write to (leave hydra.run.dir unset for a fresh one)",
        )


def refuse_written(run_dir: Path, key: str) -> None:
    """A new run is not pointed at a dir that holds a finished run, or any rows, or any other run artefact
    without a readable run.json: it would replace them. resume= continues such a dir; the Python API's
    overwrite=True clears it first. Nor at a dir whose files are links or special files (refuse_unsafe)."""
    folder = RunDir(run_dir)
    refuse_unsafe(run_dir, key)
    try:
        record = folder.read_record()
    except ValueError:
        raise ConfigError(
            key,
            f"{folder.record_file} is not valid JSON: {run_dir} holds a run that cannot be read",
            "give another dir (leave hydra.run.dir unset for a fresh one)",
        ) from None
    rows = sum(line_count(path) for path in (folder.predictions, folder.errors))
    if record is None:
        found = artefacts(folder)
        if not found:
            return
        raise ConfigError(
            key,
            f"{run_dir} holds run outputs ({', '.join(found)}) but no run.json: a new run would replace them",
            "give another dir (leave hydra.run.dir unset for a fresh one), or move those files away first",
        )
    if record.status not in FINISHED and rows == 0:
        return  # a run that ended before writing any row: nothing to lose
    held = "a finished run" if record.status in FINISHED else f"a run that ended with status {record.status}"
    raise ConfigError(
        key,
        f"{run_dir} already holds {held} ({rows} rows written); a new run would replace them",
        f"continue it with resume={run_dir}, or give another dir (leave hydra.run.dir unset for a fresh one)",
    )


def artefacts(folder: RunDir) -> list[str]:
    """The outputs of a run found in `folder` (not run.log or .hydra/, which Hydra and the runner write
    before a run starts): non-empty predictions or errors, metrics, tables, media."""
    found = []
    for name in (PREDICTIONS, ERRORS, METRICS, RERUN, MERGE, CHILD_REQUEST, *TABLES):
        path = folder / name
        if path.is_file() and path.stat().st_size > 0:
            found.append(name)
    if (folder / MEDIA).is_dir() and any((folder / MEDIA).iterdir()):
        found.append(MEDIA + "/")
    return found


def refuse_unsafe(run_dir: Path, key: str) -> None:
    """Every file a run writes or appends to in `run_dir` is a regular file with one name, or absent: a
    symbolic link (or a hard link) there would have the run write over a file outside the dir, and a
    fifo would hang it. Checked before the run (exit code 2); runner.outputs.sinks.open_output checks again."""
    for name in (*WRITTEN, MERGE, LOCK, f".{RECORD}.tmp", f".{METRICS}.tmp"):
        path = Path(run_dir) / name
        try:
            info = path.lstat()
        except FileNotFoundError:
            continue
        except OSError as error:
            raise ConfigError(key, f"{path} cannot be examined: {error.strerror}", "give another dir") from None
        if stat.S_ISLNK(info.st_mode):
            problem = f"is a symbolic link (to {os.readlink(path)})"
        elif not stat.S_ISREG(info.st_mode):
            problem = "is not a regular file"
        elif info.st_nlink > 1:
            problem = f"has {info.st_nlink} names (a hard link to a file elsewhere)"
        else:
            continue
        raise ConfigError(
            key,
            f"{path} {problem}; the runner only writes regular files it creates in the run dir",
            f"remove {path} (or give another dir)",
        )
    for name in (MEDIA, STAGES, HYDRA_DIR):
        if (Path(run_dir) / name).is_symlink():
            raise ConfigError(
                key,
                f"{Path(run_dir) / name} is a symbolic link; the runner only writes inside the run dir",
                f"remove {Path(run_dir) / name} (or give another dir)",
            )


def read_holder(path: Path) -> dict | None:
    """The record in a lock file, or None (no file, empty, or cut short)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8") or "null")
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def describe_holder(holder: dict | None) -> str:
    if not holder:
        return "another run (it has not yet written who it is)"
    command = " ".join(str(a) for a in holder.get("argv") or [])
    return f"pid {holder.get('pid')} on {holder.get('host')} since {holder.get('since')}" + (
        f" ({command})" if command else ""
    )


def _read_fd(fd: int) -> dict | None:
    text = os.pread(fd, 1 << 16, 0).decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text) if text else None
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
