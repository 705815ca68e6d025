"""The sweep report: when `run -m ...` ends, one table, JSON/CSV and a plot of every point.

    callback.py  SweepReport, the Hydra callback (conf/config.yaml: hydra.callbacks.sweep_report)
    points.py    read each job folder's metrics.json / run.json / .hydra/overrides.yaml
    report.py    groups, speedups; sweep.csv, sweep.json, sweep.md (with batch_size=auto's trials apart)
    quality.py   each point's agreement with a reference point (sweep.reference), from predictions.jsonl
    recommend.py the recommended batch size, only when it beats the others by more than their noise,
                 among points whose agreement reaches sweep.min_agreement
    plot.py      sweep.png (matplotlib, imported only when drawing): a tick per batch size, error bars

`python -m runner.sweep <multirun dir>` rebuilds the report from the files.
"""

from runner.sweep.callback import SweepReport
from runner.sweep.report import Report, build_report, write_report

__all__ = ["SweepReport", "Report", "build_report", "write_report"]
