"""hf-pipeline-runner: declarative Hydra-configured runs of Hugging Face transformers pipelines.

`runner.run(...)` and `runner.compose(...)` are the Python API (runner/api.py). They are looked up
lazily, so `import runner` imports neither Hydra nor torch nor transformers; a run imports them.
"""

from __future__ import annotations

import os

# torch's CPU wheels run OpenMP (libgomp), whose idle threads spin on their core before they sleep. With
# another process on that core, the spinning takes turns with it and a run crawls. benchmarks/threads.py
# (MiniLM, 2 cores): passive waiting gave 1.41x torch's default beside one busy core, as threads=1 did, and
# 1.01x on an idle machine, where threads=1 gave 0.57x. libgomp reads this when torch loads it, so it is
# set here, before any import of torch by the runner, and only when the user has not set it
# (OMP_WAIT_POLICY=ACTIVE brings back torch's behaviour). A session that imported torch first keeps its own.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__all__ = ["run", "compose", "RunResult"]


def __getattr__(name: str):
    if name in __all__:
        from runner import api

        return getattr(api, name)
    raise AttributeError(f"module 'runner' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
