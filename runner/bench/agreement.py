"""How far one run's outputs are from a reference's: the quality figure that stands beside speed.

A faster setting (dtype, quantization, token budget, backend, batch size) may change the answers. Each
task says how its outputs compare (`Task.compared_by`):

- "labels":  the top label of each row; agreement = the fraction of rows whose label is the same.
- "vectors": embeddings; agreement = the mean cosine similarity of each row's vector to the reference's
  (`min_cosine` beside it). Per-token outputs ([1][tokens][hidden]) compare as one flattened vector, and a
  row whose shape differs from its reference's has cosine 0.
- "text":    generated or transcribed text; agreement = 1 - WER against the reference text (floored at 0),
  with the exact-match fraction beside it.
- "exact":   anything else (entities, boxes, masks): the fraction of rows whose output is equal, numbers
  rounded to 3 decimals (a score that moves in its 4th decimal is not a changed answer).

Values compared are the outputs as predictions.jsonl holds them (plain JSON), so a sweep can compare
finished points from their files. Rows missing from either side (a failed row) are left out and counted.
Importing this imports numpy only.
"""

from __future__ import annotations

import json
import math
from typing import Any

from runner.bench.wer import word_error_rate, words

KINDS = ("labels", "vectors", "text", "exact")


def compare(kind: str, field: str | None, reference: list, candidate: list) -> dict:
    """{"kind", "agreement" (0..1, higher is closer), "rows" (compared), "rows_missing", and the kind's own
    figures}. `reference` and `candidate`: outputs in the same row order, None for a row without one.
    `field`: the output field holding the label or text (Task.produces), None for the whole output."""
    if kind not in KINDS:
        raise ValueError(f"unknown comparison {kind!r}; allowed: {', '.join(KINDS)}")
    if len(reference) != len(candidate):
        raise ValueError(f"{len(reference)} reference outputs but {len(candidate)} to compare")
    pairs = [(r, c) for r, c in zip(reference, candidate) if r is not None and c is not None]
    result: dict[str, Any] = {"kind": kind, "rows": len(pairs), "rows_missing": len(reference) - len(pairs)}
    if not pairs:
        return {**result, "agreement": None}
    if kind == "vectors":
        cosines = [cosine(r, c) for r, c in pairs]
        mean = sum(cosines) / len(cosines)
        return {**result, "agreement": mean, "mean_cosine": mean, "min_cosine": min(cosines)}
    if kind == "labels":
        same = sum(top_value(r, field) == top_value(c, field) for r, c in pairs)
        return {**result, "agreement": same / len(pairs), "label_agreement": same / len(pairs)}
    if kind == "text":
        refs = [str(top_value(r, field)) for r, _ in pairs]
        hyps = [str(top_value(c, field)) for _, c in pairs]
        exact = sum(r.strip() == h.strip() for r, h in zip(refs, hyps)) / len(pairs)
        wer = word_error_rate(refs, hyps) if any(words(r) for r in refs) else (0.0 if exact == 1 else 1.0)
        return {**result, "agreement": max(0.0, 1.0 - wer), "wer": wer, "exact_match": exact}
    same = sum(_canonical(r) == _canonical(c) for r, c in pairs)
    return {**result, "agreement": same / len(pairs), "exact_match": same / len(pairs)}


def against_references(kind: str, field: str | None, references: list, candidate: list) -> dict | None:
    """Metrics against a reference column of the dataset (ground truth, not another run): accuracy for
    labels, WER for text; None for kinds that have no such metric (vectors, exact)."""
    pairs = [(str(r), c) for r, c in zip(references, candidate) if r is not None and c is not None]
    if kind not in ("labels", "text") or not pairs:
        return None
    hyps = [str(top_value(c, field)) for _, c in pairs]
    refs = [r for r, _ in pairs]
    if kind == "labels":
        return {"rows": len(pairs), "accuracy": sum(r == h for r, h in zip(refs, hyps)) / len(pairs)}
    return {"rows": len(pairs), "wer": word_error_rate(refs, hyps) if any(words(r) for r in refs) else None}


def top_value(output: Any, field: str | None) -> Any:
    """The field of the top result: a row's output may be the dict itself, a list of results (top-k labels,
    one generated text), or a list of one list (a batch of one); without `field`, the output itself."""
    value = output
    while isinstance(value, list) and value:
        value = value[0]
    if field and isinstance(value, dict) and field in value:
        value = value[field]
        # zero-shot gives {"labels": [...], "scores": [...]}: the top label is the first
        while isinstance(value, list) and value:
            value = value[0]
    return value


def cosine(a: Any, b: Any) -> float:
    """Cosine similarity of two (possibly nested) lists of numbers; 0 when their shapes differ or either is
    all zeros."""
    import numpy as np

    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        return 0.0
    x, y = x.ravel(), y.ravel()
    norm = math.sqrt(float(x @ x) * float(y @ y))
    return float(x @ y) / norm if norm else 0.0


def _canonical(value: Any) -> str:
    return json.dumps(_rounded(value), sort_keys=True, ensure_ascii=False)


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(item) for item in value]
    return value
