"""sweep.png drawn by a helper process that imports matplotlib while the sweep's jobs run.

Importing matplotlib and pyplot takes ~0.5 s on an idle machine (measured here: 0.35-0.5 s for
matplotlib, 0.4 s for pyplot), about half of what a sweep costs over a plain loop through the same
points. The SweepReport callback starts this process when the multirun starts, at a low CPU priority
so it takes only what the jobs leave idle; the import happens then. When the multirun ends the
report's points reach it on stdin, and it draws and saves the figure (~0.2 s). If the helper fails
in any way, the report draws the figure in its own process as before (runner.sweep.report).

    python -m runner.sweep.plot_worker     reads one JSON line {"path", "points", "recommended", "min_agreement"};
                                           end of input (the sweep's process ended) ends it quietly
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

log = logging.getLogger(__name__)

WRITTEN = "written"
# The drawing itself takes well under a second; a helper that takes this long is stuck.
DRAW_TIMEOUT_S = 60


class PlotWorker:
    """The helper process, from the multirun's start to its report."""

    def __init__(self):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "runner.sweep.plot_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def draw(self, report, path: Path) -> bool:
        """Whether the helper wrote `path` for this report."""
        request = {
            "path": str(path),
            "points": report.points,
            "recommended": report.recommended,
            "min_agreement": report.min_agreement,
        }
        try:
            out, err = self.process.communicate(json.dumps(request, default=str) + "\n", timeout=DRAW_TIMEOUT_S)
        except (OSError, ValueError, subprocess.TimeoutExpired) as error:  # ended early, or stuck
            self.close()
            log.debug("the plot helper failed (%s); drawing here", error)
            return False
        if self.process.returncode == 0 and out.strip() == WRITTEN:
            return True
        log.debug("the plot helper failed (exit %s): %s; drawing here", self.process.returncode, err[-2000:])
        return False

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def start_plot_worker() -> PlotWorker | None:
    try:
        return PlotWorker()
    except OSError as error:  # no process could be started: the report draws in its own
        log.debug("no plot helper (%s)", error)
        return None


def main() -> int:
    try:
        os.nice(10)  # the sweep's jobs come first
    except (AttributeError, OSError):
        pass
    from runner.sweep.plot import prepare_matplotlib, write_plot

    prepare_matplotlib()
    line = sys.stdin.readline()
    if not line.strip():
        return 0  # the sweep ended without a report (interrupted, or nothing to draw)
    request = json.loads(line)
    report = SimpleNamespace(
        points=request["points"], recommended=request["recommended"], min_agreement=request.get("min_agreement")
    )
    write_plot(report, Path(request["path"]))
    print(WRITTEN, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
