"""Tiny, randomly initialised models of real architectures, built offline.

`tiny_model_dir(task_id)` builds a small model of a real transformers architecture together with
its tokenizer / feature extractor / image processor, saves everything with `save_pretrained` into a
cache folder and returns that folder. The rest of the runner then loads it by path, exactly like a
hub model: `transformers.pipeline(task, model=str(folder))`. Nothing is downloaded: every vocabulary
is written from scratch (a byte-level BPE vocabulary with no merges, a small WordPiece vocabulary, a
character vocabulary for CTC, a Unigram vocabulary for T5, a SentencePiece model trained on the spot
for Marian).

Every recipe works under transformers 5.x and 4.x (4.57), and a folder built under one loads under
the other. The tasks transformers 5 dropped (summarization, translation, text2text-generation,
question-answering, visual-question-answering) get models that run through the native 4.x
pipelines and load with the Auto classes under 5.x.

The same (arch, task, seed) always gives the same weights: torch is seeded right before each model
is constructed. A build happens once per cache folder, atomically (see cache.py).

Layout: registry.py (the `@builds(arch, tasks=...)` decorator and its tables), one module per family
of architectures (text, audio, vision, seq2seq), vocab.py (vocabularies written from scratch),
common.py (labels, seeding, saving) and cache.py (folder names, atomic builds). A new architecture is
one `@builds` builder in its family module; `ARCHS` picks it up. The architecture `model=tiny` uses
for a task is the task's `tiny_arch` in runner.tasks.

Importing this package imports neither torch nor transformers.
"""

from __future__ import annotations

from pathlib import Path

# Imported for their @builds registrations: the registry is complete once this package is imported.
# Their order is the order ARCHS (and the "Allowed values" of an error) lists the architectures in.
from runner.models.tiny import text, audio, vision, seq2seq  # noqa: F401
from runner.models.tiny.cache import (
    BUILDER_VERSION,
    MARKER_FILE,
    build_atomically,
    folder_name,
    is_complete,
    runner_cache_root,
)
from runner.models.tiny.registry import ARCH_TASKS, BUILDERS
from runner.tasks import TASKS, canonical_task_id

__all__ = [
    "ARCHS",
    "BUILDER_VERSION",
    "DEFAULT_ARCH",
    "MARKER_FILE",
    "default_cache_dir",
    "resolve_arch",
    "tiny_folder_name",
    "tiny_model_dir",
]

# arch -> the tasks its builder serves (the registry's own table, in registration order).
ARCHS: dict[str, tuple[str, ...]] = ARCH_TASKS

# The architecture `model=tiny` builds for each task lives with the task's other facts.
DEFAULT_ARCH: dict[str, str] = {spec.id: spec.tiny_arch for spec in TASKS.values()}


def default_cache_dir() -> Path:
    """`$RUNNER_CACHE_DIR/tiny` when that variable is set, else `~/.cache/hf-pipeline-runner/tiny`."""
    return runner_cache_root() / "tiny"


def resolve_arch(task_id: str, arch: str = "auto") -> str:
    """The architecture that `tiny_model_dir(task_id, arch)` builds; ValueError when there is none."""
    task = _canonical_task(task_id)
    if arch in (None, "", "auto"):
        return DEFAULT_ARCH[task]
    if arch not in ARCHS:
        raise ValueError(
            f"Unknown tiny architecture {arch!r}. Allowed values: 'auto', " + ", ".join(repr(a) for a in ARCHS) + "."
        )
    if task not in ARCHS[arch]:
        able = [a for a, tasks in ARCHS.items() if task in tasks]
        raise ValueError(
            f"Tiny architecture {arch!r} cannot serve task {task!r}; it builds for "
            f"{', '.join(ARCHS[arch])}. Architectures for {task!r}: 'auto' ({DEFAULT_ARCH[task]}), "
            + ", ".join(repr(a) for a in able)
            + "."
        )
    return arch


def tiny_folder_name(task_id: str, arch: str = "auto", seed: int = 0) -> str:
    """The cache folder name: arch, task, seed, BUILDER_VERSION and the transformers version."""
    task = _canonical_task(task_id)
    return folder_name(resolve_arch(task, arch), task, _check_seed(seed))


def tiny_model_dir(task_id: str, arch: str = "auto", seed: int = 0, cache_dir: str | Path | None = None) -> Path:
    """Build once (atomically: build in a temp dir next to the target, then os.replace/rename) and return the folder.

    The folder holds a `save_pretrained` model plus its tokenizer / processor, loadable with
    `transformers.pipeline(task, model=str(folder))`. A folder already built is returned as is.
    """
    task = _canonical_task(task_id)
    arch = resolve_arch(task, arch)
    seed = _check_seed(seed)
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    target = root / folder_name(arch, task, seed)
    if not is_complete(target):
        # The builder is looked up now, not at import, so tests can swap one in the registry.
        build_atomically(target, lambda out: BUILDERS[arch](task, out, seed), arch=arch, task=task, seed=seed)
    return target


def _canonical_task(task_id: str) -> str:
    """Task ids and the runner's aliases ("ner", "asr", ...)."""
    canonical = canonical_task_id(task_id)
    if canonical in DEFAULT_ARCH:
        return canonical
    raise ValueError(
        f"No tiny model for task {task_id!r}. Allowed tasks: " + ", ".join(repr(t) for t in DEFAULT_ARCH) + "."
    )


def _check_seed(seed: int) -> int:
    from numbers import Integral

    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)
