"""The `engine` config (conf/engine/local.yaml, ray.yaml), read and checked without importing ray."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module

from runner.core.extras import install_hint, is_installed
from runner.core.errors import ConfigError


@dataclass(frozen=True)
class Engine:
    """An engine unit: where a plan's rows are computed. Each is registered once in ENGINES and chosen by
    `engine=<name>` (conf/engine/<name>.yaml); the schema's enum is filled in from ENGINES."""

    name: str
    # "module:function" of the engine room above this one, imported when a run starts (as Hydra's _target_
    # is): the config room checks engines without importing them, and importing ray costs seconds.
    execute: str
    extra: str | None = None  # the optional extra it needs (runner.core.extras)
    reads_iterators: bool = True  # an in-process iterator (the API's inputs=) can feed it
    check: Callable[[dict, dict[str, dict]], None] | None = None  # config-time checks: (cfg, steps) -> ConfigError

    def executor(self) -> Callable:
        module, function = self.execute.split(":")
        return getattr(import_module(module), function)


@dataclass(frozen=True)
class EngineSettings:
    name: str = "local"
    address: str | None = None  # None: a local cluster started for the run; "auto" or ray://...: join one
    actors: int = 1  # per step
    cpus_per_actor: float = 1
    gpus_per_actor: float = 0
    num_cpus: int | None = None  # the local cluster's CPUs (None: every core)
    max_restarts: int = 3

    @classmethod
    def from_config(cls, cfg: dict) -> EngineSettings:
        """A config saved before the key existed (rerun=, resume=) runs locally, as it did then."""
        node = dict(cfg.get("engine") or {})
        return cls(**{key: node[key] for key in cls.__dataclass_fields__ if key in node})

    @property
    def engine(self) -> Engine:
        return ENGINES[self.name]

    def actor_threads(self, threads: int | None) -> int:
        """torch threads in an actor: `threads` when set, else the CPUs Ray reserved for it."""
        return threads or max(1, int(self.cpus_per_actor))


def check_engine(settings: EngineSettings, cfg: dict, steps: dict[str, dict]) -> None:
    """ConfigError (exit code 2, before any run dir or import of the engine's library): its extra missing,
    or keys it cannot honour."""
    engine = settings.engine
    if engine.extra and not is_installed(engine.extra):
        raise ConfigError(
            "engine",
            f"engine={engine.name} needs {engine.extra} (with its data extra), which is not installed",
            f"{install_hint(engine.extra)}; or pick engine=local",
        )
    if engine.check:
        engine.check(cfg, steps)


def _check_ray(cfg: dict, steps: dict[str, dict]) -> None:
    if cfg["bench"]["isolation"] == "process":
        raise ConfigError(
            "bench.isolation",
            "engine=ray already runs each step in its own actor processes; process isolation is for engine=local",
            "use bench.isolation=none with engine=ray",
        )
    if cfg["bench"]["enabled"] is True:
        raise ConfigError(
            "bench.enabled",
            "benchmark mode (warm-up, repeats) times one process's batches; engine=ray spreads them over actors",
            "use engine=local to benchmark a point; engine=ray reports rows/s per actor in metrics.json's engine block",
        )
    # batch_size=auto searches in one process with the model loaded; each Ray actor would search alone.
    for name, step in steps.items():
        if step["batch_size"] == "auto":
            key = "batch_size" if len(steps) == 1 else f"graph.steps.{name}.batch_size"
            raise ConfigError(
                key,
                "batch_size=auto is not available with engine=ray (each actor would search on its own)",
                "give a number: find it with engine=local batch_size=auto first",
            )


ENGINES: dict[str, Engine] = {
    engine.name: engine
    for engine in (
        Engine("local", "runner.engine:execute"),
        # The same plan on Ray Data actors; rows are read in a Ray task, so an in-process iterator cannot feed it.
        Engine("ray", "runner.engine.ray.driver:execute", extra="ray", reads_iterators=False, check=_check_ray),
    )
}
