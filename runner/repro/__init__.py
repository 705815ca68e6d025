"""Reproducibility: run.json (record), resume=, rerun=, merge= of sharded runs, and seeding (determinism)."""
