"""Rules of `batching.max_tokens` that span keys and steps, which JSON Schema cannot say."""

from __future__ import annotations

from runner.core.errors import ConfigError
from runner.core.views import ConfigViews, StepView
from runner.tasks import TASKS, TEXT

KEY = "batching.max_tokens"


def check_token_budget(views: ConfigViews, steps: dict[str, StepView]) -> None:
    """A token budget cuts a window sorted by length, counts text tokens, and packs several rows per
    batch: it needs sort_by_length, a step that takes text, and room for more than one row."""
    max_tokens = views.batching.max_tokens
    if max_tokens is None:
        return
    if not views.batching.sort_by_length:
        raise ConfigError(
            KEY,
            f"batching.max_tokens={max_tokens} needs batching.sort_by_length=true",
            "a token budget cuts a window of rows sorted by length: add batching.sort_by_length=true, "
            "or drop batching.max_tokens for batches of batch_size rows",
        )
    text_steps = [step for step in steps.values() if _takes_text(step)]
    if not text_steps:
        tasks = ", ".join(
            f"{step.task.name} takes {'/'.join(TASKS[step.task.name].inputs.values())}" for step in steps.values()
        )
        raise ConfigError(
            KEY,
            f"counts text tokens, and no step of this run takes text only ({tasks})",
            "drop batching.max_tokens: batch_size sets the rows per batch",
        )
    if all(step.run.batch_size == 1 for step in text_steps):
        raise ConfigError(
            KEY,
            "batch_size=1 puts one row in every batch, so the token budget has nothing to pack",
            "batch_size caps the rows of a token-budget batch: set it to the most rows a batch may hold, "
            "e.g. batch_size=64",
        )


def _takes_text(step: StepView) -> bool:
    return all(modality == TEXT for modality in TASKS[step.task.name].inputs.values())
