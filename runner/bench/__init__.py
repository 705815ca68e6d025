"""Benchmark helpers, each in its own module and none importing torch at import time:

- oom.py       is an error an out-of-memory, free memory after one, inject fake OOMs for tests
- memory.py    reset and read peak memory per measured point (RSS on CPU, CUDA allocator peaks)
- autobatch.py find the largest batch size that fits (double, then bisect) from worst-case inputs
- stats.py     per-batch timing with warm-up excluded, throughput and latency percentiles
- wer.py       word error rate (word-level Levenshtein after lower-casing and stripping punctuation)
"""
