"""The `task` config group, derived from the task definitions (runner/tasks) instead of YAML files.

Every task id and alias becomes a `task/<name>` entry of Hydra's ConfigStore: `{name: <task id>,
params: {<each parameter of its schema>: null}}`, null meaning "the pipeline's default". So `+task=asr`,
`--help`, completion, the allowed-values lists and a user's own `task/` presets (which may build on
ours through their defaults list) all see the same tasks, and a new task needs no YAML. Hydra hands
the ConfigStore to the jobs its launchers run in other processes (joblib, submitit, Ray), so those see
the group too.
"""

from __future__ import annotations

from runner.tasks import TASKS, Task

GROUP = "task"
PROVIDER = "runner.tasks"


def task_node(task: Task) -> dict:
    from runner.config.validate import load_schema, task_schema_name

    parameters = load_schema(task_schema_name(task.id)).get("properties") or {}
    return {"name": task.id, "params": {name: None for name in parameters}}


def register_task_group() -> None:
    """Store every task and alias in Hydra's ConfigStore (again: storing is idempotent)."""
    from hydra.core.config_store import ConfigStore

    store = ConfigStore.instance()
    for task in TASKS.values():
        node = task_node(task)
        for name in (task.id, *task.aliases):
            store.store(name=name, node=node, group=GROUP, provider=PROVIDER)
