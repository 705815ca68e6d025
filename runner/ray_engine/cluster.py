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

from runner.ray_engine.settings import EngineSettings

log = logging.getLogger(__name__)


@contextmanager
def ray_cluster(engine: EngineSettings) -> Iterator[dict]:
    """Yields what metrics.json says of the cluster: address, started, startup_seconds, resources."""
    import ray

    started_at = time.perf_counter()
    started = False
    if ray.is_initialized():
        log.info("engine=ray: using the Ray cluster this process is connected to")
    elif engine.address is None:
        num_cpus = engine.num_cpus or os.cpu_count()
        log.info("engine=ray: starting a local Ray cluster (%d CPUs)", num_cpus)
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
        started = True
    else:
        log.info("engine=ray: joining the Ray cluster at %s", engine.address)
        ray.init(address=engine.address, log_to_driver=False, configure_logging=False)
    info = {"address": engine.address, "started_cluster": started,
            "startup_seconds": round(time.perf_counter() - started_at, 4),
            "resources": {k: v for k, v in ray.cluster_resources().items() if k in ("CPU", "GPU")}}
    try:
        yield info
    finally:
        if started:
            ray.shutdown()


@contextmanager
def ordered_data_context() -> Iterator[None]:
    """Ray Data keeps blocks in input order (the driver writes them as they come), makes each chunk a
    block of its own (else it packs small rows into one block of up to 128 MB, and one actor gets
    every chunk of it), and draws no bars of its own (the run has its bar); the driver process's
    previous settings come back afterwards."""
    from ray.data import DataContext

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
        (context.execution_options.preserve_order, context.enable_progress_bars,
         context.target_max_block_size) = previous
