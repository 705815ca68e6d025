"""The Backend unit: what computes a step's outputs once its rows are prepared.

A backend loads a step's model and returns a LoadedPipeline whose `pipe` is called like a transformers
pipeline (`pipe(inputs, batch_size=..., **params)`, one output per input, in the task's own output
format), so the engine, sinks, resume, rerun, merge, sweeps and tracking work unchanged whatever the
backend. A backend says which tasks it runs (`tasks`, None: every task), the library its optional
extra installs (`library`, checked without importing it), the task parameters only it reads
(`own_params`), and its own config rules (`check`). Static data: importing this imports no ML library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runner.core.views import StepView


@dataclass(frozen=True)
class Backend:
    name: str
    tasks: tuple[str, ...] | None = None  # task ids it runs; None: every task
    library: str | None = None  # import name of the library its extra installs (runner.core.extras.EXTRAS)
    own_params: dict[str, tuple[str, ...]] = field(default_factory=dict)  # task id -> params only it reads

    def check(self, step: StepView) -> None:
        """ConfigError for a single-task config this backend cannot honour (called after the generic checks)."""

    def load(self, step: StepView, spec):
        """The step's LoadedPipeline (runner.models.loading)."""
        raise NotImplementedError

    def identity(self, step: StepView) -> dict:
        """Config keys the loaded model depends on beyond the shared ones (runner.backends.cache.load_key)."""
        return {}
