"""visual-question-answering for transformers 5, which removed it.

For models with a classification head over answers (ViLT): the question is tokenized, the image
processed, and the top-k answers come back with sigmoid scores, as in 4.x: `[{"score", "answer"}]`.
Generative vision-language models are not served here: the runner routes them to the
image-text-to-text pipeline (see VisualQuestionAnswering in runner/tasks/vision.py) and says so in each output.
"""

from __future__ import annotations

from transformers import Pipeline
from transformers.image_utils import load_image


class VisualQuestionAnsweringPipeline(Pipeline):
    _load_processor = False
    _load_image_processor = True
    _load_feature_extractor = False
    _load_tokenizer = True

    def _sanitize_parameters(self, top_k=None, padding=None, truncation=None, timeout=None, **kwargs):
        preprocess = {
            k: v for k, v in {"padding": padding, "truncation": truncation, "timeout": timeout}.items() if v is not None
        }
        postprocess = {} if top_k is None else {"top_k": top_k}
        return preprocess, {}, postprocess

    def __call__(self, image, question=None, **kwargs):
        """`pipe(image, question)`, `pipe({"image", "question"})` or a list of such mappings."""
        if question is not None:
            image = {"image": image, "question": question}
        return super().__call__(image, **kwargs)

    def preprocess(self, inputs, padding=False, truncation=False, timeout=None):
        image = load_image(inputs["image"], timeout=timeout)
        model_inputs = self.tokenizer(inputs["question"], return_tensors="pt", padding=padding, truncation=truncation)
        pixels = self.image_processor(images=image, return_tensors="pt").to(self.dtype)
        model_inputs.update(pixels)
        return model_inputs

    def _forward(self, model_inputs):
        return self.model(**model_inputs)

    def postprocess(self, model_outputs, top_k=5):
        top_k = min(top_k, self.model.config.num_labels)
        # Answers are independent labels (a question may have several right answers): sigmoid, not softmax.
        scores, ids = model_outputs.logits.sigmoid()[0].topk(top_k)
        labels = self.model.config.id2label
        return [{"score": score, "answer": labels[index]} for score, index in zip(scores.tolist(), ids.tolist())]
