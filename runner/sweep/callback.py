"""The Hydra callback that writes the sweep report when a multirun ends (registered in conf/config.yaml)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

log = logging.getLogger(__name__)


class SweepReport(Callback):
    """on_multirun_end: read every job folder under hydra.sweep.dir and write sweep.{csv,json,md,png}.

    It runs in the launching process after all jobs, whichever launcher ran them, and reads only
    files, so jobs run by joblib or submitit in other processes are reported the same way."""

    plotter = None  # runner.sweep.plot_worker.PlotWorker: imports matplotlib while the jobs run

    def __getstate__(self) -> dict:
        """Launchers that run jobs elsewhere (joblib, submitit) pickle Hydra's callbacks with each job;
        the helper process belongs to this one."""
        return {**self.__dict__, "plotter": None}

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        from runner.core.extras import install_hint, is_installed

        if not is_installed("matplotlib"):  # said before the jobs run, so a user can stop and install it
            log.warning("sweep.png will not be drawn: matplotlib is not installed; %s", install_hint("matplotlib"))
            return
        from runner.sweep.plot_worker import start_plot_worker

        self.plotter = start_plot_worker()

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        from runner.sweep.report import write_report

        sweep_dir = Path(str(config.hydra.sweep.dir))
        plotter, self.plotter = self.plotter, None
        try:
            report = write_report(sweep_dir, plotter)
        except Exception:  # the jobs' own outputs are intact; a report failure must not hide them
            log.exception("could not write the sweep report in %s", sweep_dir)
            print(f"sweep report failed; rebuild it with: python -m runner.sweep {sweep_dir}")
            return
        finally:
            if plotter is not None:
                plotter.close()
        print("\n".join(report.summary_lines()))
