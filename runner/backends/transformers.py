"""backend=transformers (the default): every task through a transformers pipeline (runner/models/loading.py)."""

from __future__ import annotations

from runner.backends.base import Backend
from runner.core.views import StepView


class Transformers(Backend):
    def load(self, step: StepView, spec):
        from runner.models.loading import load_pipeline

        return load_pipeline(step, spec)


BACKEND = Transformers("transformers")
