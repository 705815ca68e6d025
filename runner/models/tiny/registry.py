"""Which builder makes each tiny architecture, and which tasks it serves.

A family module (text, audio, vision, seq2seq) registers every builder where it defines it:

    @builds("gpt2", tasks=("text-generation",))
    def _build_gpt2(task: str, out: Path, seed: int) -> None: ...

A builder writes a complete `save_pretrained` folder for `task` into `out`, with torch seeded by `seed`
right before the model is constructed. The package __init__ imports every family module, so the
tables below are complete once `runner.models.tiny` is imported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

Builder = Callable[[str, Path, int], None]

# arch -> its builder; tiny_model_dir looks the builder up here at build time.
BUILDERS: dict[str, Builder] = {}
# arch -> the tasks its builder serves, in registration order.
ARCH_TASKS: dict[str, tuple[str, ...]] = {}


def builds(arch: str, tasks: tuple[str, ...]) -> Callable[[Builder], Builder]:
    """Register the decorated function as the builder of `arch`, for `tasks`."""
    if not tasks:
        raise ValueError(f"tiny architecture {arch!r} must serve at least one task")

    def register(builder: Builder) -> Builder:
        if arch in BUILDERS:  # two family modules claiming one name would silently shadow a recipe
            raise ValueError(f"tiny architecture {arch!r} is registered twice")
        BUILDERS[arch] = builder
        ARCH_TASKS[arch] = tuple(tasks)
        return builder

    return register
