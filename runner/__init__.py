"""hf-pipeline-runner: declarative Hydra-configured runs of Hugging Face transformers pipelines.

`runner.run(...)` and `runner.compose(...)` are the Python API (runner/api.py). They are looked up
lazily, so `import runner` imports neither Hydra nor torch nor transformers; a run imports them.
"""
from __future__ import annotations

__all__ = ["run", "compose", "RunResult"]


def __getattr__(name: str):
    if name in __all__:
        from runner import api

        return getattr(api, name)
    raise AttributeError(f"module 'runner' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
