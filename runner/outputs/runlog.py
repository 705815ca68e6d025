"""run.log for runs outside Hydra (the Python API): the file the command line gets from Hydra's
job logging, written by a handler that exists only for one call."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from runner.core.redact import RedactFilter, redact_text


class RunLogHandler(logging.FileHandler):
    """logging.FileHandler that opens run.log as the runner opens every file it writes
    (runner.outputs.sinks.open_output): never through a symbolic link or into a special file. One refused is
    not written (the run itself is then refused, naming it: runner.outputs.rundir_lock.refuse_unsafe)."""

    def _open(self):
        from runner.core.errors import OutputError
        from runner.outputs.sinks import open_output

        try:
            return open_output(Path(self.baseFilename), self.mode[0], encoding=self.encoding)
        except OutputError as error:
            sys.stderr.write(f"warning: {error.message}; not logging to it\n")
            return open(os.devnull, "w", encoding="utf-8")


class RunLog:
    """run.log as the command line writes it (conf/hydra/job_logging/runner.yaml: the runner's loggers
    from DEBUG up, '[time][name][level] message'), for one call and removed after it, also on errors.
    Records from before the run dir exists (composing, planning) are held, then written first. The
    caller's own logging sees what it saw without us: records below the level it had set stop here."""

    FORMAT = "[%(asctime)s][%(name)s][%(levelname)s] %(message)s"

    def __init__(self) -> None:
        self.logger = logging.getLogger("runner")
        self.saved = (self.logger.level, self.logger.propagate)  # given back on exit
        self.held = _Held()
        self.forward = _Forward(self.logger.getEffectiveLevel(), self.logger.propagate)
        self.forward.addFilter(RedactFilter())
        self.file: logging.FileHandler | None = None

    def __enter__(self) -> "RunLog":
        self.logger.setLevel(logging.DEBUG)
        self.logger.propagate = False
        self.logger.addHandler(self.held)
        self.logger.addHandler(self.forward)
        return self

    def to_file(self, path: Path) -> None:
        self.file = RunLogHandler(path, encoding="utf-8")
        self.file.setFormatter(logging.Formatter(self.FORMAT))
        self.file.addFilter(RedactFilter())  # secrets never reach run.log (runner/core/redact.py)
        for record in self.held.records:
            self.file.handle(record)
        self.logger.removeHandler(self.held)
        self.logger.addHandler(self.file)

    def __exit__(self, *exc) -> None:
        for handler in (self.held, self.forward, self.file):
            if handler is not None:
                self.logger.removeHandler(handler)
        if self.file is not None:
            self.file.close()
        self.logger.setLevel(self.saved[0])
        self.logger.propagate = self.saved[1]


class SegmentLog:
    """A resumed run's segment logged into the run dir it resumes: while the block runs, every record this
    process's run.log gets is appended to <that dir>/run.log too, after a header line that says when
    and how the segment started. (The command's own run.log, in the dir Hydra made for the command,
    keeps its copy.) The handler goes where the run.log handler is: the root logger's (the command,
    Hydra's job logging) or the runner logger's (the Python API, RunLog)."""

    def __init__(self, path: Path, argv: list[str]):
        self.path, self.argv = Path(path), argv
        self.handler: RunLogHandler | None = None
        self.owners: list[logging.Logger] = []

    def __enter__(self) -> "SegmentLog":
        from datetime import datetime

        loggers = [logging.getLogger(), logging.getLogger("runner")]
        current = [(lg, h) for lg in loggers for h in lg.handlers if isinstance(h, RunLogHandler)]
        if not current or any(Path(h.baseFilename) == self.path.absolute() for _, h in current):
            return self  # no run.log to mirror, or it is this one already (a requeued job resumes its own dir)
        self.handler = RunLogHandler(self.path, mode="a", encoding="utf-8")
        template = current[0][1]
        self.handler.setFormatter(template.formatter or logging.Formatter(RunLog.FORMAT))
        self.handler.setLevel(template.level)
        self.handler.addFilter(RedactFilter())
        started = datetime.now().isoformat(timespec="seconds")
        elsewhere = ", ".join(sorted({h.baseFilename for _, h in current}))
        header = f"==== resumed segment, {started}: {' '.join(self.argv)} (its log is also in {elsewhere}) ===="
        self.handler.stream.write("\n" + redact_text(header) + "\n")
        self.handler.flush()
        self.owners = sorted({lg for lg, _ in current}, key=lambda lg: lg.name)
        for logger in self.owners:
            logger.addHandler(self.handler)
        return self

    def __exit__(self, *exc) -> None:
        if self.handler is None:
            return
        for logger in self.owners:
            logger.removeHandler(self.handler)
        self.handler.close()


class HeldRecords:
    """The `runner` loggers' records held while no handler exists yet: a `run` job is composed and
    planned before Hydra sets up its logging (runner.job.prepared). replay() hands them to the handlers
    set up since (run.log, the screen); a block left by an exception (a config error: no run dir, no
    run.log) shows them on the screen instead, before the error."""

    def __init__(self, name: str = "runner") -> None:
        self.logger = logging.getLogger(name)
        self.held = _Held()
        self.saved = (self.logger.level, self.logger.propagate)

    def __enter__(self) -> "HeldRecords":
        self.saved = (self.logger.level, self.logger.propagate)
        self.logger.setLevel(logging.DEBUG)
        self.logger.propagate = False
        self.logger.addHandler(self.held)
        return self

    def __exit__(self, exc_type, *rest) -> None:
        self.logger.removeHandler(self.held)
        self.logger.setLevel(self.saved[0])
        self.logger.propagate = self.saved[1]
        if exc_type is not None:
            self.replay_to_screen()

    def replay(self) -> None:
        for record in self.held.records:
            logger = logging.getLogger(record.name)
            if logger.isEnabledFor(record.levelno):
                logger.handle(record)
        self.held.records.clear()

    def replay_to_screen(self, level: int = logging.INFO) -> None:
        for record in self.held.records:
            if record.levelno >= level:
                print(redact_text(record.getMessage()), file=sys.stderr)
        self.held.records.clear()


class _Held(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class _Forward(logging.Handler):
    """Passes on to the root logger's handlers what propagation would have, at the caller's level."""

    def __init__(self, threshold: int, propagate: bool):
        super().__init__(threshold)
        self.propagate = propagate

    def emit(self, record: logging.LogRecord) -> None:
        if self.propagate:
            logging.getLogger().handle(record)


# Loggers whose records the screen always gets; other libraries' (transformers, Ray, datasets ...) below
# ERROR go to run.log only, unless verbose=true (LibraryNoise).
SHOWN_LOGGERS = ("runner", "hydra", "hydra_plugins", "__main__")


class LibraryNoise(logging.Filter):
    """The console's filter in a `run` job (conf/hydra/job_logging/runner.yaml): the runner's and Hydra's
    own records and any library's errors pass; a library's info and warnings stay in run.log, unless
    verbose=true shows them too."""

    def __init__(self, verbose: bool = False) -> None:
        super().__init__()
        self.verbose = bool(verbose)

    def filter(self, record: logging.LogRecord) -> bool:
        if self.verbose or record.levelno >= logging.ERROR:
            return True
        return any(record.name == name or record.name.startswith(name + ".") for name in SHOWN_LOGGERS)


class LibraryLogs:
    """While a job runs, the loggers of libraries that print through handlers of their own (transformers;
    Ray's, adopted when it is imported) hand their records to the root's handlers instead: run.log, and
    the screen as LibraryNoise allows. Each logger's handlers and propagation come back afterwards."""

    def __init__(self) -> None:
        self.saved: dict[str, tuple[list, bool]] = {}

    def adopt(self, name: str) -> None:
        logger = logging.getLogger(name)
        if name in self.saved or (not logger.handlers and logger.propagate):
            return
        self.saved[name] = (list(logger.handlers), logger.propagate)
        for handler in list(logger.handlers):  # a copy: removing while iterating skips every other one
            logger.removeHandler(handler)
        logger.propagate = True

    def __enter__(self) -> "LibraryLogs":
        global _ROUTED
        _ROUTED = self
        if "transformers" in sys.modules:
            self.adopt("transformers")  # its library root logger: a stream handler, propagate=False
        return self

    def __exit__(self, *exc) -> None:
        global _ROUTED
        _ROUTED = None
        for name, (handlers, propagate) in self.saved.items():
            logger = logging.getLogger(name)
            for handler in handlers:
                logger.addHandler(handler)
            logger.propagate = propagate
        self.saved.clear()


_ROUTED: LibraryLogs | None = None


def adopt_library_logger(name: str) -> None:
    """A library imported during a `run` job (Ray) routes its logger like those adopted at the start."""
    if _ROUTED is not None:
        _ROUTED.adopt(name)
