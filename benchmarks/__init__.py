"""Benchmark scripts (not shipped): `python -m benchmarks` or `python benchmarks/run.py` prints every ratio."""
