"""text2text-generation, summarization and translation for transformers 5, which removed them.

Encoder-decoder models (BART, T5, Marian, Pegasus ...) all work the same way: prefix and tokenize the
text, `generate`, decode. The outputs have the 4.x shape, `{"<name>_text": ...}` per sequence, and
the generation settings follow the 4.x priority: call arguments, then the model's
`task_specific_params` for the task (T5's "summarize: " prefix, beam settings), then the model's
generation config, then the pipeline defaults (max_new_tokens=256, num_beams=4).
"""

from __future__ import annotations

import logging

from transformers import GenerationConfig, Pipeline

log = logging.getLogger(__name__)


class Text2TextPipeline(Pipeline):
    _pipeline_calls_generate = True
    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False
    _load_tokenizer = True
    _default_generation_config = GenerationConfig(max_new_tokens=256, num_beams=4)

    output_name = "generated"
    legacy_task = "text2text-generation"  # the key looked up in config.task_specific_params

    def __init__(self, *args, **kwargs):
        task_key = self.task_params_key(kwargs)
        super().__init__(*args, **kwargs)
        self._apply_task_specific_params(task_key)

    def task_params_key(self, init_kwargs: dict) -> str:
        return self.legacy_task

    def _apply_task_specific_params(self, key: str) -> None:
        """Like 4.x: the model's per-task settings sit above its generation config, below call arguments."""
        task_params = dict((getattr(self.model.config, "task_specific_params", None) or {}).get(key) or {})
        if "prefix" in task_params:
            self.prefix = task_params.pop("prefix")
        self._generate_kwargs = {**task_params, **self._generate_kwargs}

    # -- parameters ---------------------------------------------------------------------------
    def _sanitize_parameters(
        self,
        return_tensors=None,
        return_text=None,
        clean_up_tokenization_spaces=None,
        truncation=None,
        stop_sequence=None,
        **generate_kwargs,
    ):
        preprocess = {} if truncation is None else {"truncation": truncation}
        postprocess = {}
        if return_tensors is not None:
            postprocess["return_tensors"] = bool(return_tensors)
        if clean_up_tokenization_spaces is not None:
            postprocess["clean_up_tokenization_spaces"] = clean_up_tokenization_spaces
        if stop_sequence is not None:
            # generate() stops on single tokens only: the first token of the sequence stands for it.
            generate_kwargs["eos_token_id"] = self.tokenizer.encode(stop_sequence, add_special_tokens=False)[0]
        return preprocess, generate_kwargs, postprocess

    # -- preprocess -----------------------------------------------------------------------------
    def tokenize(self, text, truncation=False):
        if not isinstance(text, str):
            raise TypeError(f"expected a string, got {type(text).__name__}")
        encoded = self.tokenizer(f"{self.prefix or ''}{text}", truncation=truncation, return_tensors="pt")
        encoded.pop("token_type_ids", None)  # seq2seq models take no segment ids
        return encoded

    def preprocess(self, text, truncation=False):
        return self.tokenize(text, truncation=truncation)

    # -- forward --------------------------------------------------------------------------------
    def warn_about_lengths(self, input_length: int, generate_kwargs: dict) -> None:
        """Hook for task-specific advice about the requested lengths."""

    def _forward(self, model_inputs, **generate_kwargs):
        batch, input_length = model_inputs["input_ids"].shape
        generate_kwargs = self._prepare_generate_kwargs(generate_kwargs)
        self.warn_about_lengths(input_length, generate_kwargs)
        output_ids = self.model.generate(**model_inputs, **generate_kwargs)
        # generate() returns num_return_sequences rows per input: regroup them per input.
        return {"output_ids": output_ids.reshape(batch, output_ids.shape[0] // batch, *output_ids.shape[1:])}

    # -- postprocess ----------------------------------------------------------------------------
    def postprocess(self, model_outputs, return_tensors=False, clean_up_tokenization_spaces=False):
        if return_tensors:
            return [{f"{self.output_name}_token_ids": ids} for ids in model_outputs["output_ids"][0]]
        return [
            {
                f"{self.output_name}_text": self.tokenizer.decode(
                    ids, skip_special_tokens=True, clean_up_tokenization_spaces=clean_up_tokenization_spaces
                )
            }
            for ids in model_outputs["output_ids"][0]
        ]

    def __call__(self, inputs, **kwargs):
        results = super().__call__(inputs, **kwargs)
        # 4.x shape: a list of strings gives one dict per string when each has a single sequence.
        if isinstance(inputs, list) and all(isinstance(x, str) for x in inputs) and all(len(r) == 1 for r in results):
            return [r[0] for r in results]
        return results


class SummarizationPipeline(Text2TextPipeline):
    output_name = "summary"
    legacy_task = "summarization"

    def warn_about_lengths(self, input_length, generate_kwargs):
        config = self.model.generation_config
        max_length = generate_kwargs.get("max_length", config.max_length)
        min_length = generate_kwargs.get("min_length", config.min_length)
        if max_length is not None and min_length is not None and max_length < min_length:
            log.warning("min_length=%s is larger than max_length=%s", min_length, max_length)
        if max_length is not None and input_length < max_length:
            log.debug(
                "max_length=%s exceeds the input's %s tokens: a summary is usually shorter", max_length, input_length
            )


class TranslationPipeline(Text2TextPipeline):
    output_name = "translation"
    legacy_task = "translation"

    def task_params_key(self, init_kwargs):
        # T5 keeps its prompt per language pair, under "translation_<src>_to_<tgt>".
        src, tgt = init_kwargs.get("src_lang"), init_kwargs.get("tgt_lang")
        return f"translation_{src}_to_{tgt}" if src and tgt else self.legacy_task

    def _sanitize_parameters(self, src_lang=None, tgt_lang=None, **kwargs):
        preprocess, forward, postprocess = super()._sanitize_parameters(**kwargs)
        if src_lang is not None:
            preprocess["src_lang"] = src_lang
        if tgt_lang is not None:
            preprocess["tgt_lang"] = tgt_lang
        return preprocess, forward, postprocess

    def preprocess(self, text, truncation=False, src_lang=None, tgt_lang=None):
        # Multilingual tokenizers (M2M100, NLLB, mBART) build their own inputs, with language tokens.
        if hasattr(self.tokenizer, "_build_translation_inputs"):
            return self.tokenizer._build_translation_inputs(
                text, return_tensors="pt", truncation=truncation, src_lang=src_lang, tgt_lang=tgt_lang
            )
        return self.tokenize(text, truncation=truncation)

    def warn_about_lengths(self, input_length, generate_kwargs):
        max_length = generate_kwargs.get("max_length", self.model.generation_config.max_length)
        if max_length is not None and input_length > 0.9 * max_length:
            log.warning(
                "input of %s tokens is close to max_length=%s: the translation may be cut", input_length, max_length
            )
