"""Ending the `run` command without Python's interpreter teardown.

Once torch and transformers are loaded, a normal exit spends a long time tearing the interpreter
down (clearing tens of thousands of module objects and running C++ static destructors): measured
on this 2-core machine, `python -c "import torch, transformers.pipelines"` takes 0.67-0.86x as
long when it ends with os._exit, i.e. 0.5-1.3 s of a 4-6 s process is the teardown. Nothing of
the run needs it: every output file is closed (and fsynced where it matters) before main() returns.

What a normal exit does that matters is kept: stdout/stderr are flushed, logging is shut down and
every atexit handler runs (tempfile and weakref.finalize clean-ups, multiprocessing, trackers ending
their runs). A process that still has a non-daemon thread, that never loaded torch, or that runs
with RUNNER_NORMAL_EXIT=1 (a debugger, a leak checker) exits the normal way."""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
from typing import NoReturn


def exit_process(code: int) -> NoReturn:
    if not _teardown_worth_skipping():
        sys.exit(code)
    _flush()
    logging.shutdown()
    atexit._run_exitfuncs()  # what sys.exit would run, in the same (last registered, first run) order
    _flush()
    os._exit(code)


def _teardown_worth_skipping() -> bool:
    if os.environ.get("RUNNER_NORMAL_EXIT") or "torch" not in sys.modules:
        return False
    main = threading.main_thread()
    # a normal exit waits for non-daemon threads; os._exit would cut them off
    return all(thread.daemon or thread is main for thread in threading.enumerate())


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):  # closed or replaced streams
            pass
