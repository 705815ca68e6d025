"""Tiny audio models: Whisper and wav2vec2 (CTC) for speech recognition, wav2vec2 for audio classification."""

from __future__ import annotations

import json
import string
from pathlib import Path

from runner.models.tiny.common import KEYWORD_LABELS, label_config, save, seed_torch
from runner.models.tiny.registry import builds
from runner.models.tiny.vocab import ENDOFTEXT, byte_to_unicode, write_byte_bpe_files


_WHISPER_SPECIALS = (
    ENDOFTEXT,
    "<|startoftranscript|>",
    "<|en|>",
    "<|de|>",
    "<|translate|>",
    "<|transcribe|>",
    "<|startoflm|>",
    "<|startofprev|>",
    "<|nospeech|>",
    "<|notimestamps|>",
)
# Timestamp tokens must follow <|notimestamps|> directly: decoding computes them from its id.
_WHISPER_TIMESTAMPS = tuple(f"<|{i * 0.02:.2f}|>" for i in range(1501))


@builds("whisper", tasks=("automatic-speech-recognition",))
def _build_whisper(task: str, out: Path, seed: int) -> None:
    from transformers import (
        GenerationConfig,
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperProcessor,
        WhisperTokenizerFast,
    )

    work = out / ".vocab"
    vocab_file, merges_file = write_byte_bpe_files(work, [*_WHISPER_SPECIALS, *_WHISPER_TIMESTAMPS])
    tok = WhisperTokenizerFast(
        vocab_file,
        merges_file,
        unk_token=ENDOFTEXT,
        bos_token=ENDOFTEXT,
        eos_token=ENDOFTEXT,
        pad_token=ENDOFTEXT,
        model_max_length=448,
    )
    tok.add_special_tokens({"additional_special_tokens": list(_WHISPER_SPECIALS)})
    tok.add_tokens(list(_WHISPER_TIMESTAMPS))
    ids = {t: tok.convert_tokens_to_ids(t) for t in _WHISPER_SPECIALS}
    eot, sot, nots = ids[ENDOFTEXT], ids["<|startoftranscript|>"], ids["<|notimestamps|>"]
    assert tok.convert_tokens_to_ids(_WHISPER_TIMESTAMPS[0]) == nots + 1, "timestamp ids must follow <|notimestamps|>"
    space = tok.convert_tokens_to_ids(byte_to_unicode()[ord(" ")])

    config = WhisperConfig(
        vocab_size=len(tok),
        num_mel_bins=80,
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_source_positions=1500,
        max_target_positions=448,
        pad_token_id=eot,
        bos_token_id=eot,
        eos_token_id=eot,
        decoder_start_token_id=sot,
    )
    seed_torch(seed)
    model = WhisperForConditionalGeneration(config)
    # suppress_tokens / begin_suppress_tokens live only here (in the model config too they trigger a
    # deprecation warning at generate time).
    model.generation_config = GenerationConfig(
        bos_token_id=eot,
        eos_token_id=eot,
        pad_token_id=eot,
        decoder_start_token_id=sot,
        max_length=64,
        begin_suppress_tokens=[space, eot],
        suppress_tokens=[],
        is_multilingual=True,
        lang_to_id={"<|en|>": ids["<|en|>"], "<|de|>": ids["<|de|>"]},
        task_to_id={"translate": ids["<|translate|>"], "transcribe": ids["<|transcribe|>"]},
        no_timestamps_token_id=nots,
        prev_sot_token_id=ids["<|startofprev|>"],
        max_initial_timestamp_index=50,
        alignment_heads=[[1, 0], [1, 1]],  # needed for return_timestamps="word"
        forced_decoder_ids=None,
    )
    processor = WhisperProcessor(feature_extractor=WhisperFeatureExtractor(), tokenizer=tok)
    save(out, model, processor)


def _ctc_vocab() -> dict[str, int]:
    import string

    tokens = ["<pad>", "<s>", "</s>", "<unk>", "|", "'", *string.ascii_uppercase]
    return {t: i for i, t in enumerate(tokens)}


def _wav2vec2_feature_extractor():
    from transformers import Wav2Vec2FeatureExtractor

    return Wav2Vec2FeatureExtractor(
        feature_size=1,
        sampling_rate=16000,
        padding_value=0.0,
        do_normalize=True,
        return_attention_mask=False,
    )


def _wav2vec2_config(**kwargs):
    from transformers import Wav2Vec2Config

    return Wav2Vec2Config(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(32, 32, 32),
        conv_stride=(5, 4, 4),
        conv_kernel=(10, 4, 4),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        mask_time_prob=0.0,
        **kwargs,
    )


@builds("wav2vec2", tasks=("automatic-speech-recognition",))
def _build_wav2vec2(task: str, out: Path, seed: int) -> None:
    from transformers import Wav2Vec2CTCTokenizer, Wav2Vec2ForCTC, Wav2Vec2Processor

    work = out / ".vocab"
    work.mkdir(parents=True, exist_ok=True)
    vocab_file = work / "vocab.json"
    vocab_file.write_text(json.dumps(_ctc_vocab()), encoding="utf-8")
    tok = Wav2Vec2CTCTokenizer(str(vocab_file), word_delimiter_token="|", do_lower_case=False)
    config = _wav2vec2_config(
        vocab_size=len(tok),
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        ctc_loss_reduction="mean",
    )
    seed_torch(seed)
    model = Wav2Vec2ForCTC(config)
    processor = Wav2Vec2Processor(feature_extractor=_wav2vec2_feature_extractor(), tokenizer=tok)
    save(out, model, processor)


@builds("wav2vec2_cls", tasks=("audio-classification",))
def _build_wav2vec2_cls(task: str, out: Path, seed: int) -> None:
    from transformers import Wav2Vec2ForSequenceClassification

    config = _wav2vec2_config(classifier_proj_size=16, use_weighted_layer_sum=False, **label_config(KEYWORD_LABELS))
    seed_torch(seed)
    save(out, Wav2Vec2ForSequenceClassification(config), _wav2vec2_feature_extractor())


VITS_BLANK = "_"  # id 0: add_blank puts it between characters; also the pad token


@builds("vits", tasks=("text-to-audio",))
def _build_vits(task: str, out: Path, seed: int) -> None:
    """VITS turns text into a waveform in one forward pass: no vocoder, speaker embeddings or codec to
    fetch (transformers' default, Bark, is three sub-models and EnCodec). phonemize=False: no espeak."""
    from transformers import VitsConfig, VitsModel, VitsTokenizer

    vocab_file = out / ".vocab" / "vocab.json"
    vocab_file.parent.mkdir(parents=True, exist_ok=True)
    tokens = [VITS_BLANK, "<unk>", " ", "'", *string.ascii_lowercase, *string.digits]
    vocab_file.write_text(json.dumps({t: i for i, t in enumerate(tokens)}), encoding="utf-8")
    tok = VitsTokenizer(
        str(vocab_file),
        pad_token=VITS_BLANK,
        unk_token="<unk>",
        language="eng",
        add_blank=True,
        normalize=True,
        phonemize=False,
        is_uroman=False,
    )
    config = VitsConfig(
        vocab_size=len(tok),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        window_size=4,
        ffn_dim=32,
        flow_size=16,
        spectrogram_bins=17,
        upsample_initial_channel=16,
        # 256 samples per spectrogram frame, as mms-tts, in two stages of 16
        upsample_rates=[16, 16],
        upsample_kernel_sizes=[32, 32],
        resblock_kernel_sizes=[3],
        resblock_dilation_sizes=[[1, 3]],
        depth_separable_channels=2,
        depth_separable_num_layers=1,
        duration_predictor_flow_bins=4,
        duration_predictor_num_flows=1,
        duration_predictor_filter_channels=16,
        prior_encoder_num_flows=1,
        prior_encoder_num_wavenet_layers=1,
        posterior_encoder_num_wavenet_layers=1,
        use_stochastic_duration_prediction=True,
        sampling_rate=16000,
        pad_token_id=tok.pad_token_id,
    )
    seed_torch(seed)
    save(out, VitsModel(config), tok)
