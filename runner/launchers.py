"""What `run -m` needs from Hydra's launchers: the exit code of jobs that ran in other processes.

Hydra's basic launcher runs the jobs in this process, so `cli._job` sees each exit code. The joblib,
submitit (SLURM or local) and Ray launchers run them elsewhere and Hydra drops what the jobs return.
This callback, registered in conf/config.yaml under hydra.callbacks, closes the gap: in each job's
process it writes the job's exit code to <job dir>/job_exit.json, tagged with an id of this multirun
(the callback object travels to the jobs with Hydra's context); when the multirun ends it reads the
files tagged with that id back in the launching process, so a reused sweep dir's old jobs do not count.
"""
from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any

from hydra.core.utils import JobStatus
from hydra.experimental.callback import Callback

EXIT_FILE = "job_exit.json"

# Exit codes of the jobs of the multiruns this process launched (read by cli.main).
SWEEP_EXIT_CODES: list[int] = []


class JobExitCodes(Callback):
    def __init__(self) -> None:
        self.sweep_id: str | None = None

    def on_multirun_start(self, config, **kwargs: Any) -> None:
        self.sweep_id = uuid.uuid4().hex

    def on_job_end(self, config, job_return, **kwargs: Any) -> None:
        if self.sweep_id is None:  # a single run: cli._job's own exit code is the answer
            return
        code = job_return.return_value if job_return.status == JobStatus.COMPLETED else 1
        code = code if isinstance(code, int) else 0  # a task function that returns nothing succeeded
        record = {"sweep_id": self.sweep_id, "job_num": config.hydra.job.num, "exit_code": code}
        (Path(config.hydra.runtime.output_dir) / EXIT_FILE).write_text(json.dumps(record) + "\n")

    def on_multirun_end(self, config, **kwargs: Any) -> None:
        jobs = read_exit_codes(Path(str(config.hydra.sweep.dir)), self.sweep_id)
        SWEEP_EXIT_CODES.extend(code for _, code in jobs)
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
