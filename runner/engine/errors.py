"""How a run ends early: out of memory (a result for a sweep point) or a failing row under on_error=fail."""
from __future__ import annotations

from runner.errors import RunError


class OutOfMemory(Exception):
    """A batch ran out of memory: the run (or sweep point) ends with status `oom`."""

    def __init__(self, step: str, batch_size: int, error: BaseException):
        self.step, self.batch_size, self.error = step, batch_size, error
        super().__init__(f"step {step}: out of memory at batch size {batch_size}: {type(error).__name__}: {error}")


class RowFailed(RunError):
    """on_error=fail: the first failing row stops the run."""
