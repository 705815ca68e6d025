"""What `run -m` needs from Hydra's launchers: the exit code of jobs that ran in other processes.

Hydra's basic launcher runs the jobs in this process, so the task function (runner.cli) hands each
exit code to the invocation it is bound to. The joblib, submitit (SLURM or local) and Ray launchers
run them elsewhere, and Hydra drops what the jobs return. JobExitCodes, registered in conf/config.yaml
under hydra.callbacks, closes the gap: in each job's process it writes the job's exit code to
<job dir>/job_exit.json, tagged with an id of this multirun (the callback object travels to the jobs
with Hydra's context); when the multirun ends it reads the files tagged with that id back in the
launching process, so a reused sweep dir's old jobs do not count.

Hydra builds the callback from the config, so it cannot be handed the invocation that should receive
the codes. The hand-over is a file instead: `launched_exit_codes()` (entered by runner.cli around
Hydra) names a fresh file in the environment variable HANDOVER_ENV; the callback appends the codes of
each multirun there, and the caller reads them once Hydra returns. No module state is involved, and
a callback outside `run` (no variable set) only reports.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hydra.core.utils import JobStatus
from hydra.experimental.callback import Callback

from runner.sweep.objective import exit_code_of
from runner.sweep.points import EXIT_FILE

HANDOVER_ENV = "RUNNER_EXIT_CODES_FILE"


class JobExitCodes(Callback):
    def __init__(self) -> None:
        self.sweep_id: str | None = None

    def on_multirun_start(self, config, **kwargs: Any) -> None:
        self.sweep_id = uuid.uuid4().hex

    def on_job_end(self, config, job_return, **kwargs: Any) -> None:
        if self.sweep_id is None:  # a single run: the task function's own exit code is the answer
            return
        # An int, or with `objective` set a metric or a FailedTrial that carries the code (runner.sweep.objective)
        code = exit_code_of(job_return.return_value) if job_return.status == JobStatus.COMPLETED else 1
        record = {"sweep_id": self.sweep_id, "job_num": config.hydra.job.num, "exit_code": code}
        (Path(config.hydra.runtime.output_dir) / EXIT_FILE).write_text(json.dumps(record) + "\n")

    def on_multirun_end(self, config, **kwargs: Any) -> None:
        jobs = read_exit_codes(Path(str(config.hydra.sweep.dir)), self.sweep_id)
        _hand_over([code for _, code in jobs])
        failed = [(job_dir, code) for job_dir, code in jobs if code != 0]
        if failed:
            listed = ", ".join(f"{job_dir} (exit {code})" for job_dir, code in failed[:10])
            print(f"run -m: {len(failed)} of {len(jobs)} jobs failed: {listed}", file=sys.stderr)


def read_exit_codes(sweep_dir: Path, sweep_id: str | None) -> list[tuple[Path, int]]:
    found = []
    for path in sorted(sweep_dir.rglob(EXIT_FILE)):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if record.get("sweep_id") == sweep_id:
            found.append((path.parent, int(record["exit_code"])))
    return found


def _hand_over(codes: list[int]) -> None:
    handover = os.environ.get(HANDOVER_ENV)
    if handover:
        with open(handover, "a", encoding="utf-8") as f:
            f.writelines(f"{code}\n" for code in codes)


@contextmanager
def launched_exit_codes() -> Iterator[Callable[[], list[int]]]:
    """Around Hydra: yields a function that returns the exit codes the callback handed over."""
    with tempfile.TemporaryDirectory(prefix="runner-exit-codes-") as folder:
        handover = Path(folder) / "exit_codes.txt"
        previous = os.environ.get(HANDOVER_ENV)
        os.environ[HANDOVER_ENV] = str(handover)
        try:
            yield lambda: [int(line) for line in handover.read_text().split()] if handover.is_file() else []
        finally:
            _restore(HANDOVER_ENV, previous)


def _restore(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
