"""Images in: labels, boxes, captions, answers."""

from __future__ import annotations

import json
from typing import Any

from runner.tasks.base import DATA, IMAGE, TEXT, Port, Task

IMAGE_TEXT = "image-text-to-text"


def image_text_chat(image, text: str | None) -> list[dict]:
    content = [{"type": "image", "image": image}]
    if text:
        content.append({"type": "text", "text": text})
    return [{"role": "user", "content": content}]


class ImageToText(Task):
    def call(self, pipe, pipeline_task: str, inputs: list, batch_size: int, params: dict) -> list:
        if pipeline_task != IMAGE_TEXT:
            return super().call(pipe, pipeline_task, inputs, batch_size, params)
        # transformers 5 captions through image-text-to-text, which insists on a text: give an empty one.
        return list(pipe(images=inputs, text=[""] * len(inputs), batch_size=batch_size, **params))


class ImageTextToText(Task):
    def split_params(self, params: dict) -> tuple[dict, dict]:
        # `prompt` is ours: the text of rows that bring none; the rest go to the pipeline.
        params = dict(params)
        return params, {"prompt": params.pop("prompt", None)}

    def pipeline_input(self, decoded: dict[str, Any], pipe, own: dict) -> Any:
        return {"images": decoded["image"], "text": decoded.get("text") or own.get("prompt")}

    def call(self, pipe, pipeline_task: str, inputs: list, batch_size: int, params: dict) -> list:
        """With a chat template, each row becomes a one-message chat: the template puts the image tokens
        where the model expects them. Without one, image and text go in as they are."""
        if getattr(getattr(pipe, "processor", None), "chat_template", None):
            chats = [image_text_chat(x["images"], x["text"]) for x in inputs]
            return list(pipe(text=chats, batch_size=batch_size, **params))
        images = [x["images"] for x in inputs]
        texts = [x["text"] or "" for x in inputs]
        return list(pipe(images=images, text=texts, batch_size=batch_size, **params))


class VisualQuestionAnswering(Task):
    def falls_back_to(self, supported: set[str], is_generative_vlm) -> list[str] | None:
        """A generative VLM (no answer-classification head) answers through image-text-to-text."""
        return [IMAGE_TEXT] if is_generative_vlm() else None

    def call(self, pipe, pipeline_task: str, inputs: list, batch_size: int, params: dict) -> list:
        if pipeline_task != IMAGE_TEXT:
            return super().call(pipe, pipeline_task, inputs, batch_size, params)
        # The VLM answers a visual question as a chat; the output says which pipeline answered.
        chats = [image_text_chat(x["image"], x["question"]) for x in inputs]
        params = {k: v for k, v in params.items() if k != "top_k"}
        params.setdefault("return_full_text", False)
        outputs = pipe(text=chats, batch_size=batch_size, **params)
        return [[{"answer": out[0]["generated_text"].strip(), "pipeline": IMAGE_TEXT}] for out in outputs]


class ImageSegmentation(Task):
    def record_output(self, output: Any, media) -> Any:
        """Each segment's mask (a PIL "L" image the input's size) goes to a PNG file; score is None for
        semantic models (Segformer), a number for panoptic and instance ones."""
        return [
            {
                "score": segment.get("score"),
                "label": segment["label"],
                "mask": media.image(segment["mask"], f"mask-{i}"),
            }
            for i, segment in enumerate(output)
        ]


class DocumentQuestionAnswering(Task):
    """Rows bring `word_boxes` ([word, [x0, y0, x1, y1]] pairs, coordinates 0..1000: a JSON string in a
    CSV column, or a list) or an image the pipeline can OCR (pytesseract and tesseract installed)."""

    def pipeline_input(self, decoded: dict[str, Any], pipe, own: dict) -> Any:
        row = {"question": decoded["question"]}
        if decoded.get("image") is not None:
            row["image"] = decoded["image"]
        if decoded.get("word_boxes") is not None:
            row["word_boxes"] = word_boxes(decoded["word_boxes"])  # never None: the pipeline tests the key
        elif "image" not in row:
            raise ValueError("a row needs word_boxes or an image to read the words from")
        return row

    def call(self, pipe, pipeline_task: str, inputs: list, batch_size: int, params: dict) -> list:
        # In a batch, rows of different token lengths fail in the pipeline's postprocess (its p_mask is
        # not padded, the attention mask is); padding every span to max_seq_len gives batch size 1's answers.
        if batch_size > 1:
            params = {"padding": "max_length", **params}
        outputs = pipe(inputs, batch_size=batch_size, **params)
        return [output if isinstance(output, list) else [output] for output in outputs]


class ZeroShotObjectDetection(Task):
    def call(self, pipe, pipeline_task: str, inputs: list, batch_size: int, params: dict) -> list:
        # Each image goes in with the labels: given a list of images and one label list, 4.x pairs image i
        # with label i (dropping images beyond the labels); {"image", "candidate_labels"} rows work in both.
        params = dict(params)
        labels = list(params.pop("candidate_labels"))
        rows = [{"image": image, "candidate_labels": labels} for image in inputs]
        return super().call(pipe, pipeline_task, rows, batch_size, params)


class DepthEstimation(Task):
    def record_output(self, output: Any, media) -> Any:
        """The depth map (the pipeline's min-max scaled "L" image) goes to a PNG file; the raw prediction,
        one number per pixel, is summarised: with the PNG, min and max give it back to within (max-min)/255."""
        depth = output["predicted_depth"]
        return {
            "depth": media.image(output["depth"], "depth"),
            "predicted_depth": {
                "shape": list(depth.shape),
                "min": float(depth.min()),
                "max": float(depth.max()),
                "mean": float(depth.float().mean()),
            },
        }


def word_boxes(value) -> list[tuple[str, list[int]]]:
    if isinstance(value, str):
        value = json.loads(value)
    try:
        boxes = [(str(word), [int(round(float(c))) for c in box]) for word, box in value]
    except (TypeError, ValueError) as error:
        raise ValueError(f"word_boxes must be a list of [word, [x0, y0, x1, y1]] pairs: {error}") from None
    if any(len(box) != 4 or min(box) < 0 or max(box) > 1000 for _, box in boxes):
        raise ValueError("each word box needs 4 coordinates scaled to 0..1000")
    return boxes


TASKS = [
    Task(
        "image-classification",
        {"image": IMAGE},
        {"label": TEXT, "score": DATA},
        ("google/vit-base-patch16-224", "3f49326"),
        "vit",
    ),
    ImageToText(
        # transformers 5 folded image-to-text into image-text-to-text (which also takes the
        # vision-encoder-decoder captioners); 4.x still has the original pipeline.
        "image-to-text",
        {"image": IMAGE},
        {"generated_text": TEXT},
        ("ydshieh/vit-gpt2-coco-en", "5bebf1e"),
        "vit_gpt2",
        aliases=("caption", "captioning"),
        pipeline_tasks=("image-to-text", IMAGE_TEXT),
        generative=True,
    ),
    ImageTextToText(
        IMAGE_TEXT,
        {"image": IMAGE, "text": TEXT},
        {"generated_text": TEXT},
        ("Qwen/Qwen3-VL-2B-Instruct", "8964489"),
        "llava",
        aliases=("vlm",),
        optional_inputs=("text",),
        generative=True,
        sample_columns={"text": "question"},
    ),
    VisualQuestionAnswering(
        # transformers 5 removed this pipeline: the runner provides it there (tasks/pipelines/).
        "visual-question-answering",
        {"image": IMAGE, "question": TEXT},
        {"answer": TEXT, "score": DATA},
        ("dandelin/vilt-b32-finetuned-vqa", "d0a1f6a"),
        "vilt",
        aliases=("vqa",),
        pipeline_tasks=("visual-question-answering", "runner-visual-question-answering"),
        port=Port(
            "visual_question_answering",
            "VisualQuestionAnsweringPipeline",
            "AutoModelForVisualQuestionAnswering",
            kind="multimodal",
        ),
    ),
    Task(
        "object-detection",
        {"image": IMAGE},
        {"boxes": DATA},
        ("facebook/detr-resnet-50", "1d5f47b"),
        "yolos",
        aliases=("detection",),
    ),
    ImageSegmentation(
        "image-segmentation",
        {"image": IMAGE},
        {"segments": DATA},
        ("facebook/detr-resnet-50-panoptic", "d53b52a"),
        "segformer",
        aliases=("segmentation",),
    ),
    DocumentQuestionAnswering(
        "document-question-answering",
        {"question": TEXT, "image": IMAGE, "word_boxes": DATA},
        {"answer": TEXT, "score": DATA},
        ("impira/layoutlm-document-qa", "beed3c4"),
        "layoutlm",
        aliases=("document-qa", "docqa"),
        optional_inputs=("image", "word_boxes"),
    ),
    Task(
        "zero-shot-image-classification",
        {"image": IMAGE},
        {"label": TEXT, "score": DATA},
        ("openai/clip-vit-base-patch32", "3d74acf"),
        "clip",
    ),
    ZeroShotObjectDetection(
        "zero-shot-object-detection",
        {"image": IMAGE},
        {"boxes": DATA},
        ("google/owlvit-base-patch32", "cbc355f"),
        "owlvit",
    ),
    DepthEstimation(
        # A later step can take the depth map as an image.
        "depth-estimation",
        {"image": IMAGE},
        {"depth": IMAGE},
        ("Intel/dpt-large", "bc15f29"),
        "dpt",
        aliases=("depth",),
    ),
]
