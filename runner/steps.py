"""A pipeline step: prepare a row's fields for its task, run a batch, make outputs JSON-ready.

The shape follows transformers' own Pipeline (preprocess -> forward -> postprocess), one level up:
`prepare` decodes one row (a failure there fails that row only), `run` calls the loaded pipeline on
a list of prepared inputs with the task parameters, `to_jsonable` turns outputs into plain JSON.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from runner.sources import Row
from runner.sources.decode import decode_audio, decode_image, decode_text
from runner.tasks import AUDIO, IMAGE, TaskSpec

MASK_SPELLINGS = ("<mask>", "[MASK]")


class PipelineStep:
    def __init__(self, name: str, spec: TaskSpec, pipe, pipeline_task: str, params: dict, batch_size: int,
                 base_dir: Path | None = None):
        self.name = name
        self.spec = spec
        self.pipe = pipe
        self.pipeline_task = pipeline_task
        self.params = dict(params)
        self.batch_size = batch_size
        self.base_dir = base_dir
        # `prompt` is ours for image-text-to-text (the text of rows that bring none); the rest go to the pipeline.
        self.default_prompt = self.params.pop("prompt", None) if spec.id == "image-text-to-text" else None

    # -- preprocess -------------------------------------------------------------------------------
    def prepare(self, row: Row) -> Any:
        """The pipeline input for one row; raises ValueError with the reason when the row is unusable."""
        if row.error:
            raise ValueError(row.error)
        decoded = {}
        for name, modality in self.spec.inputs.items():
            value = row.fields.get(name)
            if value is None:
                if name in self.spec.optional_inputs:
                    continue
                raise ValueError(f"missing value for input '{name}'")
            decoded[name] = self._decode(modality, value)
        return self._pipeline_input(decoded)

    def _decode(self, modality: str, value: Any) -> Any:
        if modality == AUDIO:
            return decode_audio(value, self._sampling_rate(), self.base_dir)
        if modality == IMAGE:
            return decode_image(value, self.base_dir)
        return decode_text(value, self.base_dir)

    def _sampling_rate(self) -> int:
        extractor = getattr(self.pipe, "feature_extractor", None)
        return int(getattr(extractor, "sampling_rate", None) or 16000)

    def _pipeline_input(self, decoded: dict) -> Any:
        if self.spec.id == "fill-mask":
            return self._with_model_mask_token(decoded["text"])
        if self.spec.id == "image-text-to-text":
            text = decoded.get("text") or self.default_prompt
            return {"images": decoded["image"], "text": text}
        if len(self.spec.inputs) > 1:  # question-answering {question, context}, VQA {image, question}
            return decoded
        return decoded[self.spec.primary_input]

    def _with_model_mask_token(self, text: str) -> str:
        """Accept either common mask spelling, whatever the model's tokenizer calls its mask token."""
        mask = self.pipe.tokenizer.mask_token
        for spelling in MASK_SPELLINGS:
            if spelling != mask:
                text = text.replace(spelling, mask)
        if mask not in text:
            raise ValueError(f"no mask token in the text (write {mask} where the model should fill in)")
        return text

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
        if self.spec.id == "image-text-to-text":
            outputs = self._run_image_text(inputs)
        elif self.spec.id == "visual-question-answering" and self.pipeline_task == "image-text-to-text":
            outputs = self._run_vqa_as_image_text(inputs)
        elif self.spec.id == "image-to-text" and self.pipeline_task == "image-text-to-text":
            # transformers 5 captions through image-text-to-text, which insists on a text: give an empty one.
            outputs = self.pipe(images=inputs, text=[""] * len(inputs), batch_size=self.batch_size, **self.params)
        else:
            outputs = self.pipe(inputs, batch_size=self.batch_size, **self.params)
        if self.spec.id == "question-answering" and len(inputs) == 1:
            outputs = [outputs]  # like 4.x, one question in gives its answer(s) back unwrapped
        outputs = list(outputs)
        if len(outputs) != len(inputs):
            raise RuntimeError(f"pipeline returned {len(outputs)} outputs for {len(inputs)} inputs")
        return outputs

    def _run_image_text(self, inputs: list) -> list:
        """With a chat template, each row becomes a one-message chat: the template puts the image tokens
        where the model expects them. Without one, image and text go in as they are."""
        if getattr(getattr(self.pipe, "processor", None), "chat_template", None):
            chats = [image_text_chat(x["images"], x["text"]) for x in inputs]
            return self.pipe(text=chats, batch_size=self.batch_size, **self.params)
        images = [x["images"] for x in inputs]
        texts = [x["text"] or "" for x in inputs]
        return self.pipe(images=images, text=texts, batch_size=self.batch_size, **self.params)

    def _run_vqa_as_image_text(self, inputs: list) -> list:
        """A generative VLM answers a visual question as a chat; the output says which pipeline answered."""
        chats = [image_text_chat(x["image"], x["question"]) for x in inputs]
        params = {k: v for k, v in self.params.items() if k != "top_k"}
        params.setdefault("return_full_text", False)
        outputs = self.pipe(text=chats, batch_size=self.batch_size, **params)
        return [[{"answer": out[0]["generated_text"].strip(), "pipeline": "image-text-to-text"}] for out in outputs]


def image_text_chat(image, text: str | None) -> list[dict]:
    content = [{"type": "image", "image": image}]
    if text:
        content.append({"type": "text", "text": text})
    return [{"role": "user", "content": content}]


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
    """Plain JSON types from pipeline outputs (numpy scalars/arrays, tensors, tuples)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "getexif") and hasattr(value, "size"):  # a PIL image echoed back in a chat
        return f"<image {value.mode} {value.size[0]}x{value.size[1]}>"
    if hasattr(value, "tolist"):  # numpy arrays and scalars, torch tensors
        return to_jsonable(value.tolist())
    if hasattr(value, "item"):
        return value.item()
    return str(value)
