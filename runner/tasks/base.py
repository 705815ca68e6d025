"""The Task unit: everything the runner knows about one task, in one definition.

A task says what a row must bring (`inputs`, each with its modality), what its output offers a later
step (`produces`), the model transformers itself picks for it (`default_model`, pinned), the tiny
architecture `model=tiny` builds, its aliases, and how it runs: which transformers pipelines serve
it, whether it generates tokens, which parameters are read when the pipeline is built, and the
sample columns it reads. Tasks whose rows or calls need more than the generic path override the
hooks below (prepare a row's input, call the pipeline), the way transformers' Pipeline subclasses
override preprocess/_forward/postprocess.

From the definitions (tasks/text.py, audio.py, vision.py, seq2seq.py) everything else is derived:
the `task` config group entries and aliases (config/task_group.py), the task enum of the schema,
`--help`, the tiny model, the sample data mapping. Each task's parameters have their own JSON
Schema, schemas/tasks/<id>.schema.json. Static data: importing this imports no ML library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TEXT, AUDIO, IMAGE = "text", "audio", "image"
MODALITIES = (TEXT, AUDIO, IMAGE)
# Structured outputs (scores, entity lists, embeddings, boxes): a later step cannot take them as text.
DATA = "data"


@dataclass(frozen=True)
class Port:
    """A pipeline the runner provides where the installed transformers has none (tasks/pipelines/)."""

    module: str  # under runner.tasks.pipelines
    pipeline_class: str
    auto_model: str  # the transformers Auto class its models load with
    kind: str = "text"  # transformers' registry type: text, multimodal ...


@dataclass(frozen=True)
class Task:
    id: str
    inputs: dict[str, str]  # field name -> modality; the pipeline's positional input comes first
    produces: dict[str, str]  # output field -> modality
    default_model: tuple[str, str]  # (hub id, revision)
    tiny_arch: str  # the architecture `model=tiny` builds for this task (models/tiny/)
    aliases: tuple[str, ...] = ()
    optional_inputs: tuple[str, ...] = ()
    # transformers task ids to try, in order, when building the pipeline (a task may be renamed).
    pipeline_tasks: tuple[str, ...] = ()
    port: Port | None = None
    generative: bool = False  # outputs generated text: benchmark mode counts tokens/s
    load_params: tuple[str, ...] = ()  # task.params read when the pipeline is built (the rest go to each call)
    # task input -> column of the built-in sample data, where the input's own name is not the column.
    sample_columns: dict[str, str] = field(default_factory=dict)
    # The pipeline gives a list of one input's result back unwrapped (fill-mask's candidates, QA's
    # answers): Task.call wraps it again, so one row in a batch of one gets the shape it has in any batch.
    unwraps_one: bool = False

    @property
    def primary_input(self) -> str:
        return next(iter(self.inputs))

    @property
    def required_inputs(self) -> list[str]:
        return [name for name in self.inputs if name not in self.optional_inputs]

    def pipeline_task_candidates(self) -> tuple[str, ...]:
        return self.pipeline_tasks or (self.id,)

    # -- hooks: the generic behaviour; a task with other needs overrides them -------------------------
    def split_params(self, params: dict) -> tuple[dict, dict]:
        """(parameters for the pipeline call, the runner's own parameters of this task)."""
        return dict(params), {}

    def pipeline_input(self, decoded: dict[str, Any], pipe, own: dict) -> Any:
        """The pipeline input for one row's decoded fields; ValueError when the row is unusable."""
        if len(self.inputs) > 1:  # question-answering {question, context}, VQA {image, question}
            return decoded
        return decoded[self.primary_input]

    def call(self, pipe, pipeline_task: str, inputs: list, batch_size: int, params: dict) -> list:
        """One output per input, in order."""
        outputs = pipe(inputs, batch_size=batch_size, **params)
        return [outputs] if self.unwraps_one and len(inputs) == 1 else list(outputs)

    def pipeline_choice(self, task_name: str, params: dict) -> tuple[str, dict]:
        """The transformers task name to build and extra constructor arguments, given the params."""
        return task_name, {}

    def falls_back_to(self, supported: set[str], is_generative_vlm) -> list[str] | None:
        """Pipelines to use instead of the usual ones for this model (None: the usual ones)."""
        return None

    def pads_left(self, model) -> bool:
        """Whether batched generation must pad on the left (decoder-only models continue from the end)."""
        return False

    def record_output(self, output: Any, media) -> Any:
        """The output as predictions.jsonl holds it. Media it carries (masks, depth maps, audio) is written
        through `media` (runner.outputs.media.RowMedia: .image(pil, name), .audio(samples, rate, name)) and
        replaced by the file's path."""
        return output

    def comparison(self) -> tuple[str, str | None]:
        """How two runs' outputs of this task are compared (runner.bench.agreement): the kind ("labels",
        "text", "vectors", "exact") and the output field it reads. Generated text compares as text (WER),
        a non-generated text field (a label, an answer, a filled token) as labels, the rest exactly."""
        text_field = next((name for name, modality in self.produces.items() if modality == TEXT), None)
        if text_field is not None:
            return ("text" if self.generative else "labels"), text_field
        if "labels" in self.produces:  # zero-shot: {"labels": [...ranked], "scores": [...]}
            return "labels", "labels"
        return "exact", None

    def lossy_settings(self, pipe, params: dict) -> list[str]:
        """Warnings about parameter choices known to lose output with this model."""
        return []

    def refused_settings(self, pipe, params: dict) -> list[tuple[str, str, str]]:
        """Parameters the loaded model cannot take at all, as (key, message, hint): the run stops with a
        config error (exit code 2) before any row, instead of every row failing the same way."""
        return []
