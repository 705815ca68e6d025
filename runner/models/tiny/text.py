"""Tiny text models: GPT-2 for generation, DistilBERT and BERT for the encoder tasks and extractive QA."""

from __future__ import annotations

from pathlib import Path

from runner.models.tiny.common import (
    NER_LABELS,
    NLI_LABELS,
    SENTIMENT_LABELS,
    label_config,
    save,
    seed_torch,
    task_generation_params,
)
from runner.models.tiny.registry import builds
from runner.models.tiny.vocab import ENDOFTEXT, byte_bpe_tokenizer, wordpiece_tokenizer, write_wordpiece_vocab


@builds("gpt2", tasks=("text-generation",))
def _build_gpt2(task: str, out: Path, seed: int) -> None:
    from transformers import GenerationConfig, GPT2Config, GPT2LMHeadModel

    tok = byte_bpe_tokenizer(out / ".vocab")
    eot = tok.convert_tokens_to_ids(ENDOFTEXT)
    config = GPT2Config(
        vocab_size=len(tok),
        n_embd=64,
        n_layer=2,
        n_head=2,
        n_positions=256,
        n_inner=128,
        bos_token_id=eot,
        eos_token_id=eot,
        pad_token_id=eot,
        task_specific_params=task_generation_params(["text-generation"], max_new_tokens=8),
    )
    seed_torch(seed)
    model = GPT2LMHeadModel(config)
    model.generation_config = GenerationConfig(
        max_new_tokens=8,
        do_sample=False,
        bos_token_id=eot,
        eos_token_id=eot,
        pad_token_id=eot,
    )
    save(out, model, tok)


@builds("distilbert", tasks=("text-classification", "fill-mask", "feature-extraction", "token-classification"))
def _build_distilbert(task: str, out: Path, seed: int, labels=SENTIMENT_LABELS) -> None:
    from transformers import (
        DistilBertConfig,
        DistilBertForMaskedLM,
        DistilBertForSequenceClassification,
        DistilBertForTokenClassification,
        DistilBertModel,
    )

    tok = wordpiece_tokenizer(out / ".vocab", distilbert=True)
    heads = {
        "text-classification": (DistilBertForSequenceClassification, label_config(labels)),
        "zero-shot-classification": (DistilBertForSequenceClassification, label_config(labels)),
        "fill-mask": (DistilBertForMaskedLM, {}),
        "feature-extraction": (DistilBertModel, {}),
        "token-classification": (DistilBertForTokenClassification, label_config(NER_LABELS)),
    }
    model_cls, label_kwargs = heads[task]
    config = DistilBertConfig(
        vocab_size=len(tok),
        dim=32,
        n_layers=2,
        n_heads=2,
        hidden_dim=64,
        max_position_embeddings=128,
        pad_token_id=tok.pad_token_id,
        **label_kwargs,
    )
    seed_torch(seed)
    save(out, model_cls(config), tok)


@builds("distilbert_nli", tasks=("zero-shot-classification",))
def _build_distilbert_nli(task: str, out: Path, seed: int) -> None:
    _build_distilbert(task, out, seed, labels=NLI_LABELS)


@builds("bert", tasks=("token-classification", "feature-extraction", "text-classification", "fill-mask"))
def _build_bert(task: str, out: Path, seed: int) -> None:
    from transformers import (
        BertConfig,
        BertForMaskedLM,
        BertForSequenceClassification,
        BertForTokenClassification,
        BertModel,
    )

    tok = wordpiece_tokenizer(out / ".vocab", distilbert=False)
    heads = {
        "token-classification": (BertForTokenClassification, label_config(NER_LABELS)),
        "feature-extraction": (BertModel, {}),
        "text-classification": (BertForSequenceClassification, label_config(SENTIMENT_LABELS)),
        "fill-mask": (BertForMaskedLM, {}),
    }
    model_cls, label_kwargs = heads[task]
    config = BertConfig(
        vocab_size=len(tok),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        pad_token_id=tok.pad_token_id,
        **label_kwargs,
    )
    seed_torch(seed)
    kwargs = {"add_pooling_layer": True} if model_cls is BertModel else {}
    save(out, model_cls(config, **kwargs), tok)


@builds("distilbert_qa", tasks=("question-answering",))
def _build_distilbert_qa(task: str, out: Path, seed: int) -> None:
    """Extractive QA: no pipeline in transformers 5 (the runner provides its own); 4.x runs it natively."""
    from transformers import DistilBertConfig, DistilBertForQuestionAnswering

    # 512 positions: the question-answering pipeline cuts contexts into windows of up to 384 tokens.
    tok = wordpiece_tokenizer(out / ".vocab", distilbert=True, model_max_length=512)
    config = DistilBertConfig(
        vocab_size=len(tok),
        dim=32,
        n_layers=2,
        n_heads=2,
        hidden_dim=64,
        max_position_embeddings=512,
        pad_token_id=tok.pad_token_id,
    )
    seed_torch(seed)
    save(out, DistilBertForQuestionAnswering(config), tok)


# LayoutLM's own default; the pipeline's max_seq_len defaults to the tokenizer's model_max_length.
LAYOUTLM_POSITIONS = 512


@builds("layoutlm", tasks=("document-question-answering",))
def _build_layoutlm(task: str, out: Path, seed: int) -> None:
    """LayoutLM (v1) reads words and their boxes, no pixels: rows bring word_boxes (OCR would need
    pytesseract and tesseract). No image processor is saved, so the pipeline loads none."""
    import transformers
    from transformers import LayoutLMConfig, LayoutLMForQuestionAnswering

    # 4.x's pipeline insists on a fast tokenizer (LayoutLMTokenizerFast); 5.x has one LayoutLMTokenizer.
    tokenizer_class = getattr(transformers, "LayoutLMTokenizerFast", None) or transformers.LayoutLMTokenizer
    tok = tokenizer_class(
        write_wordpiece_vocab(out / ".vocab"), do_lower_case=True, model_max_length=LAYOUTLM_POSITIONS
    )
    config = LayoutLMConfig(
        vocab_size=len(tok),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=LAYOUTLM_POSITIONS,
        max_2d_position_embeddings=1024,
        pad_token_id=tok.pad_token_id,
    )
    seed_torch(seed)
    save(out, LayoutLMForQuestionAnswering(config), tok)


def with_sentence_head(
    folder: Path, target: Path, pooling: dict, normalize: bool, max_seq_length: int | None = None
) -> Path:
    """A copy of the model `folder` at `target` with the files a sentence-transformers model describes its head
    in: modules.json (Transformer, Pooling, Normalize when `normalize`), 1_Pooling/config.json (`pooling`: its
    pooling_mode_* keys) and sentence_bert_config.json when `max_seq_length` is given."""
    import json
    import shutil

    shutil.copytree(folder, target)
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
    (target / "modules.json").write_text(json.dumps(modules))
    (target / "1_Pooling").mkdir()
    hidden = json.loads((target / "config.json").read_text())["hidden_size"]
    (target / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": hidden, **pooling}))
    if max_seq_length:
        (target / "sentence_bert_config.json").write_text(
            json.dumps({"max_seq_length": max_seq_length, "do_lower_case": False})
        )
    return target
