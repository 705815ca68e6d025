"""Tiny sequence-to-sequence models (BART, T5, Marian) for summarization, translation and
text2text-generation: tasks transformers 5 has no pipeline for (the runner provides its own there);
the folders also work with the native 4.x pipelines."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from runner.models.tiny.common import save, seed_torch, task_generation_params
from runner.models.tiny.registry import builds
from runner.models.tiny.vocab import COMMON_WORDS, train_sentencepiece, write_byte_bpe_files


# Generation length of the seq2seq models. Not 20: transformers 4.x only takes a max_length from the
# model's generation_config when it differs from the global default, which is 20 (see
# task_generation_params).
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
    params = task_generation_params(
        [*prefixes, "text2text-generation"],
        max_length=SEQ2SEQ_MAX_LENGTH,
        num_beams=1,
    )
    for task, prefix in prefixes.items():
        if prefix:
            params[task]["prefix"] = prefix
    return params


BART_SPECIALS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")


@builds("bart", tasks=("summarization", "text2text-generation", "translation"))
def _build_bart(task: str, out: Path, seed: int) -> None:
    from transformers import BartConfig, BartForConditionalGeneration, BartTokenizerFast, GenerationConfig

    positions = 1024  # byte-level tokens: one per byte, so 128 positions would mean 126 characters of input
    vocab_file, merges_file = write_byte_bpe_files(out / ".vocab", list(BART_SPECIALS))
    tok = BartTokenizerFast(vocab_file, merges_file, model_max_length=positions)
    bos, pad, eos = tok.bos_token_id, tok.pad_token_id, tok.eos_token_id
    config = BartConfig(
        vocab_size=len(tok),
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=positions,
        bos_token_id=bos,
        pad_token_id=pad,
        eos_token_id=eos,
        decoder_start_token_id=eos,
        forced_bos_token_id=None,
        forced_eos_token_id=None,  # in the generation config only
        task_specific_params=_seq2seq_task_params(
            {"summarization": None, "translation_en_to_de": None, "translation_en_to_fr": None}
        ),
    )
    seed_torch(seed)
    model = BartForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        bos_token_id=bos,
        pad_token_id=pad,
        eos_token_id=eos,
        decoder_start_token_id=eos,
        forced_bos_token_id=bos,
        forced_eos_token_id=eos,
        max_length=SEQ2SEQ_MAX_LENGTH,
        num_beams=1,
    )
    save(out, model, tok)


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
    words = [*dict.fromkeys(COMMON_WORDS), "hello", "world", "house", "cat", "dog", "summarize", "translate"]
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
        single=["$A", "</s>"],
        pair=["$A", "</s>", "$B", "</s>"],
        special_tokens=[("</s>", 1)],
    )
    return T5TokenizerFast(
        tokenizer_object=backend,
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        extra_ids=T5_EXTRA_IDS,
        model_max_length=512,
    )


@builds("t5", tasks=("translation", "text2text-generation", "summarization"))
def _build_t5(task: str, out: Path, seed: int) -> None:
    from transformers import GenerationConfig, T5Config, T5ForConditionalGeneration

    tok = _t5_tokenizer()
    pad, eos = tok.pad_token_id, tok.eos_token_id
    config = T5Config(
        vocab_size=len(tok),
        d_model=32,
        d_kv=16,
        d_ff=64,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=2,
        pad_token_id=pad,
        eos_token_id=eos,
        decoder_start_token_id=pad,
        task_specific_params=_seq2seq_task_params(_T5_TASK_PREFIXES),
    )
    seed_torch(seed)
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
        pad_token_id=pad,
        eos_token_id=eos,
        decoder_start_token_id=pad,
        max_length=SEQ2SEQ_MAX_LENGTH,
        num_beams=1,
    )
    save(out, model, tok)


def _marian_tokenizer(work: Path):
    """A MarianTokenizer and its vocabulary, over one SentencePiece model trained on the spot."""
    import sentencepiece
    from transformers import MarianTokenizer

    work.mkdir(parents=True, exist_ok=True)
    spm_bytes = train_sentencepiece()
    for name in ("source.spm", "target.spm"):  # one shared vocabulary, as most opus-mt models
        (work / name).write_bytes(spm_bytes)
    sp = sentencepiece.SentencePieceProcessor(model_proto=spm_bytes)
    vocab = {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}
    vocab["<pad>"] = len(vocab)  # opus-mt: <pad> is the last id
    (work / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    with warnings.catch_warnings():  # "Recommended: pip install sacremoses." (only used to normalise punctuation)
        warnings.filterwarnings("ignore", message=".*sacremoses")
        tok = MarianTokenizer(
            str(work / "source.spm"),
            str(work / "target.spm"),
            str(work / "vocab.json"),
            source_lang="en",
            target_lang="de",
            model_max_length=512,
        )
    return tok, vocab


@builds("marian", tasks=("translation",))
def _build_marian(task: str, out: Path, seed: int) -> None:
    try:
        import sentencepiece  # noqa: F401
    except ImportError as err:  # a declared dependency, but MarianTokenizer is the only user
        raise ImportError("The 'marian' tiny model needs the sentencepiece package: pip install sentencepiece") from err
    from transformers import GenerationConfig, MarianConfig, MarianMTModel

    tok, vocab = _marian_tokenizer(out / ".vocab")
    pad, eos = tok.pad_token_id, tok.eos_token_id
    config = MarianConfig(
        vocab_size=len(vocab),
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=512,
        pad_token_id=pad,
        eos_token_id=eos,
        decoder_start_token_id=pad,
        forced_eos_token_id=None,
        task_specific_params=_seq2seq_task_params({"translation_en_to_de": None}),
    )
    seed_torch(seed)
    model = MarianMTModel(config)
    model.generation_config = GenerationConfig(
        pad_token_id=pad,
        eos_token_id=eos,
        decoder_start_token_id=pad,
        forced_eos_token_id=eos,
        bad_words_ids=[[pad]],
        max_length=SEQ2SEQ_MAX_LENGTH,
        num_beams=1,  # opus-mt never emits <pad>
    )
    save(out, model, tok)
