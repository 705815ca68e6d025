"""The Ray cluster a run uses: the one this process is already connected to, the one engine.address
names (auto: the cluster of this machine's `ray start`), or a local one started for the run and shut
down at its end (only what we started is shut down)."""

from __future__ import annotations

import logging
import os
import time
import warnings
from contextlib import contextmanager
from typing import Iterator

from runner.core.errors import RunError
from runner.config.engine import EngineSettings

log = logging.getLogger(__name__)


@contextmanager
def ray_cluster(engine: EngineSettings, steps: int) -> Iterator[dict]:
    """Yields what metrics.json says of the cluster: address, started, startup_seconds, resources.
    `steps`: the stages, each with its own pool of engine.actors actors."""
    import ray

    from runner.outputs.runlog import adopt_library_logger

    adopt_library_logger("ray")  # in a `run` job: Ray's Python log lines to run.log (the screen: verbose=true)
    started_at = time.perf_counter()
    started = _connect(engine, steps)
    try:
        resources = ray.cluster_resources()
        _check_resources(engine, steps, resources, started)
        yield {
            "address": engine.address,
            "started_cluster": started,
            "startup_seconds": round(time.perf_counter() - started_at, 4),
            "resources": {k: v for k, v in resources.items() if k in ("CPU", "GPU")},
        }
    finally:
        if started:
            ray.shutdown()


def _connect(engine: EngineSettings, steps: int) -> bool:
    """Connect; True when we started the cluster (and so shut it down at the end)."""
    import ray

    if ray.is_initialized():
        log.info("engine=ray: using the Ray cluster this process is connected to")
        return False
    if engine.address is not None:
        log.info("engine=ray: joining the Ray cluster at %s", engine.address)
        ray.init(address=engine.address, log_to_driver=False, configure_logging=False)
        return False
    num_cpus = engine.num_cpus or os.cpu_count()
    check_fits(engine, steps, num_cpus)
    log.info("engine=ray: starting a local Ray cluster (%d CPUs)", num_cpus)
    ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
    return True


def _check_resources(engine: EngineSettings, steps: int, resources: dict, started: bool) -> None:
    """Our own cluster without the GPUs asked for would wait forever; a joined one may still grow."""
    gpus = steps * engine.actors * engine.gpus_per_actor
    if started and gpus > resources.get("GPU", 0):
        raise RunError(
            f"engine=ray: the actors need {gpus:g} GPUs; this machine's Ray sees {resources.get('GPU', 0):g}",
            "lower engine.actors or engine.gpus_per_actor (0: CPU actors), or join a cluster with GPUs",
        )
    if not started and resources.get("CPU", 0) < steps * engine.actors * engine.cpus_per_actor:
        log.warning(
            "engine=ray: %d stage(s) x %d actors x %g CPUs is more than the cluster's %g CPUs now: "
            "the run waits until the cluster grows",
            steps,
            engine.actors,
            engine.cpus_per_actor,
            resources.get("CPU", 0),
        )


def check_fits(engine: EngineSettings, steps: int, num_cpus: int) -> None:
    """The actors a local cluster must hold at once: Ray Data would wait for them forever."""
    needed = steps * engine.actors * engine.cpus_per_actor
    if needed > num_cpus:
        raise RunError(
            f"engine=ray: {steps} stage(s) x engine.actors={engine.actors} x engine.cpus_per_actor="
            f"{engine.cpus_per_actor:g} need {needed:g} CPUs; the local cluster has {num_cpus}",
            "lower engine.actors or engine.cpus_per_actor (e.g. 0.5), or raise engine.num_cpus",
        )


@contextmanager
def ordered_data_context() -> Iterator[None]:
    """Ray Data keeps blocks in input order (the driver writes them as they come), makes each chunk a
    block of its own (else it packs small rows into one block of up to 128 MB, and one actor gets
    every chunk of it), and draws no bars of its own (the run has its bar); the driver process's
    previous settings come back afterwards."""
    from ray.data import DataContext

    from runner.outputs.runlog import adopt_library_logger

    # Ray Data's logger prints through a handler of its own ("Progress bars disabled ..."): to run.log
    adopt_library_logger("ray.data")
    context = DataContext.get_current()
    previous = (context.execution_options.preserve_order, context.enable_progress_bars, context.target_max_block_size)
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    context.target_max_block_size = 1  # bytes: any chunk is larger, so each one ends its block
    ray_data_log = logging.getLogger("ray.data")
    level = ray_data_log.level
    ray_data_log.setLevel(max(level, logging.WARNING))  # its "Starting execution ..." lines: not the run's news
    try:
        with warnings.catch_warnings():
            # Ray counts the one read task as one input and warns that the pool cannot fill; it streams
            # one block per chunk, so every actor gets work.
            warnings.filterwarnings("ignore", message="The minimum number of concurrent actors")
            yield
    finally:
        ray_data_log.setLevel(level)
        (context.execution_options.preserve_order, context.enable_progress_bars, context.target_max_block_size) = (
            previous
        )
