"""The `engine` config (conf/engine/local.yaml, ray.yaml), read and checked without importing ray."""

from __future__ import annotations

from dataclasses import dataclass

from runner.core.extras import install_hint, is_installed
from runner.core.errors import ConfigError

LOCAL, RAY = "local", "ray"


@dataclass(frozen=True)
class EngineSettings:
    name: str = LOCAL
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
    def on_ray(self) -> bool:
        return self.name == RAY

    def actor_threads(self, threads: int | None) -> int:
        """torch threads in an actor: `threads` when set, else the CPUs Ray reserved for it."""
        return threads or max(1, int(self.cpus_per_actor))


def check_engine(cfg: dict) -> None:
    """ConfigError (exit code 2, before any run dir or import of ray) for engine=ray without the
    [ray] extra, and for keys that have no meaning on Ray Data actors."""
    settings = EngineSettings.from_config(cfg)
    if not settings.on_ray:
        return
    if not is_installed("ray"):
        raise ConfigError(
            "engine",
            "engine=ray needs ray (with its data extra), which is not installed",
            f"{install_hint('ray')}; or pick engine=local",
        )
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


def check_engine_steps(cfg: dict, steps: dict[str, dict]) -> None:
    """batch_size=auto searches in one process with the model loaded; each Ray actor would search alone."""
    if not EngineSettings.from_config(cfg).on_ray:
        return
    for name, step in steps.items():
        if step["batch_size"] == "auto":
            key = "batch_size" if len(steps) == 1 else f"graph.steps.{name}.batch_size"
            raise ConfigError(
                key,
                "batch_size=auto is not available with engine=ray (each actor would search on its own)",
                "give a number: find it with engine=local batch_size=auto first",
            )
