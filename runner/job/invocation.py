"""What one invocation of the runner (a `run` command, a runner.run() call, a child process) knows
across the jobs it runs. It is created by the entry point and passed down explicitly; nothing about
a run lives in module globals, so two API calls, or a test and the command, never share state by accident."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass
class OomLimits:
    """The sizes that ran out of memory, per sweep point minus its size: a sweep skips the points of
    the same combination that are at least as large (bench.skip_after_oom).

    A point's size is its rows per batch and, with batching.max_tokens, its token budget (None:
    unbounded). A point at least as large in both ran out of memory too, for sure; one that is
    larger in one and smaller in the other (more rows, fewer tokens) may fit, so it runs."""

    sizes: dict[str, list[tuple[int, int | None]]] = field(default_factory=dict)

    def record(self, plan, batch_size: int) -> None:
        """`plan`: the point's (runner.plan.Plan). `batch_size`: the rows of the batch that ran out of memory.
        With a token budget, batches differ in rows, so the point's own batch_size (the most rows a batch
        may hold) counts."""
        own, tokens = plan.views.run.batch_size, plan.views.batching.max_tokens
        rows = own if tokens is not None and isinstance(own, int) else batch_size
        self.sizes.setdefault(point_key(plan), []).append((rows, tokens))

    def covering(self, plan) -> tuple[int, int | None] | None:
        """The size that ran out of memory and that this point is at least as large as, or None."""
        rows, tokens = plan.views.run.batch_size, plan.views.batching.max_tokens
        if not isinstance(rows, int):
            return None
        for failed_rows, failed_tokens in self.sizes.get(point_key(plan), []):
            if rows >= failed_rows and _at_least(tokens, failed_tokens):
                return failed_rows, failed_tokens
        return None


def _at_least(tokens: int | None, failed: int | None) -> bool:
    if tokens is None:  # no budget: as large as any
        return True
    return failed is not None and tokens >= failed


def point_key(plan) -> str:
    """A sweep point minus its size: points with the same key differ only in batch size and token budget.
    The whole config is its identity, but the keys of its size (and those that never change outputs)."""
    rest = {k: v for k, v in plan.cfg.items() if k not in ("batch_size", "bench", "progress", "resume")}
    rest["batching"] = {k: v for k, v in asdict(plan.views.batching).items() if k != "max_tokens"}
    return json.dumps(rest, sort_keys=True, default=str)


@dataclass
class Invocation:
    exit_codes: list[int] = field(default_factory=list)  # one per job this process ran (`run -m`: many)
    oom: OomLimits = field(default_factory=OomLimits)
    # The loaded pipelines this invocation's jobs share (a sweep loads its model once); created on first
    # use so that `run --help` and config errors never import the model-loading code.
    cache: object | None = None
    # runner.config.search.ConfigSession per search path: a sweep's jobs in this process share one
    # (its group options and the config dirs' git state are read once)
    config_sessions: dict = field(default_factory=dict)

    def __getstate__(self) -> dict:
        """Pickled without its loaded pipelines: a launcher that runs jobs elsewhere pickles the task
        function, and submitit's checkpoint pickles it again when it requeues a job (runner.repro.requeue),
        which would put the model's weights into the pickle."""
        return {**self.__dict__, "cache": None}

    def pipelines(self):
        """This invocation's runner.backends.cache.PipelineCache."""
        if self.cache is None:
            from runner.backends.cache import PipelineCache

            self.cache = PipelineCache()
        return self.cache

    def exit_code(self) -> int:
        """`run -m` exits with the highest exit code of its jobs; no job ran: 0."""
        return max(self.exit_codes, default=0)
