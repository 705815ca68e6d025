"""Stream rows from the source through the steps into the sinks: batching, length bucketing, timing,
out-of-memory detection, and the error policy.

No Hydra here: the CLI, the Python API and the tests all call `execute` with a plan.
Rows travel in chunks (a few batches, or a bucketing window): each step runs over the chunk's rows
that are still alive, then every finished row is written, so memory holds one chunk whatever the
dataset's size. A row that cannot be prepared or that breaks its batch fails alone (errors.jsonl
with its id, index, step and error; or skipped, or the run stops: `on_error`); every other row
reaches predictions.jsonl in input order. An out-of-memory error is never retried row by row: it
ends the run (or the sweep point) as `oom`, which the caller records.
"""
from __future__ import annotations

import json
import logging
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from runner.bench.autobatch import input_size
from runner.bench.memory import peak_memory, reset_peak_memory
from runner.bench.stats import latency_summary
from runner.errors import RunError
from runner.rundir import ERRORS, METRICS, PREDICTIONS, STAGES
from runner.sinks import JsonlSink, write_json
from runner.sources import Row
from runner.steps import PipelineStep, field_value, to_jsonable
from runner.tasks import TASKS, TEXT

log = logging.getLogger(__name__)

# Rows handed to the pipeline per call, in batches: big enough that the pipeline's own DataLoader
# batching pays off, small enough that one failing row costs little to isolate.
CHUNK_BATCHES = 4
# ... and at least this many rows, so that at batch size 1 the per-call cost of a pipeline (its
# DataLoader, its threads) is spread over many rows as in one long call.
MIN_CHUNK_ROWS = 64
# batch_size=auto tries batches made of this many of the probe's longest rows, repeated.
AUTO_DISTINCT_ROWS = 8
# Tasks whose output is generated text: benchmark mode counts its tokens for tokens/s.
GENERATIVE = {"text-generation", "summarization", "translation", "text2text-generation",
              "automatic-speech-recognition", "image-to-text", "image-text-to-text"}


class OutOfMemory(Exception):
    """A batch ran out of memory: the run (or sweep point) ends with status `oom`."""

    def __init__(self, step: str, batch_size: int, error: BaseException):
        self.step, self.batch_size, self.error = step, batch_size, error
        super().__init__(f"step {step}: out of memory at batch size {batch_size}: {type(error).__name__}: {error}")


class RowFailed(RunError):
    """on_error=fail: the first failing row stops the run."""


@dataclass
class Item:
    row: Row
    outputs: dict[str, Any] = field(default_factory=dict)
    failed: bool = False


@dataclass
class StepStats:
    rows: int = 0
    seconds: float = 0.0  # timed pipeline calls (benchmark mode leaves warm-up batches out)
    batches: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds per batch (benchmark mode)
    tokens: int = 0
    warmup_left: int = 0


@dataclass
class StepRun:
    """A step at run time: its pipeline, where its inputs come from, its batch size and timings."""

    name: str
    output: str
    step: PipelineStep
    inputs: dict[str, tuple[str, str]]
    loaded: Any
    reused: bool
    batch_size: int
    stats: StepStats = field(default_factory=StepStats)
    autobatch: dict | None = None
    placement: dict = field(default_factory=dict)  # taken at load time: a staged run frees the model

    @property
    def spec(self):
        return self.step.spec


@dataclass
class Settings:
    bench: bool
    warmup_batches: int
    max_rows: int | None
    max_seconds: float | None
    sort_by_length: bool
    window_batches: int
    on_error: str
    include_inputs: bool
    output_steps: str
    progress: bool

    @classmethod
    def from_config(cls, cfg: dict, bench: bool) -> "Settings":
        return cls(
            bench=bench, warmup_batches=cfg["bench"]["warmup_batches"], max_rows=cfg["bench"]["max_rows"],
            max_seconds=cfg["bench"]["max_seconds"], sort_by_length=cfg["batching"]["sort_by_length"],
            window_batches=cfg["batching"]["window_batches"], on_error=cfg["on_error"],
            include_inputs=cfg["output"].get("include_inputs", True), output_steps=cfg["output"]["steps"],
            progress=cfg.get("progress", True),
        )


@dataclass
class Counters:
    rows_in: int = 0
    rows_out: int = 0
    rows_error: int = 0
    rows_skipped: int = 0  # on_error=skip
    errors_by_step: dict = field(default_factory=dict)


class Execution:
    def __init__(self, plan, run_dir: Path, settings: Settings, done: set[int], append: bool,
                 keep: dict[str, list] | None = None):
        self.plan = plan
        self.keep = keep or {}
        self.run_dir = Path(run_dir)
        self.settings = settings
        self.done = done
        self.append = append
        self.counters = Counters()
        self.steps: list[StepRun] = []
        self.single = plan.single
        self.staged = bool(plan.cfg["graph"].get("free_finished_models")) and len(plan.steps) > 1
        self.stopped_early = False
        self.timed_rows = 0
        self.timed_started: float | None = None

    # -- set-up -------------------------------------------------------------------------------------
    def load_steps(self) -> None:
        """Load every step's model now, or (graph.free_finished_models) only the first: the staged
        run loads each step's model when its stage starts and frees it when the stage ends."""
        from runner.models import cache

        names = list(self.plan.steps)
        cache.keep_only({cache.load_key(self.plan.steps[n]) for n in (names[:1] if self.staged else names)})
        for name in (names[:1] if self.staged else names):
            self._load_step(name)

    def _load_step(self, name: str) -> StepRun:
        from runner.models import cache

        cfg = self.plan.steps[name]
        spec = TASKS[cfg["task"]["name"]]
        loaded, reused = cache.get_pipeline(cfg, spec)
        batch_size = cfg["batch_size"] if isinstance(cfg["batch_size"], int) else 1
        step = PipelineStep(name, spec, loaded.pipe, loaded.pipeline_task, cfg["task"]["params"], batch_size,
                            base_dir=self.plan.source.base_dir())
        warn_about_lossy_settings(loaded.pipe, spec, cfg["task"]["params"])
        run = StepRun(name, cfg["step"]["output"], step, self.plan.graph.inputs[name], loaded, reused, batch_size)
        run.placement = placement(loaded)
        # Loading may draw random numbers (differently across versions, or not at all when the model
        # is reused in a sweep): re-seed so the first batch always starts from the same state.
        seed_everything(cfg.get("seed", 0))
        run.stats.warmup_left = self.settings.warmup_batches if self.settings.bench else 0
        self.steps.append(run)
        if cfg["batch_size"] == "auto":
            self.choose_batch_size(run, cfg)
        return run

    def choose_batch_size(self, run: StepRun, cfg: dict) -> None:
        """batch_size=auto: trials on the longest inputs among the first bench.probe_rows rows."""
        from runner.bench.autobatch import longest_rows, search_batch_size, worst_case_batch
        from runner.bench.oom import check_injected_oom

        probed = 0

        def usable_inputs():
            nonlocal probed
            for row in self._rows(limit=cfg["bench"]["probe_rows"]):
                try:
                    yield run.step.prepare(self._view(run, Item(row)))
                    probed += 1
                except Exception:  # a bad row is not a candidate; the run reports it later
                    continue

        # Padding makes a batch as long as its longest row, so a few of the longest rows, repeated,
        # are the worst case for every batch size; streaming keeps only those in memory.
        longest = longest_rows(usable_inputs(), input_size, AUTO_DISTINCT_ROWS)
        if not longest:
            raise RunError(f"step {run.name}: batch_size=auto found no usable rows to try", "check the dataset")

        def try_batch(size: int) -> None:
            check_injected_oom(size)
            run.step.run(worst_case_batch(longest, size), batch_size=size)

        result = search_batch_size(try_batch, cfg["bench"]["max_batch_size"])
        run.autobatch = {"batch_size": result.batch_size, "trials": result.trials,
                         "probe_rows": probed, "max_batch_size": cfg["bench"]["max_batch_size"]}
        if result.batch_size is None:
            raise OutOfMemory(run.name, 1, MemoryError("even batch size 1 does not fit"))
        log.info("step %s: batch_size=auto chose %d after %d trials (%s)", run.name, result.batch_size, len(result.trials),
                 ", ".join(f"{t['batch_size']}:{t['status']}" for t in result.trials))
        run.batch_size = run.step.batch_size = result.batch_size

    # -- the loop -----------------------------------------------------------------------------------
    def run(self) -> None:
        mode = "a" if self.append else "w"
        with JsonlSink(self.run_dir / PREDICTIONS, mode, keep=self.keep.get("predictions")) as predictions, \
                JsonlSink(self.run_dir / ERRORS, mode, keep=self.keep.get("errors")) as errors, \
                self._progress() as bar:
            self.predictions, self.errors, self.bar = predictions, errors, bar
            if self.staged:
                self._run_staged()
                return
            for chunk in self._chunks():
                self._run_chunk(chunk, self.steps, self._write)
                if self._bench_budget_spent():
                    self.stopped_early = True
                    log.info("benchmark budget reached after %d timed rows: stopping", self.timed_rows)
                    break

    def _run_staged(self) -> None:
        """One step at a time over all rows: each stage's surviving rows and outputs go to a state
        file that the next stage reads back beside the source, so one model is in memory at a time."""
        from runner.models import cache

        state_dir = self.run_dir / STAGES
        names = list(self.plan.steps)
        previous: Path | None = None
        for position, name in enumerate(names):
            run = self.steps[0] if position == 0 else self._load_step(name)
            last = position == len(names) - 1
            state_path = state_dir / f"{position}-{name}.jsonl"
            with JsonlSink(state_path) as state:
                finish = self._write if last else (lambda item, state=state: state.write(
                    {"index": item.row.index, "outputs": to_jsonable(item.outputs)}))
                for chunk in self._chunks(previous):
                    self._run_chunk(chunk, [run], finish)
            if previous is not None:
                previous.unlink()
            previous = state_path
            run.step.pipe = run.loaded.pipe = None
            cache.forget(self.plan.steps[name])
            log.info("step %s done: model freed", name)
        previous.unlink()
        state_dir.rmdir()

    def _rows(self, limit: int | None = None) -> Iterator[Row]:
        shard = self.plan.cfg.get("shard")
        for count, row in enumerate(self.plan.source.rows(self.plan.source_mapping, shard)):
            if limit is not None and count >= limit:
                return
            yield row

    def _chunks(self, state: Path | None = None) -> Iterator[list[Item]]:
        """Chunks of rows not yet done; with `state`, only the rows an earlier stage kept, with its outputs."""
        size = self._chunk_rows()
        kept = _iter_state(state) if state is not None else None
        pending = next(kept, None) if kept is not None else None
        chunk: list[Item] = []
        for row in self._rows():
            if row.index in self.done:
                continue
            item = Item(row)
            if kept is not None:
                while pending is not None and pending["index"] < row.index:
                    pending = next(kept, None)
                if pending is None or pending["index"] != row.index:
                    continue  # failed in an earlier stage
                item.outputs = pending["outputs"]
            else:
                self.counters.rows_in += 1
            chunk.append(item)
            if len(chunk) >= size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def _chunk_rows(self) -> int:
        largest = max(run.batch_size for run in self.steps)
        if self.settings.sort_by_length:
            return largest * self.settings.window_batches
        return max(largest * CHUNK_BATCHES, MIN_CHUNK_ROWS)



    def _run_chunk(self, chunk: list[Item], runs: list[StepRun], finish) -> None:
        for run in runs:
            alive = [item for item in chunk if not item.failed]
            prepared = []
            for item in alive:
                try:
                    prepared.append((item, run.step.prepare(self._view(run, item))))
                except Exception as error:  # a decode failure belongs to this row alone
                    self._fail(item, run.name, "prepare", error)
            outputs = self._call_step(run, [p for _, p in prepared])
            for (item, _), (output, error) in zip(prepared, outputs):
                if error is not None:
                    self._fail(item, run.name, "run", error)
                else:
                    item.outputs[run.name] = output
        for item in chunk:
            if not item.failed:
                finish(item)
            self.bar.update(1)

    def _view(self, run: StepRun, item: Item) -> Row:
        """The row as this step sees it: its task inputs, from source fields or earlier steps' outputs."""
        fields = {}
        for wanted, (producer, name) in run.inputs.items():
            if producer == "source":
                fields[wanted] = item.row.fields.get(name)
            else:
                fields[wanted] = field_value(item.outputs[producer], name)
        return Row(item.row.id, fields, error=item.row.error, index=item.row.index)

    # -- calling the pipeline -----------------------------------------------------------------------
    def _call_step(self, run: StepRun, inputs: list) -> list[tuple[Any, BaseException | None]]:
        """(output, None) or (None, error) per input, in input order."""
        if not inputs:
            return []
        order = list(range(len(inputs)))
        if self.settings.sort_by_length:
            # Longest first: similar lengths share a batch (less padding), and an OOM shows at once.
            order.sort(key=lambda i: input_size(inputs[i]), reverse=True)
        ordered = [inputs[i] for i in order]
        if self.settings.bench:
            results = []
            for start in range(0, len(ordered), run.batch_size):
                results += self._call_batches(run, ordered[start:start + run.batch_size], per_batch=True)
        else:
            results = self._call_batches(run, ordered, per_batch=False)
        restored: list = [None] * len(inputs)
        for position, result in zip(order, results):
            restored[position] = result
        return restored

    def _call_batches(self, run: StepRun, inputs: list, per_batch: bool) -> list[tuple[Any, BaseException | None]]:
        from runner.bench.oom import check_injected_oom, is_oom

        effective = min(run.batch_size, len(inputs))
        started = time.perf_counter()
        try:
            check_injected_oom(effective)
            outputs = run.step.run(inputs)
            results = [(output, None) for output in outputs]
        except Exception as error:
            if is_oom(error):
                raise OutOfMemory(run.name, run.batch_size, error) from error
            log.debug("batch of %d rows failed in %s (%s); retrying row by row", len(inputs), run.name, error, exc_info=True)
            results = [self._call_one(run, x) for x in inputs]
        self._time(run, len(inputs), time.perf_counter() - started, per_batch, results)
        return results

    def _call_one(self, run: StepRun, prepared) -> tuple[Any, BaseException | None]:
        from runner.bench.oom import is_oom

        try:
            return run.step.run([prepared])[0], None
        except Exception as error:  # this row's own failure, kept with the row
            if is_oom(error):
                raise OutOfMemory(run.name, 1, error) from error
            return None, error

    def _time(self, run: StepRun, rows: int, seconds: float, per_batch: bool, results: list) -> None:
        stats = run.stats
        if stats.warmup_left > 0:
            stats.warmup_left -= 1
            return
        stats.rows += rows
        stats.seconds += seconds
        stats.batches += 1 if per_batch else -(-rows // run.batch_size)
        if per_batch:
            stats.latencies.append(seconds)
            if run.spec.id in GENERATIVE:
                stats.tokens += sum(count_tokens(run, output) for output, error in results if error is None)
        if run is self.steps[-1]:
            self.timed_rows += rows
            if self.timed_started is None:
                self.timed_started = time.perf_counter() - seconds

    def _bench_budget_spent(self) -> bool:
        if not self.settings.bench:
            return False
        if self.settings.max_rows is not None and self.timed_rows >= self.settings.max_rows:
            return True
        return (self.settings.max_seconds is not None and self.timed_started is not None
                and time.perf_counter() - self.timed_started >= self.settings.max_seconds)

    # -- outputs ------------------------------------------------------------------------------------
    def _write(self, item: Item) -> None:
        record = {"id": item.row.id, "index": item.row.index}
        if self.settings.include_inputs:
            # text and file paths; never decoded audio or image data
            record["input"] = {k: v for k, v in item.row.fields.items() if isinstance(v, str)}
        if self.single:
            record["output"] = to_jsonable(item.outputs[self.steps[0].name])
        else:
            written = self.steps if self.settings.output_steps == "all" else self.steps[-1:]
            record["output"] = {run.output: to_jsonable(item.outputs[run.name]) for run in written}
        self.predictions.write(record)
        self.counters.rows_out += 1

    def _fail(self, item: Item, step_name: str, stage: str, error: BaseException) -> None:
        item.failed = True
        message = f"{type(error).__name__}: {error}"
        self.counters.errors_by_step[step_name] = self.counters.errors_by_step.get(step_name, 0) + 1
        policy = self.settings.on_error
        if policy == "fail":
            raise RowFailed(
                f"row {item.row.id!r} (index {item.row.index}) failed in step {step_name} ({stage}): {message}",
                f"outputs so far are kept in {self.run_dir}; on_error=record writes failing rows to errors.jsonl "
                f"and goes on; resume={self.run_dir} continues after a fix",
            )
        if policy == "skip":
            self.counters.rows_skipped += 1
            log.warning("row %r skipped: %s failed (%s): %s", item.row.id, step_name, stage, message)
            return
        self.counters.rows_error += 1
        log.warning("row %r failed in %s (%s): %s", item.row.id, step_name, stage, message)
        self.errors.write({"id": item.row.id, "index": item.row.index, "step": step_name, "stage": stage, "error": message})

    def _progress(self):
        if not self.settings.progress:
            return _NoBar()
        from tqdm import tqdm

        total = self.plan.source.total_rows(self.plan.cfg.get("shard"))
        if total is not None:
            total = max(0, total - len(self.done)) * (len(self.plan.steps) if self.staged else 1)
        desc = "+".join(run.spec.id for run in self.steps) if len(self.steps) <= 3 else f"{len(self.steps)} steps"
        return tqdm(desc=desc, total=total, unit="row", file=sys.stderr, dynamic_ncols=True, mininterval=0.5)

    # -- metrics ------------------------------------------------------------------------------------
    def metrics(self, status: str, started: float, error: str | None = None) -> dict:
        first, last = (self.steps[0], self.steps[-1]) if self.steps else (None, None)
        total_seconds = sum(run.stats.seconds for run in self.steps)
        timed_rows = last.stats.rows if last else 0
        metrics = {
            "status": status,
            "error": error,
            "run_dir": str(self.run_dir),
            "task": "+".join(run.spec.id for run in self.steps) if self.steps else None,
            "steps_count": len(self.plan.steps),
            "benchmark": self.settings.bench,
            "rows_in": self.counters.rows_in,
            "rows_out": self.counters.rows_out,
            "rows_error": self.counters.rows_error,
            "rows_skipped": self.counters.rows_skipped,
            "rows_resumed": len(self.done),
            "stopped_early": self.stopped_early,
            "inference_seconds": round(total_seconds, 4),
            "items_per_second": round(timed_rows / total_seconds, 3) if total_seconds and timed_rows else None,
            "wall_seconds": round(time.perf_counter() - started, 4),
            **peak_memory(),
        }
        if first is not None:
            metrics.update(step_metrics(first if len(self.steps) == 1 else last, top_level=True))
            metrics["model_load_seconds"] = round(sum(r.loaded.load_seconds for r in self.steps if not r.reused), 4)
            metrics["model_reused"] = all(r.reused for r in self.steps)
        metrics["steps"] = {run.name: step_metrics(run) for run in self.steps}
        return metrics


def _iter_state(path: Path) -> Iterator[dict]:

    with open(path, encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)


def step_metrics(run: StepRun, top_level: bool = False) -> dict:
    stats = run.stats
    metrics = {
        "batch_size": run.batch_size,
        "batch_size_requested": run.step.batch_size if run.autobatch is None else "auto",
        "autobatch": run.autobatch,
        "pipeline_task": run.loaded.pipeline_task,
        "model": run.loaded.ref.location,
        "model_origin": run.loaded.ref.origin,
        **run.placement,
        "latency_ms": latency_summary(stats.latencies),
        "tokens_per_second": round(stats.tokens / stats.seconds, 3) if stats.tokens and stats.seconds else None,
    }
    if not top_level:
        metrics.update({
            "rows_timed": stats.rows, "inference_seconds": round(stats.seconds, 4),
            "items_per_second": round(stats.rows / stats.seconds, 3) if stats.seconds else None,
            "model_load_seconds": round(run.loaded.load_seconds, 4), "model_reused": run.reused,
        })
    return metrics


def count_tokens(run: StepRun, output) -> int:
    """Generated tokens of one output, by re-tokenizing its text with the step's tokenizer."""
    tokenizer = getattr(run.step.pipe, "tokenizer", None)
    text_field = next((f for f, m in run.spec.produces.items() if m == TEXT), None)
    text = field_value(output, text_field) if text_field else None
    if tokenizer is None or not isinstance(text, str):
        return 0
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


@contextmanager
def _library_progress_bars(enabled: bool):
    """progress=false also silences transformers' own bars ("Loading weights"), for this run only:
    the switch is global, so a notebook gets its setting back afterwards."""
    from transformers.utils import logging as hf_logging

    if enabled or not hf_logging.is_progress_bar_enabled():
        yield
        return
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.enable_progress_bar()


def execute(plan, run_dir: Path, bench: bool = False, done: set[int] | None = None, append: bool = False,
            keep: dict[str, list] | None = None) -> dict:
    """Run the plan into run_dir: predictions.jsonl, errors.jsonl, metrics.json; return the metrics.

    `done`: dataset positions already written (a resumed run) - skipped, and the files appended to.
    `keep`: {"predictions": list, "errors": list}, each also given every record as it is written.
    Raises OutOfMemory (metrics.json then says `oom`), RowFailed (on_error=fail) or the load error."""
    run_dir = Path(run_dir)
    started = time.perf_counter()
    seed_everything(plan.cfg.get("seed", 0), plan.cfg.get("deterministic", False))
    reset_peak_memory()
    execution = Execution(plan, run_dir, Settings.from_config(plan.cfg, bench), done or set(), append, keep)
    status, error = "error", None
    try:
        with _library_progress_bars(execution.settings.progress):
            execution.load_steps()
            execution.run()
        status = "ok"
    except OutOfMemory as oom:
        status, error = "oom", str(oom)
        _free_after_oom()
        raise
    except KeyboardInterrupt:
        status, error = "interrupted", "interrupted by a signal"
        raise
    except Exception as failure:
        error = f"{type(failure).__name__}: {failure}"
        raise
    finally:
        metrics = execution.metrics(status, started, error)
        if status == "oom" and execution.steps:
            metrics["batch_size"] = max(run.batch_size for run in execution.steps)
        write_json(run_dir / METRICS, metrics)
    return metrics


def _free_after_oom() -> None:
    from runner.bench.oom import release_memory

    release_memory()


def warn_about_lossy_settings(pipe, spec, params: dict) -> None:
    model_type = getattr(getattr(getattr(pipe, "model", None), "config", None), "model_type", None)
    if spec.id == "automatic-speech-recognition" and model_type == "whisper" and params.get("chunk_length_s"):
        log.warning(
            "chunk_length_s with Whisper splits the audio into independent chunks and loses text at the seams "
            "(measured on transformers 5.24: 514 of 921 characters kept on a 52 s clip). For long audio, drop "
            "chunk_length_s and set task.params.return_timestamps=true: Whisper then transcribes it long-form."
        )


def seed_everything(seed: int, deterministic: bool | None = None) -> None:
    """Seed python, numpy and torch; with `deterministic` given, also switch deterministic algorithms."""
    from runner import determinism

    determinism.seed_all(seed)
    if deterministic is not None:
        determinism.configure(deterministic)


def placement(loaded) -> dict:
    """Where the model ended up and in which dtype, as loaded (not only as asked)."""
    model = getattr(loaded.pipe, "model", None)
    parameters = model.parameters() if hasattr(model, "parameters") else ()
    return {
        "device": str(getattr(loaded.pipe, "device", None)),
        "dtype": str(getattr(model, "dtype", None)).replace("torch.", ""),
        "device_map": loaded.kwargs.get("device_map"),
        "parameter_devices": sorted({str(p.device) for p in parameters}),
        "quantized": bool(getattr(model, "is_quantized", False) or getattr(model, "is_loaded_in_8bit", False)),
    }


class _NoBar:
    def update(self, n):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass
