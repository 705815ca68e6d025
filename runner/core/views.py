"""Typed, read-only views of a validated config: one frozen dataclass per concern, read once.

The defaults live in the conf YAML (conf/config.yaml and its groups), which composition always fills,
so `from_config` reads `cfg["key"]`. The few fallbacks below are for configs that lack a key although
they were validated: a run.json saved before the key existed (rerun=, resume= fill only missing
top-level keys, never nested ones), or a preset that leaves a key out on purpose. Each says why, and
tests/config/test_views.py checks that every fallback equals the value the conf YAML gives, and that
every key read here is a property of schemas/config.schema.json.

Code that runs a step takes these views, not the config dict: `StepView.from_config(step_cfg)` builds
them all for one step (runner/config/graph_steps.py makes the step configs), `ConfigViews` those of the
top level. runner.config.check_run builds both once, and the plan keeps them (`plan.views`,
`plan.step_views`): code that has a plan reads those, never rebuilds them from `plan.cfg`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import ClassVar


@dataclass(frozen=True)
class RunView:
    """Top-level keys of one run or step: placement, numerics, batch size, seeding, row errors, resuming."""

    SECTION: ClassVar[str | None] = None  # where a view's keys sit in the config (None: the top level)

    device: str
    device_map: str | dict | None
    dtype: str
    batch_size: int | str  # a number, or "auto"
    threads: int | None
    seed: int
    deterministic: bool
    progress: bool
    on_error: str
    max_error_fraction: float
    resume: str | None  # a run dir to continue
    resume_allow_changed: bool  # ... even though its source changed since the stop

    @classmethod
    def from_config(cls, cfg: dict) -> RunView:
        return cls(
            device=cfg["device"],
            device_map=cfg["device_map"],
            dtype=cfg["dtype"],
            batch_size=cfg["batch_size"],
            threads=cfg["threads"],
            seed=cfg["seed"],
            deterministic=cfg["deterministic"],
            progress=cfg["progress"],
            on_error=cfg["on_error"],
            max_error_fraction=cfg["max_error_fraction"],
            resume=cfg["resume"],
            resume_allow_changed=cfg["resume_allow_changed"],
        )

    @property
    def fixed_batch_size(self) -> int:
        """The batch size to start with: batch_size=auto starts at 1 until its search chooses."""
        return self.batch_size if isinstance(self.batch_size, int) else 1


@dataclass(frozen=True)
class ModelView:
    """`model` (conf/model/*.yaml): where the weights come from; exactly one of id, tiny, package (or none)."""

    SECTION: ClassVar[str | None] = "model"

    name: str
    id: str | None
    revision: str | None
    trust_remote_code: bool
    tiny: str | None
    package: str | None
    kwargs: dict
    no_weights: bool = False

    @classmethod
    def from_config(cls, cfg: dict) -> ModelView:
        model = cfg["model"]
        return cls(
            name=model["name"],
            id=model["id"],
            revision=model["revision"],
            trust_remote_code=bool(model["trust_remote_code"]),
            tiny=model["tiny"],
            package=model["package"],
            kwargs=dict(model["kwargs"] or {}),
            no_weights=bool(model.get("no_weights", cls.no_weights)),  # a run.json saved before model.no_weights
        )

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class QuantizationView:
    """`quantization` (conf/quantization/*.yaml): the mode and the keys of each mode's preset.

    Each mode's preset gives only its own keys, and a mode set alone (quantization.mode=4bit over
    quantization=none) gives none: the defaults below are the presets' values, but probe_rows, whose
    0 (no int8 probe) is what quantization.mode=int8 set alone has always meant."""

    SECTION: ClassVar[str | None] = "quantization"
    DERIVED: ClassVar[tuple[str, ...]] = ("given",)  # fields that are no config key

    mode: str = "none"
    probe_rows: int = 0  # int8 (conf/quantization/int8.yaml: 16)
    skip_modules: tuple[str, ...] | None = None  # 8bit, 4bit, int8 (None and () differ for bitsandbytes)
    llm_int8_threshold: float = 6.0  # 8bit
    quant_type: str = "nf4"  # 4bit
    compute_dtype: str = "auto"  # 4bit
    double_quant: bool = False  # 4bit
    given: tuple[str, ...] = ()  # the keys the config gave (the pipeline cache's identity uses those only)

    @classmethod
    def from_config(cls, cfg: dict) -> QuantizationView:
        quant = cfg["quantization"]
        values = {f.name: quant.get(f.name, f.default) for f in fields(cls) if f.name not in ("mode", "given")}
        skip = values.pop("skip_modules")
        return cls(mode=quant["mode"], skip_modules=None if skip is None else tuple(skip), given=tuple(quant), **values)

    def identity(self) -> dict | None:
        """The keys given, as given, but probe_rows (read after the model loads)."""
        values = {**asdict(self), "skip_modules": self.skip_modules_list}
        return {key: values[key] for key in self.given if key != "probe_rows"} or None

    @property
    def skip_modules_list(self) -> list[str] | None:
        return None if self.skip_modules is None else list(self.skip_modules)


@dataclass(frozen=True)
class BackendView:
    """`backend` (conf/backend/*.yaml): which engine computes a step, and its compute type."""

    SECTION: ClassVar[str | None] = "backend"

    name: str = "transformers"
    compute_type: str = "auto"

    @classmethod
    def from_config(cls, cfg: dict) -> BackendView:
        # A run.json saved before `backend` existed ran on transformers; conf/backend/transformers.yaml
        # has no compute_type (only backend=ctranslate2 reads it).
        backend = cfg.get("backend") or {}
        return cls(name=backend.get("name") or cls.name, compute_type=backend.get("compute_type", cls.compute_type))


@dataclass(frozen=True)
class BatchingView:
    """`batching`: length bucketing."""

    SECTION: ClassVar[str | None] = "batching"

    sort_by_length: bool
    window_batches: int
    max_tokens: int | None = None

    @classmethod
    def from_config(cls, cfg: dict) -> BatchingView:
        batching = cfg["batching"]
        return cls(
            sort_by_length=batching["sort_by_length"],
            window_batches=batching["window_batches"],
            max_tokens=batching.get("max_tokens", None),  # a run.json saved before batching.max_tokens
        )


@dataclass(frozen=True)
class BenchView:
    """`bench`: whether to benchmark, its timings and their minimum, batch_size=auto's search, and how a
    sweep point runs (skipped above a size that ran out of memory; in a child process)."""

    SECTION: ClassVar[str | None] = "bench"

    warmup_batches: int
    max_rows: int | None
    max_seconds: float | None
    max_batch_size: int
    probe_rows: int
    enabled: bool | str  # true, false, or "auto" (on in multirun sweeps)
    skip_after_oom: bool
    isolation: str  # none | process
    repeats: int = 3
    min_batches: int = 5
    min_seconds: float = 0.5
    auto_until: str = "plateau"

    @classmethod
    def from_config(cls, cfg: dict) -> BenchView:
        bench = cfg["bench"]
        return cls(
            warmup_batches=bench["warmup_batches"],
            max_rows=bench["max_rows"],
            max_seconds=bench["max_seconds"],
            max_batch_size=bench["max_batch_size"],
            probe_rows=bench["probe_rows"],
            enabled=bench["enabled"],
            skip_after_oom=bench["skip_after_oom"],
            isolation=bench["isolation"],
            # a run.json saved before bench.repeats/min_batches/min_seconds measured as these say
            repeats=bench.get("repeats", cls.repeats),
            min_batches=bench.get("min_batches", cls.min_batches),
            min_seconds=bench.get("min_seconds", cls.min_seconds),
            auto_until=bench.get("auto_until", cls.auto_until),  # ... and before bench.auto_until
        )


@dataclass(frozen=True)
class OutputView:
    """`output` (conf/output/*.yaml): what each prediction record holds, and which steps are written."""

    SECTION: ClassVar[str | None] = "output"

    steps: str
    format: str | list[str]  # one format, or a list
    include_inputs: bool = True

    @classmethod
    def from_config(cls, cfg: dict) -> OutputView:
        output = cfg["output"]
        # a run.json saved before output.include_inputs wrote the inputs
        return cls(
            steps=output["steps"],
            format=output["format"],
            include_inputs=output.get("include_inputs", cls.include_inputs),
        )

    @property
    def formats(self) -> list[str]:
        return [self.format] if isinstance(self.format, str) else list(self.format)


@dataclass(frozen=True)
class DatasetView:
    """`dataset` (conf/dataset/*.yaml): its type and the keys every source type has. A source's own keys
    (path, format, name, split ...) are read by its module in runner/sources.

    The schema requires only `type`: a source registered from outside the package (runner.sources.registry)
    brings its own preset, which may leave the shared keys out. Those fall back to what every preset of
    conf/dataset/ gives them; prefetch also for a run.json saved before dataset.prefetch."""

    SECTION: ClassVar[str | None] = "dataset"

    type: str
    column: str | None = None
    fields: dict = field(default_factory=dict)  # task input -> column, the ones set (null values dropped)
    id_column: str | None = None
    limit: int | None = None
    skip: int = 0
    prefetch: int | str = "auto"

    @classmethod
    def from_config(cls, cfg: dict) -> DatasetView:
        return cls.from_dataset(cfg["dataset"])

    @classmethod
    def from_dataset(cls, dataset: dict) -> DatasetView:
        """From the `dataset` node itself (what a Source is given)."""
        return cls(
            type=dataset["type"],
            column=dataset.get("column", cls.column),
            fields={k: v for k, v in (dataset.get("fields") or {}).items() if v},
            id_column=dataset.get("id_column", cls.id_column),
            limit=dataset.get("limit", cls.limit),
            skip=dataset.get("skip") or cls.skip,
            prefetch=dataset.get("prefetch", cls.prefetch),
        )


@dataclass(frozen=True)
class GraphView:
    """`graph`: whether to only show the pipeline graph, and whether a chain frees each model when its
    step is done. Its `steps` are read once, into step configs, by runner/config/graph_steps.py."""

    SECTION: ClassVar[str | None] = "graph"

    show: bool
    free_finished_models: bool = False

    @classmethod
    def from_config(cls, cfg: dict) -> GraphView:
        graph = cfg["graph"]
        # a run.json saved before graph.free_finished_models ran every step's model at once
        return cls(show=graph["show"], free_finished_models=graph.get("free_finished_models", cls.free_finished_models))


@dataclass(frozen=True)
class ShardView:
    """`shard`: this job takes the rows of shard `index` of `count` (runner/sources/sharding.py)."""

    SECTION: ClassVar[str | None] = "shard"

    index: int
    count: int

    @classmethod
    def from_config(cls, cfg: dict) -> ShardView:
        return cls(index=cfg["shard"]["index"], count=cfg["shard"]["count"])


@dataclass(frozen=True)
class TaskView:
    """`task`: the task id and its parameters (checked by schemas/tasks/<id>.schema.json)."""

    SECTION: ClassVar[str | None] = "task"

    name: str
    params: dict = field(default_factory=dict)

    @classmethod
    def from_config(cls, cfg: dict) -> TaskView:
        return cls(name=cfg["task"]["name"], params=dict(cfg["task"]["params"]))


@dataclass(frozen=True)
class StepMeta:
    """`step`, which runner/config/graph_steps.py adds to each step's config: its name, the output of
    another step it reads (None: the dataset) and the name its own output is written under."""

    SECTION: ClassVar[str | None] = "step"

    name: str
    input: str | None
    output: str

    @classmethod
    def from_config(cls, cfg: dict) -> StepMeta:
        step = cfg["step"]
        return cls(name=step["name"], input=step["input"], output=step["output"])


@dataclass(frozen=True)
class StepView:
    """The views a step is loaded and sized with, built once from its single-task config (config/graph_steps.py)."""

    run: RunView
    model: ModelView
    quantization: QuantizationView
    backend: BackendView
    task: TaskView
    bench: BenchView  # batch_size=auto's search (engine/autobatch.py)
    meta: StepMeta | None = None  # None while the step is being checked: graph_steps adds `step` after

    @classmethod
    def from_config(cls, cfg: dict) -> StepView:
        return cls(
            run=RunView.from_config(cfg),
            model=ModelView.from_config(cfg),
            quantization=QuantizationView.from_config(cfg),
            backend=BackendView.from_config(cfg),
            task=TaskView.from_config(cfg),
            bench=BenchView.from_config(cfg),
            meta=StepMeta.from_config(cfg) if "step" in cfg else None,
        )

    @property
    def output(self) -> str:
        """The name the step's output is written under (a checked step always has its meta)."""
        assert self.meta is not None, "a step's views before graph_steps added its meta"
        return self.meta.output


@dataclass(frozen=True)
class ConfigViews:
    """The views of a validated top-level config, built once (runner/plan's make_plan keeps them on the plan,
    beside a StepView per step): what the job and the engine read instead of the config dict."""

    run: RunView
    batching: BatchingView
    bench: BenchView
    output: OutputView
    dataset: DatasetView
    graph: GraphView
    shard: ShardView

    @classmethod
    def from_config(cls, cfg: dict) -> ConfigViews:
        return cls(
            run=RunView.from_config(cfg),
            batching=BatchingView.from_config(cfg),
            bench=BenchView.from_config(cfg),
            output=OutputView.from_config(cfg),
            dataset=DatasetView.from_config(cfg),
            graph=GraphView.from_config(cfg),
            shard=ShardView.from_config(cfg),
        )


VIEWS = (
    RunView,
    ModelView,
    QuantizationView,
    BackendView,
    BatchingView,
    BenchView,
    OutputView,
    DatasetView,
    GraphView,
    ShardView,
    TaskView,
)


def config_keys(view: type) -> list[str]:
    """The config keys a view reads (under its SECTION): its fields, less those it derives."""
    return [f.name for f in fields(view) if f.name not in getattr(view, "DERIVED", ())]
