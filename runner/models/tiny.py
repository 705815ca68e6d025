"""Tiny, randomly initialised models of real architectures, built offline.

`tiny_model_dir(task_id)` builds a small model of a real transformers architecture together with
its tokenizer / feature extractor / image processor, saves everything with `save_pretrained` into a
cache folder and returns that folder. The rest of the runner then loads it by path, exactly like a
hub model: `transformers.pipeline(task, model=str(folder))`. Nothing is downloaded: every vocabulary
is written from scratch here (a byte-level BPE vocabulary with no merges, a small WordPiece
vocabulary, a character vocabulary for CTC).

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
from pathlib import Path
from typing import Callable

from runner.tasks import TASKS, canonical_task_id

# Bump whenever a recipe below changes: it is part of the folder name, so old builds are not reused.
BUILDER_VERSION = 1

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


def _wordpiece_tokenizer(work: Path, distilbert: bool):
    from transformers import BertTokenizerFast, DistilBertTokenizerFast

    cls = DistilBertTokenizerFast if distilbert else BertTokenizerFast
    kwargs = {"model_input_names": ["input_ids", "attention_mask"]} if distilbert else {}
    return cls(_write_wordpiece_vocab(work), do_lower_case=True, model_max_length=128, **kwargs)


def _labels(names) -> dict:
    id2label = {i: name for i, name in enumerate(names)}
    return {"id2label": id2label, "label2id": {name: i for i, name in id2label.items()}}


def _seeded(seed: int) -> None:
    import torch

    torch.manual_seed(seed)


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
        for attr in ("feature_extractor", "image_processor"):
            part = getattr(component, attr, None) if hasattr(component, "tokenizer") else None
            if part is not None and not (out / "preprocessor_config.json").exists():
                part.save_pretrained(str(out))
    shutil.rmtree(out / ".vocab", ignore_errors=True)


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
}
assert set(_BUILDERS) == set(TINY_ARCHS)
assert all(task in TINY_ARCHS[arch] for task, arch in DEFAULT_ARCH.items())
