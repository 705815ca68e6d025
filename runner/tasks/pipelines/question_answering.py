"""Extractive question-answering for transformers 5, which removed the pipeline.

Reproduces transformers 4.57's QuestionAnsweringPipeline (fast tokenizers) number for number:

* preprocess: question and context are tokenized as a pair, the context truncated into overlapping
  windows (`max_seq_len` tokens, `doc_stride` tokens of overlap); each window is one model input.
* _forward: start/end logits for every token of a window.
* postprocess: per window, a softmax over the tokens that may hold an answer, the best
  (start, end) pairs no longer than `max_answer_len` tokens, mapped back to characters of the
  context; the same answer text found in several windows has its scores added up; the answers of
  all windows are sorted by score.

Outputs are `{"score", "start", "end", "answer"}` dicts: one dict when a single answer remains,
a list otherwise (4.x shape, kept as is). Slow (pure-Python) tokenizers are not supported: the
4.x path for them relied on the SQuAD processors that transformers 5 removed.
"""

from __future__ import annotations

import inspect
import types
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from transformers.pipelines.base import ChunkPipeline

_NULL_SCORE_START = 1000000  # "no null answer seen yet"; any real probability product is below it


@dataclass
class QAExample:
    """One question about one context (what 4.x kept in a SquadExample)."""

    question: str
    context: str


def _as_example(item) -> QAExample:
    if isinstance(item, QAExample):
        return item
    if isinstance(item, dict):
        for key in ("question", "context"):
            if key not in item:
                raise KeyError("You need to provide a dictionary with keys {question:..., context:...}")
            if item[key] is None:
                raise ValueError(f"`{key}` cannot be None")
            if isinstance(item[key], str) and not item[key]:
                raise ValueError(f"`{key}` cannot be empty")
        return QAExample(item["question"], item["context"])
    # A 4.x SquadExample (or look-alike) is accepted too.
    if hasattr(item, "question_text") and hasattr(item, "context_text"):
        return QAExample(item.question_text, item.context_text)
    raise ValueError(f"{item} argument needs to be of type (QAExample, dict)")


def _collect_examples(args: tuple, kwargs: dict):
    """Turn the accepted call forms into a list of QAExample (or pass a stream through).

    Accepted: a dict, a list of dicts, (question, context) positionally, or question=/context=
    keywords where either may be a list (one context for many questions, or pairs).
    """
    question = kwargs.pop("question", None)
    context = kwargs.pop("context", None)
    if args:
        if len(args) == 1:
            inputs = args[0]
        elif len(args) == 2 and all(isinstance(a, str) for a in args):
            inputs = [{"question": args[0], "context": args[1]}]
        else:
            inputs = list(args)
    elif question is not None and context is not None:
        if isinstance(question, list) and isinstance(context, str):
            inputs = [{"question": q, "context": context} for q in question]
        elif isinstance(question, list) and isinstance(context, list):
            if len(question) != len(context):
                raise ValueError("Questions and contexts don't have the same lengths")
            inputs = [{"question": q, "context": c} for q, c in zip(question, context)]
        elif isinstance(question, str) and isinstance(context, str):
            inputs = [{"question": question, "context": context}]
        else:
            raise ValueError("Arguments can't be understood")
    else:
        raise ValueError(f"Unknown arguments {kwargs}")

    # Streams are consumed lazily; preprocess validates their items one by one.
    import torch.utils.data

    if isinstance(inputs, (types.GeneratorType, torch.utils.data.Dataset)):
        return inputs
    if isinstance(inputs, dict):
        inputs = [inputs]
    elif isinstance(inputs, Iterable):
        inputs = list(inputs)
    else:
        raise ValueError(f"Invalid arguments {inputs!r}")
    return [_as_example(item) for item in inputs]


def _softmax_whole(logits: np.ndarray) -> np.ndarray:
    # Normalised over the whole (1, L) array, in float32, with the same numpy operations as 4.x so
    # that the scores match bit for bit.
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum()


def _top_spans(start_p: np.ndarray, end_p: np.ndarray, k: int, max_answer_len: int, usable: np.ndarray):
    """The k most likely (start, end) token pairs with start <= end < start + max_answer_len.

    `usable` is the (1, L) 0/1 mask of tokens that may be part of an answer.
    """
    # score(s, e) = p_start(s) * p_end(e), zeroed outside the allowed band above the diagonal.
    pair_scores = np.matmul(start_p[..., None], end_p[:, None, :])
    pair_scores = np.tril(np.triu(pair_scores), max_answer_len - 1)
    flat = pair_scores.flatten()
    if k == 1:
        order = [np.argmax(flat)]
    elif len(flat) < k:
        order = np.argsort(-flat)
    else:
        best = np.argpartition(-flat, k)[:k]
        order = best[np.argsort(-flat[best])]
    starts, ends = np.unravel_index(order, pair_scores.shape)[1:]
    # np.nonzero on the 2-D mask also yields its row indices (all 0), so token 0 always counts as
    # usable here; 4.x tests membership the same way, and it matters once top_k exceeds the number of
    # real candidates (a zero-score empty answer at CLS can then come back).
    allowed = np.concatenate(np.nonzero(usable))
    keep = np.isin(starts, allowed) & np.isin(ends, allowed)
    starts, ends = starts[keep], ends[keep]
    return starts, ends, pair_scores[0, starts, ends]


def _window_spans(start_logits, end_logits, p_mask, attention_mask, null_score, k, handle_impossible, max_answer_len):
    """Best spans of one window, plus the running minimum of the "no answer" (CLS, CLS) score."""
    usable = np.abs(np.asarray(p_mask) - 1)  # p_mask is 1 where no answer may be
    if attention_mask is not None:
        usable = usable & attention_mask  # padding added by batching is never an answer
    blocked = usable == 0
    start_p = _softmax_whole(np.where(blocked, -10000.0, start_logits))
    end_p = _softmax_whole(np.where(blocked, -10000.0, end_logits))
    if handle_impossible:
        null_score = min(null_score, (start_p[0, 0] * end_p[0, 0]).item())
    # CLS stays out of the span search; it only feeds the null answer above.
    start_p[0, 0] = end_p[0, 0] = 0.0
    starts, ends, scores = _top_spans(start_p, end_p, k, max_answer_len, usable)
    return starts, ends, scores, null_score


def _char_span(encoding, first_token: int, last_token: int, sequence_index: int, align_to_words: bool):
    """Character span in the context covered by tokens first..last (widened to whole words if asked)."""
    if align_to_words:
        try:
            first_word = encoding.token_to_word(first_token)
            last_word = encoding.token_to_word(last_token)
            return (
                encoding.word_to_chars(first_word, sequence_index=sequence_index)[0],
                encoding.word_to_chars(last_word, sequence_index=sequence_index)[1],
            )
        except Exception:
            # Special tokens have no word, and some tokenizers no word ids at all: keep token offsets.
            pass
    return encoding.offsets[first_token][0], encoding.offsets[last_token][1]


def _encode_windows(tokenizer, example: QAExample, question_first: bool, padding, doc_stride: int, max_seq_len: int):
    """Question and context tokenized as a pair, the context cut into overlapping windows. Models padded
    on the left read "context, question": truncation must then hit the first text."""
    try:
        return tokenizer(
            text=example.question if question_first else example.context,
            text_pair=example.context if question_first else example.question,
            padding=padding,
            truncation="only_second" if question_first else "only_first",
            max_length=max_seq_len,
            stride=doc_stride,
            return_token_type_ids=True,
            return_overflowing_tokens=True,  # a long context becomes several windows
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
        )
    except BaseException as error:
        # The Rust tokenizer panics (a BaseException) when the overlap does not fit in the room the
        # question leaves; 4.x let that through. Same condition, but an ordinary, explicit error.
        if type(error).__name__ != "PanicException":
            raise
        raise ValueError(
            f"doc_stride={doc_stride} does not fit in the context part of a {max_seq_len}-token window "
            f"once the question is in: lower doc_stride or raise max_seq_len ({error})"
        ) from None


def _p_mask(encoded, index: int, question_first: bool, cls_id: int | None) -> list[int]:
    """1 where the answer cannot be. Only context tokens (sequence id 1) are allowed when the question
    comes first; with the context first, 4.x masks nothing, and so do we."""
    ids = encoded["input_ids"][index]
    if question_first:
        p_mask = [int(seq_id != 1) for seq_id in encoded.sequence_ids(index)]
    else:
        p_mask = [0] * len(ids)
    if cls_id is not None:
        # CLS stays allowed: its score is the "no answer" score of SQuAD 2-style models.
        for position, token_id in enumerate(ids):
            if token_id == cls_id:
                p_mask[position] = 0
    return p_mask


def _add_answers(answers: list[dict], window, spans, sequence_index: int, align_to_words: bool) -> None:
    """The window's (first token, last token, score) spans as answer texts; the same text (case-insensitive)
    from another span or window is one answer, its scores summed."""
    context = window["example"].context
    for first, last, score in spans:
        char_start, char_end = _char_span(window["encoding"], first, last, sequence_index, align_to_words)
        text = context[char_start:char_end]
        same = next((a for a in answers if a["answer"].lower() == text.lower()), None)
        if same is not None:
            same["score"] += score.item()
        else:
            answers.append({"score": score.item(), "start": char_start, "end": char_end, "answer": text})


class QuestionAnsweringPipeline(ChunkPipeline):
    """Answers a question by extracting a span of the context, with any `*ForQuestionAnswering` model."""

    _load_processor = False
    _load_image_processor = False
    _load_video_processor = False
    _load_feature_extractor = False
    _load_tokenizer = True

    default_input_names = "question,context"
    handle_impossible_answer = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from transformers.models.auto.modeling_auto import MODEL_FOR_QUESTION_ANSWERING_MAPPING_NAMES

        self.check_model_type(MODEL_FOR_QUESTION_ANSWERING_MAPPING_NAMES)

    # -- parameters ---------------------------------------------------------------------------
    def _sanitize_parameters(
        self,
        padding=None,
        topk=None,
        top_k=None,
        doc_stride=None,
        max_answer_len=None,
        max_seq_len=None,
        max_question_len=None,
        handle_impossible_answer=None,
        align_to_words=None,
        **kwargs,
    ):
        preprocess = {
            name: value
            for name, value in (
                ("padding", padding),
                ("doc_stride", doc_stride),
                ("max_question_len", max_question_len),
                ("max_seq_len", max_seq_len),
            )
            if value is not None
        }
        postprocess = {}
        if topk is not None and top_k is None:
            warnings.warn("topk parameter is deprecated, use top_k instead", UserWarning, stacklevel=2)
            top_k = topk
        if top_k is not None:
            if top_k < 1:
                raise ValueError(f"top_k parameter should be >= 1 (got {top_k})")
            postprocess["top_k"] = top_k
        if max_answer_len is not None:
            if max_answer_len < 1:
                raise ValueError(f"max_answer_len parameter should be >= 1 (got {max_answer_len}")
            postprocess["max_answer_len"] = max_answer_len
        if handle_impossible_answer is not None:
            postprocess["handle_impossible_answer"] = handle_impossible_answer
        if align_to_words is not None:
            postprocess["align_to_words"] = align_to_words
        return preprocess, {}, postprocess

    def __call__(self, *args, **kwargs):
        """`pipe(question=..., context=...)`, `pipe({"question":..., "context":...})` or a list of such dicts.

        Extra keywords: top_k, doc_stride, max_answer_len, max_seq_len, max_question_len, padding,
        handle_impossible_answer, align_to_words, batch_size, num_workers.
        """
        examples = _collect_examples(args, kwargs)
        if isinstance(examples, list):
            if not examples:
                return []
            if len(examples) == 1:  # a one-item list answers like a single input (4.x does the same)
                return super().__call__(examples[0], **kwargs)
        return super().__call__(examples, **kwargs)

    # -- steps --------------------------------------------------------------------------------
    def preprocess(self, example, padding="do_not_pad", doc_stride=None, max_question_len=64, max_seq_len=None):
        import torch

        example = _as_example(example)
        if max_seq_len is None:
            max_seq_len = min(self.tokenizer.model_max_length, 384)
        if doc_stride is None:
            doc_stride = min(max_seq_len // 2, 128)
        if doc_stride > max_seq_len:
            raise ValueError(f"`doc_stride` ({doc_stride}) is larger than `max_seq_len` ({max_seq_len})")
        if not self.tokenizer.is_fast:
            raise ValueError(
                "The question-answering pipeline needs a fast (tokenizers-backed) tokenizer: it maps answer "
                "tokens back to the context through the tokenizer's offsets."
            )
        # `max_question_len` only bounded the question in 4.x's slow-tokenizer path; accepted, unused.

        question_first = self.tokenizer.padding_side == "right"
        encoded = _encode_windows(self.tokenizer, example, question_first, padding, doc_stride, max_seq_len)
        n_windows = len(encoded["input_ids"])
        for index in range(n_windows):
            window = {"example": example, "is_last": index == n_windows - 1}
            for name in ("input_ids", "attention_mask", "token_type_ids"):
                if name in encoded:
                    window[name] = torch.tensor(encoded[name][index], dtype=torch.long).unsqueeze(0)
            p_mask = _p_mask(encoded, index, question_first, self.tokenizer.cls_token_id)
            window["p_mask"] = torch.tensor(p_mask, dtype=torch.long).unsqueeze(0)
            window["encoding"] = encoded[index]  # tokenizers.Encoding: offsets and word ids of this window
            yield window

    def _forward(self, window):
        model_inputs = {name: window[name] for name in self.tokenizer.model_input_names}
        if "use_cache" in inspect.signature(self.model.forward).parameters:
            model_inputs["use_cache"] = False
        output = self.model(**model_inputs)
        if isinstance(output, dict):
            start, end = output["start_logits"], output["end_logits"]
        else:
            start, end = output[:2]
        # "start" first: the batch unpacker reads the batch size off the first entry.
        return {"start": start, "end": end, **window}

    def postprocess(self, windows, top_k=1, handle_impossible_answer=False, max_answer_len=15, align_to_words=True):
        import torch

        question_first = self.tokenizer.padding_side == "right"
        sequence_index = 1 if question_first else 0  # which text of the pair is the context
        # Aligning to words can merge candidates into one answer: ask for more, as 4.x does.
        n_candidates = top_k * 2 + 10 if align_to_words else top_k
        null_score = _NULL_SCORE_START
        answers: list[dict] = []
        for window in windows:
            start, end = window["start"], window["end"]
            if start.dtype == torch.bfloat16:  # numpy has no bfloat16
                start, end = start.to(torch.float32), end.to(torch.float32)
            attention_mask = window.get("attention_mask")
            attention_mask = attention_mask.numpy() if attention_mask is not None else None
            starts, ends, scores, null_score = _window_spans(
                start.numpy(),
                end.numpy(),
                window["p_mask"].numpy(),
                attention_mask,
                null_score,
                n_candidates,
                handle_impossible_answer,
                max_answer_len,
            )
            # Token indices count batch padding on the left; the window's own encoding does not.
            shift = 0
            if self.tokenizer.padding_side == "left":
                shift = (window["input_ids"] == self.tokenizer.pad_token_id).numpy().sum()
            spans = [(first - shift, last - shift, score) for first, last, score in zip(starts, ends, scores)]
            _add_answers(answers, window, spans, sequence_index, align_to_words)

        if handle_impossible_answer:
            answers.append({"score": null_score, "start": 0, "end": 0, "answer": ""})
        answers = sorted(answers, key=lambda answer: answer["score"], reverse=True)[:top_k]
        return answers[0] if len(answers) == 1 else answers
