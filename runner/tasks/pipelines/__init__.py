"""Pipelines the runner provides where the installed transformers has none (transformers 5 removed them).

They plug in through transformers' public registry (`PIPELINE_REGISTRY.register_pipeline`), under
"runner-<task>" names: transformers 5 refuses the original names outright, even for registered
pipelines. On 4.x the native pipelines exist and are used instead; nothing is registered there.
Importing this package imports nothing heavy; `register_missing()` does.
"""

from __future__ import annotations

PREFIX = "runner-"


def registered_name(task_id: str) -> str:
    return PREFIX + task_id


def register_missing(task_id: str) -> str | None:
    """Register our pipeline for `task_id` when the installed transformers lacks one; return its name."""
    import importlib

    import transformers
    from transformers.pipelines import PIPELINE_REGISTRY, get_supported_tasks

    from runner.tasks import TASKS

    supported = set(get_supported_tasks())
    port = TASKS[task_id].port if task_id in TASKS else None
    if port is None or task_id in supported:
        return None
    name = registered_name(task_id)
    if name not in supported:
        module = importlib.import_module(f"{__name__}.{port.module}")
        PIPELINE_REGISTRY.register_pipeline(
            name,
            pipeline_class=getattr(module, port.pipeline_class),
            pt_model=getattr(transformers, port.auto_model),
            type=port.kind,
        )
    return name
