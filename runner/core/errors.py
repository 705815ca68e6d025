"""The two kinds of failure a user sees, the exit code each maps to, and the "did you mean" they share."""

from __future__ import annotations

import difflib


def did_you_mean(value, allowed) -> str:
    """The hint prefix "did you mean 'x'? " for the closest of `allowed` to `value`; "" when none is close."""
    close = difflib.get_close_matches(str(value), [str(a) for a in allowed], n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'? " if close else ""


class ConfigError(Exception):
    """The configuration is wrong. Raised before any model loads; exit code 2, no traceback."""

    exit_code = 2

    def __init__(self, key: str, message: str, hint: str | None = None, where: str | None = None):
        self.key = key
        self.message = message
        self.hint = hint
        self.where = where  # the file and line, or the override, that set the key (when known)
        super().__init__(self.render())

    def render(self) -> str:
        text = f"{self.key}: {self.message}" if self.key else self.message
        if self.where:
            text += f"\n  in: {self.where}"
        return f"{text}\n  hint: {self.hint}" if self.hint else text


class ConfigErrors(ConfigError):
    """Several configuration errors found at once, reported together."""

    def __init__(self, errors: list[ConfigError]):
        self.errors = errors
        listed = "\n".join("  - " + e.render().replace("\n", "\n    ") for e in errors)
        super().__init__("", f"{len(errors)} problems:\n{listed}")


class RunError(Exception):
    """The run failed past validation (model not found, unreadable dataset). Exit code 1, one-line cause + hint."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(message)


class OutputError(RunError):
    """A file in the run dir could not be written: the disk is full, the dir is read-only, or something
    that is not a regular file the runner made (a symbolic link, a hard link, a fifo) stands where it writes.
    Exit code 1 with this one-line cause; the run ends `interrupted` so `resume=` is the next step."""

    def __init__(self, path, reason: str, errno_: int | None = None):
        self.path = path
        self.errno = errno_
        super().__init__(f"could not write {path}: {reason}", self.hint_for(None))

    def hint_for(self, run_dir) -> str:
        import errno

        again = f"then continue with resume={run_dir}" if run_dir is not None else "then resume the run"
        if self.errno in (errno.ENOSPC, errno.EDQUOT):
            return f"the disk (or quota) is full: free space there, {again}"
        if self.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return f"the run dir is not writable: fix its permissions or mount, {again}"
        if self.errno is None:
            return f"remove it (the runner only writes regular files it creates in the run dir), {again}"
        return f"fix the cause above, {again}"


# Every exit code `run` can end with, and what it means: `run --help` prints this table, and
# tests/config/test_help.py checks it against the constants that produce each code.
EXIT_CODES: dict[int, str] = {
    0: "done (failed rows, if any, within max_error_fraction)",
    RunError.exit_code: "the run failed (the cause on screen, the traceback in run.log)",
    ConfigError.exit_code: "the config is wrong (found before any model loads)",
    3: "a rerun= finished but its predictions differ from the original's",
    4: "the run finished, but more rows failed than max_error_fraction allows, or none was written",
    130: "interrupted (Ctrl-C or SIGTERM); resume= continues",
}
