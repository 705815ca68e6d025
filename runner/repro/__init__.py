"""Reproducibility: run.json (record), resume=, a requeued scheduler job resuming its own dir (requeue),
rerun=, merge= of sharded runs, and seeding (determinism)."""
