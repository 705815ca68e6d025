"""What one invocation of the runner (a `run` command, a runner.run() call, a child process) knows
across the jobs it runs. It is created by the entry point and passed down explicitly; nothing about
a run lives in module globals, so two API calls, or a test and the command, never share state by accident."""
from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass
class OomLimits:
    """The smallest batch size that ran out of memory, per sweep point minus its batch size: a sweep
    skips the larger batch sizes of that point (bench.skip_after_oom)."""

    smallest: dict[str, int] = field(default_factory=dict)

    def record(self, cfg: dict, batch_size: int) -> None:
        key = point_key(cfg)
        self.smallest[key] = min(batch_size, self.smallest.get(key, batch_size))

    def limit(self, cfg: dict) -> int | None:
        return self.smallest.get(point_key(cfg))


def point_key(cfg: dict) -> str:
    """A sweep point minus its batch size: points with the same key differ only in batch size."""
    rest = {k: v for k, v in cfg.items() if k not in ("batch_size", "bench", "progress", "resume")}
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

    def pipelines(self):
        """This invocation's runner.models.cache.PipelineCache."""
        if self.cache is None:
            from runner.models.cache import PipelineCache

            self.cache = PipelineCache()
        return self.cache

    def exit_code(self) -> int:
        """`run -m` exits with the highest exit code of its jobs; no job ran: 0."""
        return max(self.exit_codes, default=0)
