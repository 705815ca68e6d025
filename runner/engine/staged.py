"""graph.free_finished_models: one step at a time over all rows, so one model is in memory at a time.

Each stage's surviving rows and outputs go to a state file that the next stage reads back beside
the source; the last stage writes predictions. A stage's model is freed when the stage ends."""

from __future__ import annotations

import logging
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

from runner.engine.loop import Finish, RowLoop
from runner.engine.probe import run_probe
from runner.engine.pipeline_step import to_jsonable
from runner.engine.rows import Item
from runner.outputs.rundir import STAGES
from runner.outputs.sinks import JsonlSink

if TYPE_CHECKING:
    from runner.engine.execution import Execution

log = logging.getLogger(__name__)


def run_staged(execution: Execution, loop: RowLoop, write: Finish) -> None:
    """The execution holds the first step, loaded; each later one is loaded when its stage starts.
    No benchmark budget here: a stage that stopped early would leave the next without rows."""
    plan, steps = execution.plan, execution.steps
    state_dir = execution.run_dir / STAGES
    names = list(plan.steps)
    previous: Path | None = None
    for position, name in enumerate(names):
        run = steps[0] if position == 0 else execution.load_step(name)
        state_path = state_dir / f"{position}-{name}.jsonl"
        with JsonlSink(state_path) as state:
            finish = write if position == len(names) - 1 else _state_writer(state)
            # The chunk size follows the steps loaded so far.
            with closing(execution.chunks([run], previous)) as chunks:
                for chunk in chunks:
                    loop.run_chunk(chunk, [run], finish)
        if previous is not None:
            previous.unlink()
        previous = state_path
        run_probe(run)  # quantization=int8: while the stage's model is still there
        run.step.pipe = run.loaded.pipe = None
        execution.cache.forget(run.view)
        log.info("step %s done: model freed", name)
    previous.unlink()
    state_dir.rmdir()


def _state_writer(state: JsonlSink) -> Finish:
    def keep(item: Item) -> None:
        state.write({"index": item.row.index, "outputs": to_jsonable(item.outputs)})

    return keep
