"""The sweep report: when `run -m ...` ends, one table, JSON/CSV and a plot of every point.

    callback.py  SweepReport, the Hydra callback (conf/config.yaml: hydra.callbacks.sweep_report)
    points.py    read each job folder's metrics.json / run.json / .hydra/overrides.yaml
    report.py    groups, speedups, recommendation; sweep.csv, sweep.json, sweep.md
    plot.py      sweep.png (matplotlib, imported only when drawing)

`python -m runner.sweep <multirun dir>` rebuilds the report from the files.
"""
from runner.sweep.callback import SweepReport
from runner.sweep.report import Report, build_report, write_report

__all__ = ["SweepReport", "Report", "build_report", "write_report"]
