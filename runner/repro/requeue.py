"""A job its scheduler requeued runs again in its own run dir and resumes from its own outputs.

SLURM stops a job at its time limit or when it is preempted. Under the submitit launcher
(hydra/launcher=submitit_slurm or submitit_local) the job gets SIGUSR2 first; submitit's handler calls
the launcher's `checkpoint`, which requeues the same call with the same arguments, so Hydra runs the
job again in the same job dir. A plain `sbatch --requeue` script with a fixed hydra.run.dir does the
same without submitit. That dir holds the first attempt's run.json and rows: the new attempt resumes it
(runner.repro.resume: the same config check, the rows already written kept, the rest appended).

How a requeue is told from a user who re-runs into a dir that holds another job's outputs: run.json
records the scheduler job that wrote it (`scheduler`: name, job id, attempt). Only the same scheduler
job id (submitit's, which a requeue keeps; a new submission gets a new one), and for a plain SLURM
script a higher SLURM_RESTART_COUNT too, is a requeue. Anything else is refused as before
(runner.outputs.rundir_lock.refuse_written), with the resume= hint.
"""

from __future__ import annotations

import logging
from pathlib import Path

from runner.outputs.rundir import RunDir
from runner.outputs.rundir_lock import is_same_job, scheduler_job

log = logging.getLogger(__name__)


def requeued_from(run_dir: Path) -> dict | None:
    """The `scheduler` entry of the earlier attempt when run_dir holds one of this very scheduler job
    (it was requeued); None otherwise, also when run.json is missing or unreadable."""
    current = scheduler_job()
    earlier = _earlier_attempt(run_dir, current)
    if earlier is None:
        return None
    log.info(
        "requeued by the scheduler (%s job %s, attempt %d): resuming its own outputs in %s",
        current["name"],
        current["job_id"],
        int(earlier.get("attempt") or 1) + 1,
        run_dir,
    )
    return earlier


def scheduler_entry(run_dir: Path) -> dict | None:
    """run.json's `scheduler` for a run starting in run_dir: this process's scheduler job and its
    attempt (1, or one more than the earlier attempt's whose run.json is still there); None outside a
    scheduler, so run.json is unchanged for everyone else."""
    current = scheduler_job()
    if current is None:
        return None
    earlier = _earlier_attempt(run_dir, current)
    return {**current, "attempt": int(earlier.get("attempt") or 1) + 1 if earlier is not None else 1}


def _earlier_attempt(run_dir: Path, current: dict | None) -> dict | None:
    """run_dir's run.json `scheduler` entry when an earlier attempt of `current` wrote it; None when
    outside a scheduler, when run.json is missing or cut short, or when another job wrote it."""
    if current is None:
        return None
    try:
        record = RunDir(run_dir).read_record()
    except ValueError:  # cut short: refuse_written names the file
        return None
    earlier = record.rest.get("scheduler") if record is not None else None
    return earlier if is_same_job(earlier, current) else None
