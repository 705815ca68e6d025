"""A CTranslate2 (faster-whisper) Whisper folder as a transformers Whisper folder.

The input folder holds model.bin (WhisperSpec), CTranslate2's config.json (alignment heads, suppress
ids) and tokenizer.json (the HF tokenizer, without the timestamp tokens). The output is what
`pipeline("automatic-speech-recognition", model=<folder>)` loads: the weights (fp32 safetensors), the
model and generation configs, the tokenizer with the 1501 timestamp tokens `<|0.00|>`..`<|30.00|>`
right after `<|notimestamps|>` (timestamp decoding computes them from that id), and the feature
extractor. Only numpy reads the CTranslate2 file; ctranslate2 itself is not needed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from runner.models.convert.ct2_format import Ct2FormatError, read_ct2

SPEC = "WhisperSpec"
TIMESTAMPS = tuple(f"<|{i * 0.02:.2f}|>" for i in range(1501))
NO_TIMESTAMPS = "<|notimestamps|>"
# CTranslate2 module names -> transformers Whisper module names, inside one layer.
_LAYER_PARTS = {
    "self_attention/layer_norm": "self_attn_layer_norm",
    "attention/layer_norm": "encoder_attn_layer_norm",
    "ffn/layer_norm": "final_layer_norm",
    "ffn/linear_0": "fc1",
    "ffn/linear_1": "fc2",
    "self_attention/linear_1": "self_attn.out_proj",
    "attention/linear_0": "encoder_attn.q_proj",
    "attention/linear_2": "encoder_attn.out_proj",
}
_NORM_PARAMS = {"gamma": "weight", "beta": "bias"}


def layer_count(names, side: str) -> int:
    found = {int(m.group(1)) for n in names if (m := re.match(rf"{side}/layer_(\d+)/", n))}
    return max(found) + 1 if found else 0


def state_dict(ct2) -> dict[str, np.ndarray]:
    """transformers' WhisperForConditionalGeneration keys -> fp32 arrays (proj_out is tied, left out)."""
    get = lambda name: np.asarray(ct2.get(name), dtype=np.float32)  # noqa: E731
    out: dict[str, np.ndarray] = {}
    for side in ("encoder", "decoder"):
        prefix = f"model.{side}"
        for i in range(layer_count(ct2.variables, side)):
            src, dst = f"{side}/layer_{i}", f"{prefix}.layers.{i}"
            for part, hf_part in _LAYER_PARTS.items():
                if f"{src}/{part}/gamma" in ct2.variables:
                    for ct2_param, hf_param in _NORM_PARAMS.items():
                        out[f"{dst}.{hf_part}.{hf_param}"] = get(f"{src}/{part}/{ct2_param}")
                elif f"{src}/{part}/weight" in ct2.variables:
                    out[f"{dst}.{hf_part}.weight"] = get(f"{src}/{part}/weight")
                    out[f"{dst}.{hf_part}.bias"] = get(f"{src}/{part}/bias")
            _split_fused(
                out,
                f"{dst}.self_attn",
                get(f"{src}/self_attention/linear_0/weight"),
                get(f"{src}/self_attention/linear_0/bias"),
                ("q", "k", "v"),
            )
            if side == "decoder":
                _split_fused(
                    out,
                    f"{dst}.encoder_attn",
                    get(f"{src}/attention/linear_1/weight"),
                    get(f"{src}/attention/linear_1/bias"),
                    ("k", "v"),
                )
        for ct2_param, hf_param in _NORM_PARAMS.items():
            out[f"{prefix}.layer_norm.{hf_param}"] = get(f"{side}/layer_norm/{ct2_param}")
        out[f"{prefix}.embed_positions.weight"] = get(f"{side}/position_encodings/encodings")
    for conv in ("conv1", "conv2"):
        out[f"model.encoder.{conv}.weight"] = get(f"encoder/{conv}/weight")
        out[f"model.encoder.{conv}.bias"] = get(f"encoder/{conv}/bias")
    out["model.decoder.embed_tokens.weight"] = get("decoder/embeddings/weight")
    return out


def _split_fused(out: dict, prefix: str, weight: np.ndarray, bias: np.ndarray, names: tuple[str, ...]) -> None:
    """CTranslate2 fuses q/k/v (or k/v) into one Linear; Whisper's k_proj has no bias (its slice is zero)."""
    for name, w, b in zip(names, np.split(weight, len(names)), np.split(bias, len(names))):
        out[f"{prefix}.{name}_proj.weight"] = w
        if name == "k":
            if np.any(b != 0):
                raise Ct2FormatError(f"{prefix}: the key projection has a non-zero bias, which Whisper does not have")
            continue
        out[f"{prefix}.{name}_proj.bias"] = b


def model_config_kwargs(ct2, tokens: dict[str, int]) -> dict:
    """WhisperConfig arguments read off the weights' shapes and the tokenizer's special ids."""
    vocab, d_model = ct2.get("decoder/embeddings/weight").shape
    mels = ct2.get("encoder/conv1/weight").shape[1]
    eot = tokens["<|endoftext|>"]
    return dict(
        vocab_size=int(vocab),
        num_mel_bins=int(mels),
        d_model=int(d_model),
        encoder_layers=layer_count(ct2.variables, "encoder"),
        decoder_layers=layer_count(ct2.variables, "decoder"),
        encoder_attention_heads=int(ct2.get("encoder/num_heads")),
        decoder_attention_heads=int(ct2.get("decoder/num_heads")),
        encoder_ffn_dim=int(ct2.get("encoder/layer_0/ffn/linear_0/weight").shape[0]),
        decoder_ffn_dim=int(ct2.get("decoder/layer_0/ffn/linear_0/weight").shape[0]),
        max_source_positions=int(ct2.get("encoder/position_encodings/encodings").shape[0]),
        max_target_positions=int(ct2.get("decoder/position_encodings/encodings").shape[0]),
        pad_token_id=eot,
        bos_token_id=eot,
        eos_token_id=eot,
        decoder_start_token_id=tokens["<|startoftranscript|>"],
        tie_word_embeddings=True,
        # The suppress lists live in the generation config only: in both, generate() warns on every call.
        suppress_tokens=None,
        begin_suppress_tokens=None,
    )


def generation_config_kwargs(ct2_config: dict, tokens: dict[str, int], max_length: int) -> dict:
    """GenerationConfig arguments: suppress lists and alignment heads from CTranslate2's config.json,
    the language/task ids from the tokenizer."""
    multilingual = _is_multilingual(tokens)
    kwargs = dict(
        bos_token_id=tokens["<|endoftext|>"],
        eos_token_id=tokens["<|endoftext|>"],
        pad_token_id=tokens["<|endoftext|>"],
        decoder_start_token_id=tokens["<|startoftranscript|>"],
        max_length=max_length,
        suppress_tokens=_id_list(ct2_config.get("suppress_ids")),
        begin_suppress_tokens=_id_list(ct2_config.get("suppress_ids_begin")),
        alignment_heads=[list(pair) for pair in ct2_config.get("alignment_heads", [])],
        no_timestamps_token_id=tokens[NO_TIMESTAMPS],
        prev_sot_token_id=tokens["<|startofprev|>"],
        max_initial_timestamp_index=50,
        is_multilingual=bool(multilingual),
        forced_decoder_ids=None,
        # As OpenAI's published generation configs have it: timestamps only when asked for. (transformers
        # then refuses audio over 30 s unless return_timestamps=True; the runner's ASR task passes it.)
        return_timestamps=False,
    )
    if multilingual:
        by_id = {i: t for t, i in tokens.items()}
        kwargs["lang_to_id"] = {by_id[i]: i for i in _id_list(ct2_config.get("lang_ids")) if i in by_id}
        kwargs["task_to_id"] = {"transcribe": tokens["<|transcribe|>"], "translate": tokens["<|translate|>"]}
    return kwargs


def _is_multilingual(tokens: dict[str, int]) -> bool:
    """OpenAI's English-only vocabularies end one token earlier (<|notimestamps|> = 50362) than the
    multilingual ones (50363, or 50364 for large-v3); the .en CTranslate2 configs list lang_ids all the same."""
    return tokens[NO_TIMESTAMPS] >= 50363


def _id_list(value) -> list[int]:
    if value is None:
        return []
    if isinstance(value, str):  # faster-whisper writes some lists as JSON text
        value = json.loads(value)
    return [int(v) for v in value]


def is_ct2_whisper(folder: Path) -> bool:
    from runner.models.convert.ct2_format import spec_name

    folder = Path(folder)
    return (
        (folder / "model.bin").is_file()
        and (folder / "tokenizer.json").is_file()
        and spec_name(folder / "model.bin") == SPEC
    )


def convert(src: Path, dst: Path) -> None:
    """Write the transformers Whisper folder for the CTranslate2 folder `src` into `dst`."""
    import torch
    from transformers import (
        GenerationConfig,
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperProcessor,
        WhisperTokenizerFast,
    )

    src, dst = Path(src), Path(dst)
    ct2 = read_ct2(src / "model.bin")
    if ct2.spec != SPEC:
        raise Ct2FormatError(f"{src}/model.bin holds a {ct2.spec}, not a {SPEC}")
    ct2_config = (
        json.loads((src / "config.json").read_text(encoding="utf-8")) if (src / "config.json").is_file() else {}
    )
    tokenizer = _tokenizer(src, WhisperTokenizerFast)
    tokens = {t: tokenizer.convert_tokens_to_ids(t) for t in tokenizer.all_special_tokens + [NO_TIMESTAMPS]}
    tokens.update({t["content"]: t["id"] for t in json.loads((src / "tokenizer.json").read_text())["added_tokens"]})

    config = WhisperConfig(**model_config_kwargs(ct2, tokens))
    with torch.device("meta"):
        model = WhisperForConditionalGeneration(config)
    weights = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state_dict(ct2).items()}
    missing, unexpected = model.load_state_dict(weights, strict=False, assign=True)
    missing = [k for k in missing if k != "proj_out.weight"]
    if missing or unexpected:
        raise Ct2FormatError(
            f"weights do not match WhisperForConditionalGeneration: missing {missing}, unexpected {unexpected}"
        )
    model.tie_weights()
    model.generation_config = GenerationConfig(
        **generation_config_kwargs(ct2_config, tokens, max_length=config.max_target_positions)
    )
    processor = WhisperProcessor(WhisperFeatureExtractor(feature_size=config.num_mel_bins), tokenizer)
    model.save_pretrained(dst)
    processor.save_pretrained(dst)
    processor.feature_extractor.save_pretrained(dst)  # preprocessor_config.json, the layout 4.x reads
    tokenizer.save_pretrained(dst)


def _tokenizer(src: Path, tokenizer_class):
    """The shipped tokenizer.json, with the timestamp tokens added right after <|notimestamps|>."""
    tokenizer = tokenizer_class(
        tokenizer_file=str(src / "tokenizer.json"),
        unk_token="<|endoftext|>",
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        model_max_length=448,
    )
    no_timestamps = tokenizer.convert_tokens_to_ids(NO_TIMESTAMPS)
    if no_timestamps != len(tokenizer) - 1:
        raise Ct2FormatError(
            f"{NO_TIMESTAMPS} is id {no_timestamps}, not the last of {len(tokenizer)} tokens: "
            "timestamp tokens could not follow it"
        )
    tokenizer.add_tokens(list(TIMESTAMPS))
    if tokenizer.convert_tokens_to_ids(TIMESTAMPS[0]) != no_timestamps + 1:
        raise Ct2FormatError("timestamp tokens did not land right after <|notimestamps|>")
    return tokenizer
