"""The files of a run dir, named in one place. Every writer and reader (the engine, run.json, resume,
rerun, merge, the sweep report, the Python API) spells them through these names."""
from __future__ import annotations

PREDICTIONS = "predictions.jsonl"  # one line per input row, in input order; what resume reads back
ERRORS = "errors.jsonl"            # one line per row that failed
METRICS = "metrics.json"           # counts, timings, memory, placement, status
RECORD = "run.json"                # status, versions, git and config provenance, hashes, the config
RERUN = "rerun.json"               # a rerun's verdict against its original
LOG = "run.log"                    # the log, tracebacks included
CHILD_LOG = "child.log"            # bench.isolation=process: the child's output
CHILD_REQUEST = "child_request.json"
MERGE = "merge.json"               # a merged sharded run's summary
TABLES = ("predictions.parquet", "predictions.csv")  # output.format exports of PREDICTIONS
STAGES = ".stages"                 # graph.free_finished_models: state between stages

# Everything a run may write into its dir (the Python API clears these when told to overwrite).
WRITTEN = (PREDICTIONS, ERRORS, METRICS, RECORD, RERUN, LOG, CHILD_LOG, CHILD_REQUEST, *TABLES)
