"""How a run ends early: out of memory (a result for a sweep point) or a failing row under on_error=fail."""

from __future__ import annotations

from runner.core.errors import OutputError, RunError


class OutOfMemory(Exception):
    """A batch ran out of memory: the run (or sweep point) ends with status `oom`."""

    def __init__(self, step: str, batch_size: int, error: BaseException):
        self.step, self.batch_size, self.error = step, batch_size, error
        super().__init__(f"step {step}: out of memory at batch size {batch_size}: {type(error).__name__}: {error}")


class RowFailed(RunError):
    """on_error=fail: the first failing row stops the run."""


def ended_by(failure: BaseException) -> tuple[str, str]:
    """(status, error) that metrics.json gives a run ended by `failure`, whichever engine ran it.
    SystemExit is an interruption: submitit raises it inside the run when it stops the job to requeue it."""
    if isinstance(failure, OutOfMemory):
        return "oom", str(failure)
    if isinstance(failure, (KeyboardInterrupt, SystemExit)):
        return "interrupted", "interrupted by a signal"
    if isinstance(failure, OutputError):  # a full disk: the rows written so far stand, resume= continues
        return "interrupted", failure.message
    return "error", f"{type(failure).__name__}: {failure}"
