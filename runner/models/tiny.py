"""Tiny, randomly initialised models of real architectures, built offline.

`tiny_model_dir(task_id)` builds a small model of a real transformers architecture together with
its tokenizer / feature extractor / image processor, saves everything with `save_pretrained` into a
cache folder and returns that folder. The rest of the runner then loads it by path, exactly like a
hub model: `transformers.pipeline(task, model=str(folder))`. Nothing is downloaded: every vocabulary
is written from scratch here (a byte-level BPE vocabulary with no merges, a small WordPiece
vocabulary, a character vocabulary for CTC, a Unigram vocabulary for T5, a SentencePiece model
trained on the spot for Marian).

Every recipe works under transformers 5.x and 4.x (4.57), and a folder built under one loads under
the other. The tasks transformers 5 dropped (summarization, translation, text2text-generation,
question-answering, visual-question-answering) get models that run through the native 4.x
pipelines and load with the Auto classes under 5.x.

The same (arch, task, seed) always gives the same weights: torch is seeded right before each model
is constructed. A build happens once per cache folder; it is written into a temporary folder next
to the target and renamed into place, so concurrent builders never leave a half-written model.

Importing this module imports neither torch nor transformers.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

from runner.tasks import TASKS, canonical_task_id

# Bump whenever a recipe below changes: it is part of the folder name, so old builds are not reused.
# 2: gpt2 / vit_gpt2 / llava carry task_specific_params (transformers 4.x generation lengths);
#    5.x tokenizer_config.json files are rewritten so that 4.x reads them.
BUILDER_VERSION = 2

# Written last into every finished build; a folder without it is not a usable build.
MARKER_FILE = "tiny_model.json"

TINY_ARCHS: dict[str, tuple[str, ...]] = {
    "gpt2": ("text-generation",),
    "distilbert": ("text-classification", "fill-mask", "feature-extraction", "token-classification"),
    "bert": ("token-classification", "feature-extraction", "text-classification", "fill-mask"),
    "distilbert_nli": ("zero-shot-classification",),
    "whisper": ("automatic-speech-recognition",),
    "wav2vec2": ("automatic-speech-recognition",),
    "wav2vec2_cls": ("audio-classification",),
    "vit": ("image-classification",),
    "vit_gpt2": ("image-to-text",),
    "llava": ("image-text-to-text",),
    "yolos": ("object-detection",),
    # The next tasks have no pipeline in transformers 5 (the runner provides its own there); these
    # folders also work with the native 4.x pipelines.
    "bart": ("summarization", "text2text-generation", "translation"),
    "t5": ("translation", "text2text-generation", "summarization"),
    "marian": ("translation",),  # MarianTokenizer needs the sentencepiece package
    "distilbert_qa": ("question-answering",),
    "vilt": ("visual-question-answering",),
}

# The architecture `model=tiny` builds for each task lives with the task's other facts.
DEFAULT_ARCH: dict[str, str] = {spec.id: spec.tiny_arch for spec in TASKS.values()}

# Labels the heads are built with.
SENTIMENT_LABELS = ("NEGATIVE", "POSITIVE")
NLI_LABELS = ("contradiction", "neutral", "entailment")
NER_LABELS = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG")
KEYWORD_LABELS = ("yes", "no", "up", "down")
IMAGE_LABELS = ("cat", "dog", "bird")
DETECTION_LABELS = ("person", "car", "dog")
VQA_LABELS = ("red", "green", "blue", "yes", "no")

ENDOFTEXT = "<|endoftext|>"
IMAGE_TOKEN = "<image>"


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------
def default_cache_dir() -> Path:
    """`$RUNNER_CACHE_DIR/tiny` when that variable is set, else `~/.cache/hf-pipeline-runner/tiny`."""
    root = os.environ.get("RUNNER_CACHE_DIR")
    if root:
        return Path(root).expanduser() / "tiny"
    return Path.home() / ".cache" / "hf-pipeline-runner" / "tiny"


def resolve_arch(task_id: str, arch: str = "auto") -> str:
    """The architecture that `tiny_model_dir(task_id, arch)` builds; ValueError when there is none."""
    task = _canonical_task(task_id)
    if arch in (None, "", "auto"):
        return DEFAULT_ARCH[task]
    if arch not in TINY_ARCHS:
        raise ValueError(
            f"Unknown tiny architecture {arch!r}. Allowed values: 'auto', "
            + ", ".join(repr(a) for a in TINY_ARCHS)
            + "."
        )
    if task not in TINY_ARCHS[arch]:
        able = [a for a, tasks in TINY_ARCHS.items() if task in tasks]
        raise ValueError(
            f"Tiny architecture {arch!r} cannot serve task {task!r}; it builds for "
            f"{', '.join(TINY_ARCHS[arch])}. Architectures for {task!r}: 'auto' ({DEFAULT_ARCH[task]}), "
            + ", ".join(repr(a) for a in able)
            + "."
        )
    return arch


def tiny_folder_name(task_id: str, arch: str = "auto", seed: int = 0) -> str:
    """The cache folder name: arch, task, seed, BUILDER_VERSION and the transformers version."""
    task = _canonical_task(task_id)
    arch = resolve_arch(task, arch)
    seed = _check_seed(seed)
    return f"{arch}__{task}__seed{seed}__b{BUILDER_VERSION}__tf{_transformers_version()}"


def tiny_model_dir(
    task_id: str, arch: str = "auto", seed: int = 0, cache_dir: str | Path | None = None
) -> Path:
    """Build once (atomically: build in a temp dir next to the target, then os.replace/rename) and return the folder.

    The folder holds a `save_pretrained` model plus its tokenizer / processor, loadable with
    `transformers.pipeline(task, model=str(folder))`. A folder already built is returned as is.
    """
    task = _canonical_task(task_id)
    arch = resolve_arch(task, arch)
    seed = _check_seed(seed)
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    target = root / tiny_folder_name(task, arch, seed)
    if _is_complete(target):
        return target

    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".building", dir=root))
    try:
        started = time.perf_counter()
        with _rng_state_kept():
            _BUILDERS[arch](task, tmp, seed)
        _write_marker(tmp, arch=arch, task=task, seed=seed, seconds=time.perf_counter() - started)
        _move_into_place(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


# --------------------------------------------------------------------------------------------
# Cache plumbing
# --------------------------------------------------------------------------------------------
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


def _transformers_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("transformers")
    except PackageNotFoundError:  # pragma: no cover - transformers is a hard dependency
        return "unknown"


def _is_complete(folder: Path) -> bool:
    return (folder / MARKER_FILE).is_file()


def _write_marker(folder: Path, **info) -> None:
    import torch

    info.update(
        builder_version=BUILDER_VERSION,
        transformers=_transformers_version(),
        torch=torch.__version__,
    )
    (folder / MARKER_FILE).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _move_into_place(tmp: Path, target: Path) -> None:
    """Rename the finished build to `target`; if another process got there first, keep theirs."""
    error: OSError | None = None
    for _ in range(3):
        try:
            os.rename(tmp, target)  # atomic; fails when target exists and is not empty
            return
        except OSError as exc:
            error = exc
            if _is_complete(target):
                return  # someone else finished first: ours is discarded by the caller
            if not target.exists():
                continue  # it vanished between the rename and the check: try again
            # A leftover without the marker (an interrupted copy, a manual edit): move it aside.
            trash = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".stale", dir=target.parent))
            try:
                os.rename(target, trash / "old")
            except OSError:
                pass
            shutil.rmtree(trash, ignore_errors=True)
    if not _is_complete(target):
        raise OSError(f"could not move the tiny model build into {target}") from error


# --------------------------------------------------------------------------------------------
# Vocabularies written from scratch
# --------------------------------------------------------------------------------------------
def _byte_to_unicode() -> dict[int, str]:
    """The reversible byte -> printable character table byte-level BPE uses (GPT-2's scheme).

    Bytes that are printable and not whitespace map to themselves; the rest (control bytes, space,
    a few Latin-1 gaps) map to code points from 256 upward, in byte order. Space becomes 'Ġ'.
    """
    keep = set(range(ord("!"), ord("~") + 1)) | set(range(0xA1, 0xAC + 1)) | set(range(0xAE, 0xFF + 1))
    table, shifted = {}, 0
    for byte in range(256):
        if byte in keep:
            table[byte] = chr(byte)
        else:
            table[byte] = chr(256 + shifted)
            shifted += 1
    return table


def _write_byte_bpe_files(folder: Path, extra_tokens: list[str]) -> tuple[str, str]:
    """vocab.json (256 byte tokens, then `extra_tokens`) and a merges.txt with no merges."""
    vocab = {char: byte for byte, char in _byte_to_unicode().items()}
    for token in extra_tokens:
        vocab.setdefault(token, len(vocab))
    folder.mkdir(parents=True, exist_ok=True)
    vocab_file, merges_file = folder / "vocab.json", folder / "merges.txt"
    vocab_file.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    merges_file.write_text("#version: 0.2\n", encoding="utf-8")
    return str(vocab_file), str(merges_file)


def _byte_bpe_tokenizer(work: Path, extra_special: tuple[str, ...] = (), **kwargs):
    """A GPT-2 style fast tokenizer (byte-level BPE, no merges) with <|endoftext|> as bos/eos/pad."""
    from transformers import GPT2TokenizerFast

    vocab_file, merges_file = _write_byte_bpe_files(work, [ENDOFTEXT, *extra_special])
    tok = GPT2TokenizerFast(
        vocab_file,
        merges_file,
        unk_token=ENDOFTEXT,
        bos_token=ENDOFTEXT,
        eos_token=ENDOFTEXT,
        pad_token=ENDOFTEXT,
        padding_side="left",
        model_max_length=256,
        **kwargs,
    )
    if extra_special:
        tok.add_special_tokens({"additional_special_tokens": list(extra_special)})
    return tok


_COMMON_WORDS = (
    "the be to of and a in that have i it for not on with he as you do at this but his by from "
    "they we say her she or an will my one all would there their what so up out if about who get "
    "which go me when make can like time no just him know take people into year your good some "
    "could them see other than then now look only come its over think also back after use two how "
    "our work first well way even new want because any these give day most us is are was great "
    "bad movie film love hate paris london john mary google"
).split()


def _write_wordpiece_vocab(folder: Path) -> str:
    import string

    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = string.ascii_lowercase + string.ascii_uppercase + string.digits
    tokens += list(chars) + list(string.punctuation)
    tokens += ["##" + c for c in chars]
    tokens += [w for w in dict.fromkeys(_COMMON_WORDS) if w not in tokens]
    folder.mkdir(parents=True, exist_ok=True)
    vocab_file = folder / "vocab.txt"
    vocab_file.write_text("\n".join(tokens) + "\n", encoding="utf-8")
    return str(vocab_file)


def _wordpiece_tokenizer(work: Path, distilbert: bool, model_max_length: int = 128):
    from transformers import BertTokenizerFast, DistilBertTokenizerFast

    cls = DistilBertTokenizerFast if distilbert else BertTokenizerFast
    kwargs = {"model_input_names": ["input_ids", "attention_mask"]} if distilbert else {}
    return cls(_write_wordpiece_vocab(work), do_lower_case=True, model_max_length=model_max_length, **kwargs)


def _labels(names) -> dict:
    id2label = {i: name for i, name in enumerate(names)}
    return {"id2label": id2label, "label2id": {name: i for i, name in id2label.items()}}


@contextmanager
def _rng_state_kept():
    """Build without moving the caller's random streams: a run that builds the tiny model and a rerun
    that finds it cached must reach generation with the same RNG state, or sampled text differs."""
    import random

    import numpy as np
    import torch

    python_state, numpy_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        yield
    random.setstate(python_state)
    np.random.set_state(numpy_state)


def _seeded(seed: int) -> None:
    import torch

    torch.manual_seed(seed)


def _task_generation_params(tasks, **params) -> dict:
    """`config.task_specific_params` that make transformers 4.x pipelines generate what 5.x does.

    A transformers 4.x generation pipeline starts from its own defaults (text-generation and
    image-to-text: max_new_tokens=256; text2text / summarization / translation: max_new_tokens=256,
    num_beams=4) and takes a value from the model's generation_config only where its default is the
    global one, so a saved max_new_tokens=8 or num_beams=1 is ignored there. 256 new tokens then run
    past the learned position embeddings (n_positions) and fail with "IndexError: index out of range
    in self". 4.x does apply `task_specific_params[task]` on top (real checkpoints such as t5-base and
    bart-large-cnn ship them); transformers 5 reads the generation_config instead and ignores them.
    (A max_length in the generation_config would also override the 4.x default, but next to
    max_new_tokens it makes every 5.x generate() log "Both `max_new_tokens` (=8) and `max_length`
    (=256) seem to have been set".)
    """
    return {task: dict(params) for task in tasks}


def _image_processor_class(name: str):
    """transformers 5 without torchvision warns and falls back to the PIL backend; take it directly."""
    import transformers

    return getattr(transformers, f"{name}Pil", None) or getattr(transformers, name)


# --------------------------------------------------------------------------------------------
# Builders: (task, output folder, seed) -> None
# --------------------------------------------------------------------------------------------
def _build_gpt2(task: str, out: Path, seed: int) -> None:
    from transformers import GenerationConfig, GPT2Config, GPT2LMHeadModel

    tok = _byte_bpe_tokenizer(out / ".vocab")
    eot = tok.convert_tokens_to_ids(ENDOFTEXT)
    config = GPT2Config(
        vocab_size=len(tok), n_embd=64, n_layer=2, n_head=2, n_positions=256, n_inner=128,
        bos_token_id=eot, eos_token_id=eot, pad_token_id=eot,
        task_specific_params=_task_generation_params(["text-generation"], max_new_tokens=8),
    )
    _seeded(seed)
    model = GPT2LMHeadModel(config)
    model.generation_config = GenerationConfig(
        max_new_tokens=8, do_sample=False, bos_token_id=eot, eos_token_id=eot, pad_token_id=eot,
    )
    _save(out, model, tok)


def _build_distilbert(task: str, out: Path, seed: int, labels=SENTIMENT_LABELS) -> None:
    from transformers import (
        DistilBertConfig, DistilBertForMaskedLM, DistilBertForSequenceClassification,
        DistilBertForTokenClassification, DistilBertModel,
    )

    tok = _wordpiece_tokenizer(out / ".vocab", distilbert=True)
    heads = {
        "text-classification": (DistilBertForSequenceClassification, _labels(labels)),
        "zero-shot-classification": (DistilBertForSequenceClassification, _labels(labels)),
        "fill-mask": (DistilBertForMaskedLM, {}),
        "feature-extraction": (DistilBertModel, {}),
        "token-classification": (DistilBertForTokenClassification, _labels(NER_LABELS)),
    }
    model_cls, label_kwargs = heads[task]
    config = DistilBertConfig(
        vocab_size=len(tok), dim=32, n_layers=2, n_heads=2, hidden_dim=64, max_position_embeddings=128,
        pad_token_id=tok.pad_token_id, **label_kwargs,
    )
    _seeded(seed)
    _save(out, model_cls(config), tok)


def _build_distilbert_nli(task: str, out: Path, seed: int) -> None:
    _build_distilbert(task, out, seed, labels=NLI_LABELS)


def _build_bert(task: str, out: Path, seed: int) -> None:
    from transformers import (
        BertConfig, BertForMaskedLM, BertForSequenceClassification, BertForTokenClassification, BertModel,
    )

    tok = _wordpiece_tokenizer(out / ".vocab", distilbert=False)
    heads = {
        "token-classification": (BertForTokenClassification, _labels(NER_LABELS)),
        "feature-extraction": (BertModel, {}),
        "text-classification": (BertForSequenceClassification, _labels(SENTIMENT_LABELS)),
        "fill-mask": (BertForMaskedLM, {}),
    }
    model_cls, label_kwargs = heads[task]
    config = BertConfig(
        vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=128, pad_token_id=tok.pad_token_id, **label_kwargs,
    )
    _seeded(seed)
    kwargs = {"add_pooling_layer": True} if model_cls is BertModel else {}
    _save(out, model_cls(config, **kwargs), tok)


_WHISPER_SPECIALS = (
    ENDOFTEXT, "<|startoftranscript|>", "<|en|>", "<|de|>", "<|translate|>", "<|transcribe|>",
    "<|startoflm|>", "<|startofprev|>", "<|nospeech|>", "<|notimestamps|>",
)
# Timestamp tokens must follow <|notimestamps|> directly: decoding computes them from its id.
_WHISPER_TIMESTAMPS = tuple(f"<|{i * 0.02:.2f}|>" for i in range(1501))


def _build_whisper(task: str, out: Path, seed: int) -> None:
    from transformers import (
        GenerationConfig, WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration,
        WhisperProcessor, WhisperTokenizerFast,
    )

    work = out / ".vocab"
    vocab_file, merges_file = _write_byte_bpe_files(work, [*_WHISPER_SPECIALS, *_WHISPER_TIMESTAMPS])
    tok = WhisperTokenizerFast(
        vocab_file, merges_file, unk_token=ENDOFTEXT, bos_token=ENDOFTEXT, eos_token=ENDOFTEXT,
        pad_token=ENDOFTEXT, model_max_length=448,
    )
    tok.add_special_tokens({"additional_special_tokens": list(_WHISPER_SPECIALS)})
    tok.add_tokens(list(_WHISPER_TIMESTAMPS))
    ids = {t: tok.convert_tokens_to_ids(t) for t in _WHISPER_SPECIALS}
    eot, sot, nots = ids[ENDOFTEXT], ids["<|startoftranscript|>"], ids["<|notimestamps|>"]
    assert tok.convert_tokens_to_ids(_WHISPER_TIMESTAMPS[0]) == nots + 1, "timestamp ids must follow <|notimestamps|>"
    space = tok.convert_tokens_to_ids(_byte_to_unicode()[ord(" ")])

    config = WhisperConfig(
        vocab_size=len(tok), num_mel_bins=80, d_model=32, encoder_layers=2, decoder_layers=2,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
        max_source_positions=1500, max_target_positions=448,
        pad_token_id=eot, bos_token_id=eot, eos_token_id=eot, decoder_start_token_id=sot,
    )
    _seeded(seed)
    model = WhisperForConditionalGeneration(config)
    # suppress_tokens / begin_suppress_tokens live only here (in the model config too they trigger a
    # deprecation warning at generate time).
    model.generation_config = GenerationConfig(
        bos_token_id=eot, eos_token_id=eot, pad_token_id=eot, decoder_start_token_id=sot,
        max_length=64, begin_suppress_tokens=[space, eot], suppress_tokens=[],
        is_multilingual=True,
        lang_to_id={"<|en|>": ids["<|en|>"], "<|de|>": ids["<|de|>"]},
        task_to_id={"translate": ids["<|translate|>"], "transcribe": ids["<|transcribe|>"]},
        no_timestamps_token_id=nots, prev_sot_token_id=ids["<|startofprev|>"],
        max_initial_timestamp_index=50,
        alignment_heads=[[1, 0], [1, 1]],  # needed for return_timestamps="word"
        forced_decoder_ids=None,
    )
    processor = WhisperProcessor(feature_extractor=WhisperFeatureExtractor(), tokenizer=tok)
    _save(out, model, processor)


def _ctc_vocab() -> dict[str, int]:
    import string

    tokens = ["<pad>", "<s>", "</s>", "<unk>", "|", "'", *string.ascii_uppercase]
    return {t: i for i, t in enumerate(tokens)}


def _wav2vec2_feature_extractor():
    from transformers import Wav2Vec2FeatureExtractor

    return Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True, return_attention_mask=False,
    )


def _wav2vec2_config(**kwargs):
    from transformers import Wav2Vec2Config

    return Wav2Vec2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        conv_dim=(32, 32, 32), conv_stride=(5, 4, 4), conv_kernel=(10, 4, 4),
        num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
        mask_time_prob=0.0, **kwargs,
    )


def _build_wav2vec2(task: str, out: Path, seed: int) -> None:
    from transformers import Wav2Vec2CTCTokenizer, Wav2Vec2ForCTC, Wav2Vec2Processor

    work = out / ".vocab"
    work.mkdir(parents=True, exist_ok=True)
    vocab_file = work / "vocab.json"
    vocab_file.write_text(json.dumps(_ctc_vocab()), encoding="utf-8")
    tok = Wav2Vec2CTCTokenizer(str(vocab_file), word_delimiter_token="|", do_lower_case=False)
    config = _wav2vec2_config(
        vocab_size=len(tok), pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id, ctc_loss_reduction="mean",
    )
    _seeded(seed)
    model = Wav2Vec2ForCTC(config)
    processor = Wav2Vec2Processor(feature_extractor=_wav2vec2_feature_extractor(), tokenizer=tok)
    _save(out, model, processor)


def _build_wav2vec2_cls(task: str, out: Path, seed: int) -> None:
    from transformers import Wav2Vec2ForSequenceClassification

    config = _wav2vec2_config(classifier_proj_size=16, use_weighted_layer_sum=False, **_labels(KEYWORD_LABELS))
    _seeded(seed)
    _save(out, Wav2Vec2ForSequenceClassification(config), _wav2vec2_feature_extractor())


def _vit_config(**kwargs):
    from transformers import ViTConfig

    return ViTConfig(
        image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, **kwargs,
    )


def _vit_image_processor():
    return _image_processor_class("ViTImageProcessor")(size={"height": 32, "width": 32})


def _build_vit(task: str, out: Path, seed: int) -> None:
    from transformers import ViTForImageClassification

    config = _vit_config(**_labels(IMAGE_LABELS))
    _seeded(seed)
    _save(out, ViTForImageClassification(config), _vit_image_processor())


def _build_vit_gpt2(task: str, out: Path, seed: int) -> None:
    from transformers import (
        GenerationConfig, GPT2Config, VisionEncoderDecoderConfig, VisionEncoderDecoderModel,
        VisionTextDualEncoderProcessor,
    )

    # add_bos_token: the transformers-5 image-text-to-text pipeline needs a text prompt and turns its
    # input_ids into the decoder prompt; with a bos token, text="" becomes [bos] instead of an empty
    # tensor (which fails with "IndexError: index 0 is out of bounds for dimension 1 with size 0").
    tok = _byte_bpe_tokenizer(out / ".vocab", add_bos_token=True)
    eot = tok.convert_tokens_to_ids(ENDOFTEXT)
    decoder_config = GPT2Config(
        vocab_size=len(tok), n_embd=32, n_layer=2, n_head=2, n_positions=128, n_inner=64,
        add_cross_attention=True, is_decoder=True, bos_token_id=eot, eos_token_id=eot, pad_token_id=eot,
        # untied: a tied random head just repeats its input token, i.e. <|endoftext|> = eos = an empty caption
        tie_word_embeddings=False,
    )
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(_vit_config(), decoder_config)
    config.decoder_start_token_id = eot
    config.pad_token_id = eot
    config.eos_token_id = eot
    config.tie_word_embeddings = False
    config.task_specific_params = _task_generation_params(["image-to-text"], max_new_tokens=8)
    _seeded(seed)
    model = VisionEncoderDecoderModel(config=config)
    model.generation_config = GenerationConfig(
        max_new_tokens=8, do_sample=False, decoder_start_token_id=eot, bos_token_id=eot,
        eos_token_id=eot, pad_token_id=eot,
    )
    image_processor = _vit_image_processor()
    # transformers 5 serves captioning through image-text-to-text, which loads a ProcessorMixin;
    # VisionTextDualEncoderProcessor is the generic "image processor + tokenizer" one. The 4.x
    # image-to-text pipeline ignores it and loads the image processor and tokenizer separately.
    processor = VisionTextDualEncoderProcessor(image_processor=image_processor, tokenizer=tok)
    _save(out, model, processor)


_LLAVA_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ message['role'] | upper }}: "
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for item in message['content'] %}"
    "{% if item['type'] == 'image' %}<image> {% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}"
    "{% endfor %}{% endif %}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)


def _build_llava(task: str, out: Path, seed: int) -> None:
    from transformers import (
        CLIPVisionConfig, GenerationConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    tok = _byte_bpe_tokenizer(out / ".vocab", extra_special=(IMAGE_TOKEN,))
    eot = tok.convert_tokens_to_ids(ENDOFTEXT)
    image_token_id = tok.convert_tokens_to_ids(IMAGE_TOKEN)
    vision = CLIPVisionConfig(
        image_size=32, patch_size=8, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=2, projection_dim=32,
    )
    text = LlamaConfig(
        vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=2, max_position_embeddings=256, bos_token_id=eot, eos_token_id=eot, pad_token_id=eot,
    )
    config = LlavaConfig(
        vision_config=vision, text_config=text, image_token_id=image_token_id,
        vision_feature_select_strategy="default", vision_feature_layer=-2,
        # rotary positions do not overflow, but 4.x would otherwise generate 256 tokens, not 8
        task_specific_params=_task_generation_params(["image-text-to-text"], max_new_tokens=8),
    )
    _seeded(seed)
    model = LlavaForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        max_new_tokens=8, do_sample=False, bos_token_id=eot, eos_token_id=eot, pad_token_id=eot,
    )
    image_processor = _image_processor_class("CLIPImageProcessor")(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32},
    )
    processor = LlavaProcessor(
        image_processor=image_processor, tokenizer=tok, patch_size=8, vision_feature_select_strategy="default",
        # the CLIP tower adds a CLS token; "default" drops it again: 16 patches -> 16 <image> tokens
        num_additional_image_tokens=1, image_token=IMAGE_TOKEN, chat_template=_LLAVA_CHAT_TEMPLATE,
    )
    _save(out, model, processor)


def _build_yolos(task: str, out: Path, seed: int) -> None:
    from transformers import YolosConfig, YolosForObjectDetection

    config = YolosConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        image_size=[32, 32], patch_size=8, num_detection_tokens=5, use_mid_position_embeddings=False,
        **_labels(DETECTION_LABELS),
    )
    _seeded(seed)
    model = YolosForObjectDetection(config)
    image_processor = _image_processor_class("YolosImageProcessor")(size={"shortest_edge": 32, "longest_edge": 64})
    _save(out, model, image_processor)


# --------------------------------------------------------------------------------------------
# Sequence-to-sequence, extractive QA and VQA: the tasks transformers 5 has no pipeline for
# --------------------------------------------------------------------------------------------
# Generation length of the seq2seq models. Not 20: transformers 4.x only takes a max_length from the
# model's generation_config when it differs from the global default, which is 20 (see
# _task_generation_params).
SEQ2SEQ_MAX_LENGTH = 16

# task_specific_params of the seq2seq models, modelled on t5-base's (prefixes included) but with
# short greedy generation; 4.x `pipeline("translation", ...)` picks the first translation_* key.
_T5_TASK_PREFIXES = {
    "summarization": "summarize: ",
    "translation_en_to_de": "translate English to German: ",
    "translation_en_to_fr": "translate English to French: ",
    "translation_en_to_ro": "translate English to Romanian: ",
}


def _seq2seq_task_params(prefixes: dict[str, str | None]) -> dict:
    params = _task_generation_params(
        [*prefixes, "text2text-generation"], max_length=SEQ2SEQ_MAX_LENGTH, num_beams=1,
    )
    for task, prefix in prefixes.items():
        if prefix:
            params[task]["prefix"] = prefix
    return params


BART_SPECIALS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")


def _build_bart(task: str, out: Path, seed: int) -> None:
    from transformers import BartConfig, BartForConditionalGeneration, BartTokenizerFast, GenerationConfig

    positions = 1024  # byte-level tokens: one per byte, so 128 positions would mean 126 characters of input
    vocab_file, merges_file = _write_byte_bpe_files(out / ".vocab", list(BART_SPECIALS))
    tok = BartTokenizerFast(vocab_file, merges_file, model_max_length=positions)
    bos, pad, eos = tok.bos_token_id, tok.pad_token_id, tok.eos_token_id
    config = BartConfig(
        vocab_size=len(tok), d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=positions,
        bos_token_id=bos, pad_token_id=pad, eos_token_id=eos, decoder_start_token_id=eos,
        forced_bos_token_id=None, forced_eos_token_id=None,  # in the generation config only
        task_specific_params=_seq2seq_task_params(
            {"summarization": None, "translation_en_to_de": None, "translation_en_to_fr": None}
        ),
    )
    _seeded(seed)
    model = BartForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        bos_token_id=bos, pad_token_id=pad, eos_token_id=eos, decoder_start_token_id=eos,
        forced_bos_token_id=bos, forced_eos_token_id=eos, max_length=SEQ2SEQ_MAX_LENGTH, num_beams=1,
    )
    _save(out, model, tok)


T5_EXTRA_IDS = 10


def _t5_sentinels() -> list[str]:
    return [f"<extra_id_{i}>" for i in range(T5_EXTRA_IDS)]


def _t5_tokenizer():
    """A T5 tokenizer (Unigram over metaspace pieces, "</s>" appended) built without sentencepiece.

    Ids follow t5-base: <pad>=0, </s>=1, <unk>=2, the pieces, then the sentinels with <extra_id_0> last.
    """
    import string

    from tokenizers import Tokenizer, decoders, pre_tokenizers, processors
    from tokenizers.models import Unigram
    from transformers import T5TokenizerFast

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    words = [*dict.fromkeys(_COMMON_WORDS), "hello", "world", "house", "cat", "dog", "summarize", "translate"]
    pieces += [("\u2581" + w, -5.0 - 0.01 * i) for i, w in enumerate(dict.fromkeys(words))]
    chars = string.ascii_lowercase + string.ascii_uppercase + string.digits + string.punctuation
    pieces += [(c, -10.0) for c in chars]
    pieces += [(s, 0.0) for s in reversed(_t5_sentinels())]

    backend = Tokenizer(Unigram(pieces, unk_id=2, byte_fallback=False))
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")]
    )
    backend.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    backend.post_processor = processors.TemplateProcessing(
        single=["$A", "</s>"], pair=["$A", "</s>", "$B", "</s>"], special_tokens=[("</s>", 1)],
    )
    return T5TokenizerFast(
        tokenizer_object=backend, eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
        extra_ids=T5_EXTRA_IDS, model_max_length=512,
    )


def _build_t5(task: str, out: Path, seed: int) -> None:
    from transformers import GenerationConfig, T5Config, T5ForConditionalGeneration

    tok = _t5_tokenizer()
    pad, eos = tok.pad_token_id, tok.eos_token_id
    config = T5Config(
        vocab_size=len(tok), d_model=32, d_kv=16, d_ff=64, num_layers=2, num_decoder_layers=2, num_heads=2,
        pad_token_id=pad, eos_token_id=eos, decoder_start_token_id=pad,
        task_specific_params=_seq2seq_task_params(_T5_TASK_PREFIXES),
    )
    _seeded(seed)
    model = T5ForConditionalGeneration(config)
    # Tied input/output embeddings, as in the original T5 (transformers 5.24 forces
    # tie_word_embeddings=True on every T5Config anyway, so an untied recipe would differ between
    # versions). T5 initialises them with std 1.0, which swamps the residual stream: the tied head
    # then predicts the token it was fed, over and over, whatever the encoder saw (the start token
    # <pad> is dropped when decoding, so most outputs were ""). With std 0.02 (BART's, GPT-2's and
    # BERT's embedding init) the output depends on the input and on the task prefix (for seed 0 on
    # both 4.57 and 5.24; a random model can still ignore its input for some seeds). Zero rows for
    # <pad> (what nn.Embedding(padding_idx=...) gives other models) and for the sentinels, which a
    # fine-tuned T5 never emits, keep those two out of the outputs.
    import torch

    with torch.no_grad():
        embeddings = model.get_input_embeddings().weight
        embeddings.mul_(0.02)  # T5's N(0, 1) draw scaled to N(0, 0.02^2)
        embeddings[[pad, *tok.convert_tokens_to_ids(_t5_sentinels())]] = 0.0
    model.generation_config = GenerationConfig(
        pad_token_id=pad, eos_token_id=eos, decoder_start_token_id=pad, max_length=SEQ2SEQ_MAX_LENGTH, num_beams=1,
    )
    _save(out, model, tok)


def _train_sentencepiece(vocab_size: int = 200) -> bytes:
    """A small unigram SentencePiece model, trained offline on sentences made of _COMMON_WORDS.

    Ids follow the opus-mt models: </s>=0, <unk>=1, no <s>. The training is deterministic (fixed
    corpus, one thread), so the same bytes come out every time and under every transformers version.
    """
    import io
    import random
    import string

    import sentencepiece

    rng = random.Random(0)
    words = list(dict.fromkeys(_COMMON_WORDS))
    corpus = [" ".join(rng.choice(words) for _ in range(8)) for _ in range(300)]
    corpus.append(" ".join([string.ascii_letters, string.digits, string.punctuation]))
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus), model_writer=model, vocab_size=vocab_size, model_type="unigram",
        character_coverage=1.0, normalization_rule_name="identity", num_threads=1,
        eos_id=0, unk_id=1, bos_id=-1, pad_id=-1, hard_vocab_limit=False, minloglevel=2,
    )
    return model.getvalue()


def _build_marian(task: str, out: Path, seed: int) -> None:
    try:
        import sentencepiece
    except ImportError as err:  # a declared dependency, but MarianTokenizer is the only user
        raise ImportError("The 'marian' tiny model needs the sentencepiece package: pip install sentencepiece") from err
    from transformers import GenerationConfig, MarianConfig, MarianMTModel, MarianTokenizer

    work = out / ".vocab"
    work.mkdir(parents=True, exist_ok=True)
    spm_bytes = _train_sentencepiece()
    for name in ("source.spm", "target.spm"):  # one shared vocabulary, as most opus-mt models
        (work / name).write_bytes(spm_bytes)
    sp = sentencepiece.SentencePieceProcessor(model_proto=spm_bytes)
    vocab = {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}
    vocab["<pad>"] = len(vocab)  # opus-mt: <pad> is the last id
    (work / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    with warnings.catch_warnings():  # "Recommended: pip install sacremoses." (only used to normalise punctuation)
        warnings.filterwarnings("ignore", message=".*sacremoses")
        tok = MarianTokenizer(
            str(work / "source.spm"), str(work / "target.spm"), str(work / "vocab.json"),
            source_lang="en", target_lang="de", model_max_length=512,
        )
    pad, eos = tok.pad_token_id, tok.eos_token_id
    config = MarianConfig(
        vocab_size=len(vocab), d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=512,
        pad_token_id=pad, eos_token_id=eos, decoder_start_token_id=pad, forced_eos_token_id=None,
        task_specific_params=_seq2seq_task_params({"translation_en_to_de": None}),
    )
    _seeded(seed)
    model = MarianMTModel(config)
    model.generation_config = GenerationConfig(
        pad_token_id=pad, eos_token_id=eos, decoder_start_token_id=pad, forced_eos_token_id=eos,
        bad_words_ids=[[pad]], max_length=SEQ2SEQ_MAX_LENGTH, num_beams=1,  # opus-mt never emits <pad>
    )
    _save(out, model, tok)


def _build_distilbert_qa(task: str, out: Path, seed: int) -> None:
    from transformers import DistilBertConfig, DistilBertForQuestionAnswering

    # 512 positions: the question-answering pipeline cuts contexts into windows of up to 384 tokens.
    tok = _wordpiece_tokenizer(out / ".vocab", distilbert=True, model_max_length=512)
    config = DistilBertConfig(
        vocab_size=len(tok), dim=32, n_layers=2, n_heads=2, hidden_dim=64, max_position_embeddings=512,
        pad_token_id=tok.pad_token_id,
    )
    _seeded(seed)
    _save(out, DistilBertForQuestionAnswering(config), tok)


def _build_vilt(task: str, out: Path, seed: int) -> None:
    from transformers import ViltConfig, ViltForQuestionAnswering, ViltProcessor

    positions = 40  # text positions, as dandelin/vilt-b32-finetuned-vqa
    tok = _wordpiece_tokenizer(out / ".vocab", distilbert=False, model_max_length=positions)
    config = ViltConfig(
        vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        image_size=64, patch_size=16, max_position_embeddings=positions, pad_token_id=tok.pad_token_id,
        **_labels(VQA_LABELS),
    )
    _seeded(seed)
    model = ViltForQuestionAnswering(config)
    image_processor = _image_processor_class("ViltImageProcessor")(size={"shortest_edge": 64}, size_divisor=32)
    _save(out, model, ViltProcessor(image_processor=image_processor, tokenizer=tok))


def _save(out: Path, model, *components) -> None:
    """save_pretrained the model and its components into `out`; drop the scratch vocabulary.

    transformers 5 folds a processor's feature extractor / image processor into processor_config.json;
    they are also saved on their own (preprocessor_config.json), the layout transformers 4 reads.
    """
    from transformers.utils import logging as hf_logging

    model.eval()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # no "Writing model shards" bar for a 100 KB file
    try:
        model.save_pretrained(str(out))
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    for component in components:
        component.save_pretrained(str(out))
        if not hasattr(component, "tokenizer") or (out / "preprocessor_config.json").exists():
            continue
        # image_processor first: on a 4.x ViltProcessor, `.feature_extractor` warns that it is deprecated
        for attr in ("image_processor", "feature_extractor"):
            part = getattr(component, attr, None)
            if part is not None:
                part.save_pretrained(str(out))
                break
    _portable_tokenizer_config(out / "tokenizer_config.json")
    shutil.rmtree(out / ".vocab", ignore_errors=True)


def _portable_tokenizer_config(path: Path) -> None:
    """Make a transformers-5 tokenizer_config.json loadable by transformers 4.x too.

    5.x saves the additional special tokens (T5 sentinels, Whisper's <|...|> tokens, LLaVA's <image>)
    as a list under "extra_special_tokens"; 4.x reads that key as a dict of named tokens and fails
    with "AttributeError: 'list' object has no attribute 'keys'" (which `AutoTokenizer` reports as
    "ImportError: ... requires the protobuf library"). The older "additional_special_tokens" key means
    the same to both: 5.x converts it to "extra_special_tokens" when loading.
    """
    if not path.is_file():
        return
    config = json.loads(path.read_text(encoding="utf-8"))
    extra = config.get("extra_special_tokens")
    if not isinstance(extra, list):
        return
    config["additional_special_tokens"] = list(dict.fromkeys([*config.get("additional_special_tokens", []), *extra]))
    del config["extra_special_tokens"]
    path.write_text(json.dumps(config, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")


_BUILDERS: dict[str, Callable[[str, Path, int], None]] = {
    "gpt2": _build_gpt2,
    "distilbert": _build_distilbert,
    "bert": _build_bert,
    "distilbert_nli": _build_distilbert_nli,
    "whisper": _build_whisper,
    "wav2vec2": _build_wav2vec2,
    "wav2vec2_cls": _build_wav2vec2_cls,
    "vit": _build_vit,
    "vit_gpt2": _build_vit_gpt2,
    "llava": _build_llava,
    "yolos": _build_yolos,
    "bart": _build_bart,
    "t5": _build_t5,
    "marian": _build_marian,
    "distilbert_qa": _build_distilbert_qa,
    "vilt": _build_vilt,
}
assert set(_BUILDERS) == set(TINY_ARCHS)
assert all(task in TINY_ARCHS[arch] for task, arch in DEFAULT_ARCH.items())
