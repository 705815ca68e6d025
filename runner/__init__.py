"""hf-pipeline-runner: declarative Hydra-configured runs of Hugging Face transformers pipelines.

`runner.run(...)` and `runner.compose(...)` are the Python API (runner/api.py). They are looked up
lazily, so `import runner` imports neither Hydra nor torch nor transformers; a run imports them.
"""

from __future__ import annotations

import os

# torch's CPU wheels run OpenMP (libgomp), whose idle threads spin on their core before they sleep. With
# another process on that core, the spinning takes turns with it and a run crawls: benchmarks/threads.py
# measured 2.6-3.3x torch's default throughput with passive waiting on a 2-core machine, busy or not,
# and more than threads=1. libgomp reads this when torch loads it, so it is set here, before any import
# of torch by the runner, and only when the user has not set it (OMP_WAIT_POLICY=ACTIVE brings back
# torch's behaviour). A session that imported torch before the runner keeps what it had.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__all__ = ["run", "compose", "RunResult"]


def __getattr__(name: str):
    if name in __all__:
        from runner import api

        return getattr(api, name)
    raise AttributeError(f"module 'runner' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
