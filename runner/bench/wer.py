"""Word error rate: word-level Levenshtein distance over the reference's word count.

Both texts are lower-cased and stripped of punctuation first (apostrophes join: "it's" -> "its";
other punctuation separates: "well-known" -> "well known"), as ASR benchmarks usually compare.
"""

from __future__ import annotations

import re

_APOSTROPHES = re.compile(r"['\u2019]")
_NOT_WORD = re.compile(r"[^\w]+")


def words(text: str) -> list[str]:
    return _NOT_WORD.sub(" ", _APOSTROPHES.sub("", text.lower())).split()


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    """Substitutions + insertions + deletions turning `reference` into `hypothesis`."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, 1):
        current = [i]
        for j, hyp_word in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word)))
        previous = current
    return previous[-1]


def word_error_rate(references: list[str], hypotheses: list[str]) -> float:
    """Corpus WER: total edits over total reference words (not the mean of per-text rates)."""
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    edits = sum(edit_distance(words(r), words(h)) for r, h in zip(references, hypotheses))
    total = sum(len(words(r)) for r in references)
    if total == 0:
        raise ValueError("the references hold no words")
    return edits / total
