"""Sentence embeddings the way the model says: one vector per row, pooled from the token states.

A sentence-transformers model folder describes its own head: `modules.json` lists the modules
(Transformer, Pooling, Normalize), `1_Pooling/config.json` the pooling mode(s), and
`sentence_bert_config.json` the longest input it reads (`max_seq_length`) and whether it lower-cases
text. `pooling=auto` follows those files; a folder without them is mean-pooled (what sentence-transformers
itself does with a plain transformers model) and not normalised. `task.params.pooling` / `normalize`
override; `pooling=none` keeps the pipeline's per-token output.

The pooled path tokenizes a whole batch at once and calls the pipeline's own model and tokenizer with the
pipeline's tokenizer arguments (`truncation`, `tokenize_kwargs`): the hidden states are those
`pipeline("feature-extraction")` returns, pooled and normalised with the attention mask, on the model's
device, so only one vector per row comes back to the CPU. No DataLoader and no per-row pre/postprocess.
"""

from __future__ import annotations

import json
import logging
import os
import weakref
from dataclasses import dataclass

POOLING_MODES = ("mean", "cls", "max", "last", "mean_sqrt_len")
# 1_Pooling/config.json keys, in the order sentence-transformers concatenates the modes they turn on.
_ST_MODES = (
    ("pooling_mode_cls_token", "cls"),
    ("pooling_mode_max_tokens", "max"),
    ("pooling_mode_mean_tokens", "mean"),
    ("pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len"),
    ("pooling_mode_lasttoken", "last"),
)
_ST_UNSUPPORTED = ("pooling_mode_weightedmean_tokens",)


@dataclass(frozen=True)
class Pooling:
    modes: tuple[str, ...]  # concatenated in this order (one mode: one vector of the hidden size)
    normalize: bool
    max_length: int | None = None  # sentence_bert_config.json max_seq_length: longer rows are truncated
    lower_case: bool = False
    source: str = "default"  # where the settings came from: "sentence-transformers" files or "default"

    def describe(self) -> str:
        cut = f", at most {self.max_length} tokens" if self.max_length else ""
        return f"{'+'.join(self.modes)} pooling{', normalised' if self.normalize else ''}{cut} ({self.source})"


log = logging.getLogger(__name__)

_RESOLVED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # pipeline -> {(pooling, normalize): Pooling}


def pooling_for(pipe, pooling: str | None, normalize: bool | None) -> Pooling | None:
    """The pooling of `pipe`'s model for these parameters, read once per pipeline; None for pooling=none."""
    if pooling == "none":
        return None
    per_pipe = _RESOLVED.setdefault(pipe, {})
    key = (pooling or "auto", normalize)
    if key not in per_pipe:
        per_pipe[key] = resolve(model_files(pipe), pooling or "auto", normalize)
        log.info("sentence vectors: %s; task.params.pooling=none writes every token's vector", per_pipe[key].describe())
    return per_pipe[key]


def resolve(files: "ModelFiles", pooling: str, normalize: bool | None) -> Pooling:
    """Pooling from the parameters, falling back to the model folder's sentence-transformers files."""
    if pooling == "auto":
        modes = files.declared_pooling() or ("mean",)
    elif pooling in POOLING_MODES:
        modes = (pooling,)
    else:
        raise ValueError(
            f"task.params.pooling={pooling!r} is not known; allowed: auto, none, {', '.join(POOLING_MODES)}"
        )
    settings = files.sentence_config()
    return Pooling(
        modes=modes,
        normalize=files.normalizes() if normalize is None else bool(normalize),
        max_length=settings.get("max_seq_length"),
        lower_case=bool(settings.get("do_lower_case")),
        source="the model's sentence-transformers files" if files.modules() is not None else "default",
    )


class ModelFiles:
    """The sentence-transformers files of a model: a local folder, or the Hub cache for a model id (never
    downloaded here: the runner loads offline or from what is already cached)."""

    def __init__(self, location: str | None):
        self.location = location

    def read(self, name: str):
        path = self._path(name)
        if path is None:
            return None
        with open(path, encoding="utf-8") as f:
            return json.load(f)

    def _path(self, name: str) -> str | None:
        if not self.location:
            return None
        if os.path.isdir(self.location):
            path = os.path.join(self.location, name)
            return path if os.path.isfile(path) else None
        from transformers.utils import cached_file

        try:
            return cached_file(
                self.location,
                name,
                local_files_only=True,
                _raise_exceptions_for_missing_entries=False,
                _raise_exceptions_for_connection_errors=False,
            )
        except (OSError, ValueError):
            return None

    def modules(self) -> list[dict] | None:
        modules = self.read("modules.json")
        return modules if isinstance(modules, list) else None

    def _module(self, kind: str) -> dict | None:
        return next((m for m in self.modules() or [] if str(m.get("type", "")).endswith(f".{kind}")), None)

    def declared_pooling(self) -> tuple[str, ...] | None:
        module = self._module("Pooling")
        if module is None:
            return None
        config = self.read(f"{module.get('path') or '1_Pooling'}/config.json") or {}
        unsupported = [key for key in _ST_UNSUPPORTED if config.get(key)]
        if unsupported:
            raise ValueError(
                f"{self.location}: {', '.join(unsupported)} is not supported; "
                f"set task.params.pooling to one of {', '.join(POOLING_MODES)}"
            )
        return tuple(mode for key, mode in _ST_MODES if config.get(key)) or None

    def normalizes(self) -> bool:
        return self._module("Normalize") is not None

    def sentence_config(self) -> dict:
        config = self.read("sentence_bert_config.json") if self.modules() is not None else None
        return config if isinstance(config, dict) else {}


def model_files(pipe) -> ModelFiles:
    model = getattr(pipe, "model", None)
    return ModelFiles(getattr(model, "name_or_path", None) or None)


def embed(pipe, texts: list[str], batch_size: int, pooling: Pooling, tokenize_kwargs: dict) -> list:
    """One float32 vector (numpy) per text, in order, computed `batch_size` texts per forward pass."""
    import torch

    kwargs = dict(tokenize_kwargs)
    if pooling.max_length and kwargs.get("truncation") is not False:
        # sentence-transformers reads at most max_seq_length tokens; truncation=false asks for an error instead
        kwargs.setdefault("truncation", True)
        kwargs.setdefault("max_length", pooling.max_length)
    if pooling.lower_case:
        texts = [text.lower() for text in texts]
    vectors = []
    with torch.inference_mode():
        for start in range(0, len(texts), max(1, batch_size)):
            batch = texts[start : start + batch_size]
            encoded = pipe.tokenizer(batch, padding=len(batch) > 1, return_tensors="pt", **kwargs)
            encoded = {name: tensor.to(pipe.device) for name, tensor in encoded.items()}
            # pooled in float32 whatever the model's dtype: a bfloat16 sum over hundreds of tokens loses digits
            hidden = token_states(pipe, encoded).float()
            pooled = pool(hidden, encoded["attention_mask"], pooling.modes)
            if pooling.normalize:
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
            vectors.extend(pooled.cpu().numpy())
    return vectors


def token_states(pipe, encoded: dict):
    """[batch, tokens, hidden]: the feature-extraction pipeline's forward (its model's first output, which its
    postprocess returns), left on the model's device."""
    return pipe.model(**encoded)[0]


def pool(hidden, mask, modes: tuple[str, ...]):
    """[batch, tokens, hidden] states and their [batch, tokens] attention mask -> [batch, hidden * len(modes)]."""
    import torch

    mask = mask.to(hidden.dtype).unsqueeze(-1)
    parts = []
    for mode in modes:
        if mode == "cls":
            parts.append(hidden[:, 0])
        elif mode == "max":
            parts.append(hidden.masked_fill(mask == 0, torch.finfo(hidden.dtype).min).max(dim=1).values)
        elif mode == "last":
            # the last real token, wherever the padding is (left or right)
            flags = mask.squeeze(-1).long()
            last = flags.shape[1] - 1 - flags.flip(1).argmax(dim=1)
            parts.append(hidden[torch.arange(hidden.shape[0], device=hidden.device), last])
        else:
            total = (hidden * mask).sum(dim=1)
            count = mask.sum(dim=1).clamp(min=1e-9)
            parts.append(total / (count if mode == "mean" else count.sqrt()))
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
