"""Vocabularies written from scratch: byte-level BPE (GPT-2 style), WordPiece, and a SentencePiece
model trained on the spot. Nothing is downloaded."""

from __future__ import annotations

import json
from pathlib import Path

ENDOFTEXT = "<|endoftext|>"


def byte_to_unicode() -> dict[int, str]:
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


def write_byte_bpe_files(folder: Path, extra_tokens: list[str]) -> tuple[str, str]:
    """vocab.json (256 byte tokens, then `extra_tokens`) and a merges.txt with no merges."""
    vocab = {char: byte for byte, char in byte_to_unicode().items()}
    for token in extra_tokens:
        vocab.setdefault(token, len(vocab))
    folder.mkdir(parents=True, exist_ok=True)
    vocab_file, merges_file = folder / "vocab.json", folder / "merges.txt"
    vocab_file.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    merges_file.write_text("#version: 0.2\n", encoding="utf-8")
    return str(vocab_file), str(merges_file)


def byte_bpe_tokenizer(work: Path, extra_special: tuple[str, ...] = (), **kwargs):
    """A GPT-2 style fast tokenizer (byte-level BPE, no merges) with <|endoftext|> as bos/eos/pad."""
    from transformers import GPT2TokenizerFast

    vocab_file, merges_file = write_byte_bpe_files(work, [ENDOFTEXT, *extra_special])
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


COMMON_WORDS = (
    "the be to of and a in that have i it for not on with he as you do at this but his by from "
    "they we say her she or an will my one all would there their what so up out if about who get "
    "which go me when make can like time no just him know take people into year your good some "
    "could them see other than then now look only come its over think also back after use two how "
    "our work first well way even new want because any these give day most us is are was great "
    "bad movie film love hate paris london john mary google"
).split()


def write_wordpiece_vocab(folder: Path) -> str:
    import string

    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = string.ascii_lowercase + string.ascii_uppercase + string.digits
    tokens += list(chars) + list(string.punctuation)
    tokens += ["##" + c for c in chars]
    tokens += [w for w in dict.fromkeys(COMMON_WORDS) if w not in tokens]
    folder.mkdir(parents=True, exist_ok=True)
    vocab_file = folder / "vocab.txt"
    vocab_file.write_text("\n".join(tokens) + "\n", encoding="utf-8")
    return str(vocab_file)


def wordpiece_tokenizer(work: Path, distilbert: bool, model_max_length: int = 128):
    from transformers import BertTokenizerFast, DistilBertTokenizerFast

    cls = DistilBertTokenizerFast if distilbert else BertTokenizerFast
    kwargs = {"model_input_names": ["input_ids", "attention_mask"]} if distilbert else {}
    return cls(write_wordpiece_vocab(work), do_lower_case=True, model_max_length=model_max_length, **kwargs)


def train_sentencepiece(vocab_size: int = 200) -> bytes:
    """A small unigram SentencePiece model, trained offline on sentences made of COMMON_WORDS.

    Ids follow the opus-mt models: </s>=0, <unk>=1, no <s>. The training is deterministic (fixed
    corpus, one thread), so the same bytes come out every time and under every transformers version.
    """
    import io
    import random
    import string

    import sentencepiece

    rng = random.Random(0)
    words = list(dict.fromkeys(COMMON_WORDS))
    corpus = [" ".join(rng.choice(words) for _ in range(8)) for _ in range(300)]
    corpus.append(" ".join([string.ascii_letters, string.digits, string.punctuation]))
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus),
        model_writer=model,
        vocab_size=vocab_size,
        model_type="unigram",
        character_coverage=1.0,
        normalization_rule_name="identity",
        num_threads=1,
        eos_id=0,
        unk_id=1,
        bos_id=-1,
        pad_id=-1,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    return model.getvalue()


# CLIP (and OWL-ViT, which uses its tokenizer): the 256 byte characters, the same with CLIP's end-of-word
# "</w>", then the specials LAST: both text towers pool the token at input_ids.argmax(), which is the
# end-of-text token only when it has the highest id. No merges: a word is its characters.
CLIP_BOS, CLIP_EOS = "<|startoftext|>", "<|endoftext|>"


def write_clip_bpe_files(folder: Path) -> tuple[str, str]:
    chars = list(byte_to_unicode().values())
    tokens = chars + [c + "</w>" for c in chars] + [CLIP_BOS, CLIP_EOS]
    vocab = {t: i for i, t in enumerate(tokens)}
    folder.mkdir(parents=True, exist_ok=True)
    vocab_file, merges_file = folder / "vocab.json", folder / "merges.txt"
    vocab_file.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    merges_file.write_text("#version: 0.2\n", encoding="utf-8")
    return str(vocab_file), str(merges_file)


def clip_tokenizer(work: Path, model_max_length: int = 77, pad_token: str = CLIP_EOS):
    """CLIPTokenizerFast over the files above; positional paths work in 4.x (vocab_file, merges_file)
    and 5.x (vocab, merges)."""
    from transformers import CLIPTokenizerFast

    vocab_file, merges_file = write_clip_bpe_files(work)
    return CLIPTokenizerFast(
        vocab_file,
        merges_file,
        unk_token=CLIP_EOS,
        bos_token=CLIP_BOS,
        eos_token=CLIP_EOS,
        pad_token=pad_token,
        model_max_length=model_max_length,
    )
