"""The tasks the runner knows, collected from their definitions (tasks/base.py says what a task is).

Adding a task: its definition in the family module that fits (text, audio, vision, seq2seq), its
parameter schema in schemas/tasks/<id>.schema.json, and a tiny builder in models/tiny/ when no
existing architecture serves it. Static data: importing this package imports no ML library.
"""

from __future__ import annotations

from runner.tasks import audio, seq2seq, text, vision
from runner.tasks.base import AUDIO, DATA, IMAGE, MODALITIES, TEXT, Port, Task

TASKS: dict[str, Task] = {task.id: task for family in (text, audio, vision, seq2seq) for task in family.TASKS}

ALIASES: dict[str, str] = {alias: task.id for task in TASKS.values() for alias in task.aliases}

__all__ = [
    "AUDIO",
    "DATA",
    "IMAGE",
    "MODALITIES",
    "TEXT",
    "Port",
    "Task",
    "TASKS",
    "ALIASES",
    "canonical_task_id",
    "all_task_names",
    "get_task",
]


def canonical_task_id(name: str) -> str | None:
    """The task id for a task id or alias, or None when neither."""
    if name in TASKS:
        return name
    return ALIASES.get(name)


def all_task_names() -> list[str]:
    return sorted([*TASKS, *ALIASES])


def get_task(name: str) -> Task:
    return TASKS[canonical_task_id(name) or name]
