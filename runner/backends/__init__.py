"""The compute backends (`backend=` config group, conf/backend/<name>.yaml), collected from their modules.

Adding a backend: a module here defining BACKEND (a runner.backends.base.Backend), its conf file, its
name in the schema's enum (schemas/config.schema.json, checked against this registry by the tests) and,
when it needs a library, that library in runner.core.extras.EXTRAS. Static data: importing this
package imports no ML library.
"""

from __future__ import annotations

from runner.backends import ctranslate2, transformers
from runner.backends.base import Backend
from runner.core.views import StepView
from runner.core.errors import ConfigError

BACKENDS: dict[str, Backend] = {module.BACKEND.name: module.BACKEND for module in (transformers, ctranslate2)}
DEFAULT = transformers.BACKEND.name

__all__ = ["BACKENDS", "DEFAULT", "Backend", "backend_for", "check_backend"]


def backend_for(step: StepView) -> Backend:
    return BACKENDS[step.backend.name]


def check_backend(step: StepView) -> None:
    """ConfigError, before any model loads, for a task the backend does not run (naming both), a task
    parameter only another backend reads, the backend's extra missing, or the backend's own rules."""
    from runner.core.extras import require

    backend = backend_for(step)
    task = step.task.name
    if backend.tasks is not None and task not in backend.tasks:
        raise ConfigError(
            "backend",
            f"backend={backend.name} does not support task {task}",
            f"backend={backend.name} runs: {', '.join(backend.tasks)}; use backend={DEFAULT} for {task}",
        )
    params = step.task.params
    for other in BACKENDS.values():
        for key in other.own_params.get(task, ()) if other is not backend else ():
            if key in params:
                raise ConfigError(
                    f"task.params.{key}",
                    f"is read by backend={other.name} only; this run uses backend={backend.name}",
                    f"add backend={other.name}, or drop task.params.{key}",
                )
    if backend.library is not None:
        require(backend.library, "backend", f"backend={backend.name}")
    backend.check(step)
