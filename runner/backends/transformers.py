"""backend=transformers (the default): every task through a transformers pipeline (runner/models/loading.py)."""

from __future__ import annotations

from runner.backends.base import Backend


class Transformers(Backend):
    def load(self, cfg: dict, spec):
        from runner.models.loading import load_pipeline

        return load_pipeline(cfg, spec)


BACKEND = Transformers("transformers")
