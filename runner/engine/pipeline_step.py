"""A pipeline step: prepare a row's fields for its task, run a batch, make outputs JSON-ready.

The shape follows transformers' own Pipeline (preprocess -> forward -> postprocess), one level up:
`prepare` decodes one row (a failure there fails that row only), `run` calls the loaded pipeline on
a list of prepared inputs with the task parameters, `to_jsonable` turns outputs into plain JSON.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runner.outputs.sinks import JsonNumbers
from runner.sources import Row
from runner.sources.decode import decode_audio, decode_image, decode_text
from runner.tasks import AUDIO, DATA, IMAGE, Task


def generate_kwargs_for(pipe, params: dict) -> dict:
    """task.params.generate_kwargs as the pipeline takes it: as they are where its call names a
    `generate_kwargs` argument (speech recognition, image-to-text ...), else spread among the call's own
    keyword arguments, which it hands to generate() (text-generation, summarization ...): passed there
    as one `generate_kwargs=` they would reach generate() as an unknown model argument. A key given both
    ways takes the task.params value."""
    import inspect

    nested = params.get("generate_kwargs")
    if not isinstance(nested, dict):
        return params
    sanitize = getattr(pipe, "_sanitize_parameters", None)
    named = inspect.signature(sanitize).parameters.get("generate_kwargs") if sanitize is not None else None
    if sanitize is None or named is not None and named.kind != inspect.Parameter.VAR_KEYWORD:
        return params  # a named argument (not **generate_kwargs, which takes the call's other keywords)
    return {**nested, **{key: value for key, value in params.items() if key != "generate_kwargs"}}


class PipelineStep:
    def __init__(
        self,
        name: str,
        spec: Task,
        pipe,
        pipeline_task: str,
        params: dict,
        batch_size: int,
        base_dir: Path | None = None,
    ):
        self.name = name
        self.spec = spec
        self.pipe = pipe
        self.pipeline_task = pipeline_task
        # The pipeline call's parameters, and the task's own (e.g. image-text-to-text's default prompt).
        self.params, self.own_params = spec.split_params(params)
        self.params = generate_kwargs_for(pipe, self.params)
        self.batch_size = batch_size
        self.base_dir = base_dir

    # -- preprocess -------------------------------------------------------------------------------
    def prepare(self, row: Row, ahead: dict[str, Any] | None = None) -> Any:
        """The pipeline input for one row; raises ValueError with the reason when the row is unusable.
        `ahead`: inputs already decoded by the prefetcher (input name -> value, or Failed), used as they are."""
        if row.error:
            raise ValueError(row.error)
        decoded = {}
        for name, modality in self.spec.inputs.items():
            value = row.fields.get(name)
            if value is None:
                if name in self.spec.optional_inputs:
                    continue
                raise ValueError(f"missing value for input '{name}'")
            if ahead and name in ahead:
                decoded[name] = ahead[name].raise_error() if isinstance(ahead[name], Failed) else ahead[name]
            else:
                decoded[name] = self.decode(modality, value)
        return self.spec.pipeline_input(decoded, self.pipe, self.own_params)

    def decode(self, modality: str, value: Any) -> Any:
        """One input's raw value (text, path, bytes, array) as the pipeline takes it; ValueError if it cannot be."""
        if modality == DATA:  # structured input (document QA's word boxes): the task reads it
            return value
        if modality == AUDIO:
            return decode_audio(value, self._sampling_rate(), self.base_dir)
        if modality == IMAGE:
            return decode_image(value, self.base_dir)
        return decode_text(value, self.base_dir)

    def _sampling_rate(self) -> int:
        extractor = getattr(self.pipe, "feature_extractor", None)
        return int(getattr(extractor, "sampling_rate", None) or 16000)

    # -- forward ----------------------------------------------------------------------------------
    def run(self, inputs: list, batch_size: int | None = None) -> list:
        """Outputs for `inputs`, in order, one per input (batch_size: this call's, e.g. a trial's)."""
        if batch_size is not None and batch_size != self.batch_size:
            saved, self.batch_size = self.batch_size, batch_size
            try:
                return self.run(inputs)
            finally:
                self.batch_size = saved
        inputs = [dict(x) if isinstance(x, dict) else x for x in inputs]  # pipelines pop keys from dicts
        try:
            outputs = self.spec.call(self.pipe, self.pipeline_task, inputs, self.batch_size, self.params)
        except BaseException as error:
            if is_rust_panic(error):  # not an Exception: it would end the run instead of failing its rows
                raise RuntimeError(f"{type(error).__name__}: {str(error).splitlines()[0]}") from error
            raise
        if len(outputs) != len(inputs):
            raise RuntimeError(f"pipeline returned {len(outputs)} outputs for {len(inputs)} inputs")
        return outputs


def is_rust_panic(error: BaseException) -> bool:
    """A panic inside a Rust extension (a tokenizers stride longer than its window: `max_seq_len` too short
    for the question): pyo3 raises it as a BaseException, which only a bad input or setting causes."""
    return type(error).__name__ == "PanicException" and type(error).__module__ == "pyo3_runtime"


class Failed:
    """A decode that failed ahead of time (in the prefetcher): raised again when its row is prepared,
    so the row fails at its own place, in the same way as without prefetch."""

    def __init__(self, error: Exception):
        self.error = error

    def raise_error(self):
        raise self.error


def field_value(output: Any, name: str) -> Any:
    """One named field of a step's output, for the next step: the top result's field when the
    output is a list of results ([{"summary_text": ...}], top-k labels), else the whole output."""
    value = output
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, dict) and name in value:
        return value[name]
    if isinstance(value, list) and value and isinstance(value[0], dict) and name in value[0]:
        return value[0][name]
    return output


def to_jsonable(value: Any) -> Any:
    """Plain JSON types from pipeline outputs (numpy scalars/arrays, tensors, tuples); a 1-D float32 array
    becomes runner.outputs.sinks.JsonNumbers, which the JSONL writer formats (runner.outputs.sinks.plain gives its list)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if getattr(value, "dtype", None) is not None and str(value.dtype) == "float32" and value.ndim == 1:
        return JsonNumbers(value)  # a float32 vector (a sentence embedding): written compactly, exactly
    if hasattr(value, "getexif") and hasattr(value, "size"):  # a PIL image echoed back in a chat
        return f"<image {value.mode} {value.size[0]}x{value.size[1]}>"
    if hasattr(value, "tolist"):  # numpy arrays and scalars, torch tensors
        return to_jsonable(value.tolist())
    if hasattr(value, "item"):
        return value.item()
    return str(value)
