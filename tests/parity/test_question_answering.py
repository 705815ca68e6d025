"""Parity: the runner's question-answering pipeline (transformers 5) against transformers 4.57's own.

The tiny models are built here, in the 5.x venv; a helper script then runs the native 4.x
`pipeline("question-answering")` on the same folders in the 4.x venv (REPO_ROOT/.venv4, or the
interpreter named by RUNNER_V4_PYTHON) and both sets of outputs are compared: same shape (dict or
list), same answers and character offsets, scores within 1e-5.
"""

from __future__ import annotations

import json
import os
import random
import string
import subprocess
import sys
from pathlib import Path

import pytest

from tests.parity.conftest import v4_python

SCORE_TOLERANCE = 1e-5

WORDS = (
    "the be to of and a in that have it for not on with he as you do at this but his by from they we "
    "say her she or an will my one all would there their what so up out if about who where when is was "
    "city river capital born year king queen paris london john mary old new"
).split()


# --------------------------------------------------------------------------------------------
# Tiny models
# --------------------------------------------------------------------------------------------
def _tokenizer(folder: Path, with_token_types: bool):
    from transformers import BertTokenizerFast

    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokens += list(string.ascii_lowercase + string.digits + string.punctuation)
    tokens += ["##" + c for c in string.ascii_lowercase + string.digits]
    tokens += WORDS
    folder.mkdir(parents=True, exist_ok=True)
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(dict.fromkeys(tokens)) + "\n", encoding="utf-8")
    kwargs = {} if with_token_types else {"model_input_names": ["input_ids", "attention_mask"]}
    return BertTokenizerFast(str(vocab), do_lower_case=True, model_max_length=512, **kwargs)


def _build_distilbert(out: Path, padding_side: str = "right") -> Path:
    import torch
    from transformers import DistilBertConfig, DistilBertForQuestionAnswering

    tok = _tokenizer(out / ".vocab", with_token_types=False)
    tok.padding_side = padding_side
    config = DistilBertConfig(
        vocab_size=len(tok),
        dim=32,
        n_layers=2,
        n_heads=2,
        hidden_dim=64,
        max_position_embeddings=512,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(0)
    model = DistilBertForQuestionAnswering(config).eval()
    model.save_pretrained(str(out))
    tok.save_pretrained(str(out))
    return out


def _build_bert(out: Path) -> Path:
    import torch
    from transformers import BertConfig, BertForQuestionAnswering

    tok = _tokenizer(out / ".vocab", with_token_types=True)
    config = BertConfig(
        vocab_size=len(tok),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(0)
    model = BertForQuestionAnswering(config).eval()
    model.save_pretrained(str(out))
    tok.save_pretrained(str(out))
    return out


BUILDERS = {
    "distilbert": _build_distilbert,
    "bert": _build_bert,  # token_type_ids reach the model
    "distilbert-left": lambda out: _build_distilbert(out, padding_side="left"),  # context-first path
}


# --------------------------------------------------------------------------------------------
# Cases: (name, call) where call is {"args": [...], "kwargs": {...}}, all JSON.
# --------------------------------------------------------------------------------------------
def _long_context(n_chars: int = 1500) -> str:
    rng = random.Random(0)
    sentences = []
    while sum(len(s) + 1 for s in sentences) < n_chars:
        words = rng.choices(WORDS, k=rng.randint(6, 14))
        if rng.random() < 0.5:
            words.insert(rng.randrange(len(words)), str(rng.randint(1500, 2024)))
        if rng.random() < 0.3:
            words.insert(rng.randrange(len(words)), rng.choice(["Nantes", "Lyon", "Hamburg", "Zürich"]))
        sentence = " ".join(words)
        sentences.append(sentence[0].upper() + sentence[1:] + ".")
    return " ".join(sentences)[:n_chars]


SHORT = "John was born in Paris in 1990. Mary is the queen of London."
SHORT2 = "The old river runs by the city. The king was there in 1850, and the queen was not."
UNICODE = "Zoë — née Müller — lived in Zürich (CH) from 1999–2004; «café» costs €3.50! She said: “it’s fine…” 東京 too."
LONG = _long_context()

CASES = [
    ("short-kwargs", {"kwargs": {"question": "Where was John born?", "context": SHORT}}),
    ("short-dict", {"args": [{"question": "Who is the queen?", "context": SHORT}]}),
    ("short-positional-pair", {"args": ["When was John born?", SHORT]}),
    (
        "list-of-dicts",
        {
            "args": [
                [
                    {"question": "Who was born in Paris?", "context": SHORT},
                    {"question": "What runs by the city?", "context": SHORT2},
                    {"question": "When was the king there?", "context": SHORT2},
                ]
            ]
        },
    ),
    ("one-item-list", {"args": [[{"question": "Where is the queen?", "context": SHORT}]]}),
    ("top_k=1", {"kwargs": {"question": "Who was there?", "context": SHORT2, "top_k": 1}}),
    ("top_k=3", {"kwargs": {"question": "Who was there?", "context": SHORT2, "top_k": 3}}),
    ("top_k=40-tiny-context", {"kwargs": {"question": "who?", "context": "Mary and John.", "top_k": 40}}),
    (
        "impossible",
        {
            "kwargs": {
                "question": "What is the capital?",
                "context": SHORT,
                "handle_impossible_answer": True,
                "top_k": 2,
            }
        },
    ),
    (
        "max_answer_len=3",
        {"kwargs": {"question": "What happened?", "context": SHORT2, "max_answer_len": 3, "top_k": 3}},
    ),
    (
        "align_to_words=False",
        {"kwargs": {"question": "Where?", "context": UNICODE, "align_to_words": False, "top_k": 3}},
    ),
    ("unicode", {"kwargs": {"question": "Where did Zoë live?", "context": UNICODE, "top_k": 2}}),
    (
        "long-64/16",
        {
            "kwargs": {
                "question": "When was the king in the city?",
                "context": LONG,
                "max_seq_len": 64,
                "doc_stride": 16,
            }
        },
    ),
    (
        "long-64/16-top3",
        {
            "kwargs": {
                "question": "Who was born there?",
                "context": LONG,
                "max_seq_len": 64,
                "doc_stride": 16,
                "top_k": 3,
            }
        },
    ),
    ("long-defaults", {"kwargs": {"question": "Where is the river?", "context": LONG, "top_k": 2}}),
    (
        "long-impossible",
        {
            "kwargs": {
                "question": "What is the capital?",
                "context": LONG,
                "max_seq_len": 64,
                "doc_stride": 16,
                "handle_impossible_answer": True,
                "top_k": 3,
            }
        },
    ),
    (
        "long-unaligned",
        {
            "kwargs": {
                "question": "Which year?",
                "context": LONG,
                "max_seq_len": 96,
                "doc_stride": 32,
                "align_to_words": False,
                "top_k": 2,
            }
        },
    ),
    (
        "batch-4",
        {
            "args": [
                [
                    {"question": "Where was John born?", "context": SHORT},
                    {"question": "Who is the queen?", "context": SHORT},
                    {"question": "What runs by the city?", "context": SHORT2},
                    {"question": "When was the king there?", "context": LONG},
                    {"question": "Where did Zoë live?", "context": UNICODE},
                    {"question": "Who?", "context": SHORT2},
                ]
            ],
            "kwargs": {"batch_size": 4, "top_k": 2},
        },
    ),
    (
        "batch-4-windows",
        {
            "args": [
                [
                    {"question": "When was the king in the city?", "context": LONG},
                    {"question": "Who is the queen?", "context": SHORT},
                    {"question": "Who was born there?", "context": LONG},
                ]
            ],
            "kwargs": {"batch_size": 4, "max_seq_len": 64, "doc_stride": 16},
        },
    ),
    ("questions-list-one-context", {"kwargs": {"question": ["Who?", "Where?", "When?"], "context": SHORT}}),
    ("questions-contexts-lists", {"kwargs": {"question": ["Who?", "What?"], "context": [SHORT, UNICODE], "top_k": 2}}),
]


def _n_inputs(call: dict) -> int:
    args, kwargs = call.get("args", []), call.get("kwargs", {})
    if len(args) == 1 and isinstance(args[0], list):
        return len(args[0])
    if isinstance(kwargs.get("question"), list):
        return len(kwargs["question"])
    return 1


# The 4.x side: plain python (no pytest there), native pipeline, JSON out.
V4_SCRIPT = r"""
import json, sys
import transformers
from transformers import pipeline
spec = json.loads(open(sys.argv[1], encoding="utf-8").read())
results = {}
for model_name, folder in spec["folders"].items():
    qa = pipeline("question-answering", model=folder, device=-1)
    results[model_name] = [qa(*call.get("args", []), **call.get("kwargs", {})) for _, call in spec["cases"]]
with open(sys.argv[2], "w", encoding="utf-8") as f:
    json.dump({"version": transformers.__version__, "results": results}, f)
"""


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("qa-parity")
    return {name: build(root / name) for name, build in BUILDERS.items()}


@pytest.fixture(scope="module")
def v4_outputs(folders, tmp_path_factory) -> dict:
    python = v4_python()
    work = tmp_path_factory.mktemp("qa-parity-v4")
    (work / "run_v4.py").write_text(V4_SCRIPT, encoding="utf-8")
    spec = {"folders": {name: str(path) for name, path in folders.items()}, "cases": CASES}
    (work / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "CUDA_VISIBLE_DEVICES": ""}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [str(python), str(work / "run_v4.py"), str(work / "spec.json"), str(work / "out.json")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        cwd=work,
    )
    assert proc.returncode == 0, f"4.x helper failed:\n{proc.stderr[-4000:]}"
    data = json.loads((work / "out.json").read_text(encoding="utf-8"))
    assert data["version"].startswith("4."), data["version"]
    return data["results"]


def _compare(ours, theirs, where: str) -> tuple[int, float]:
    """Same structure, answers and offsets; returns (answers compared, max score difference)."""
    if isinstance(theirs, list):
        assert isinstance(ours, list), f"{where}: expected a list, got {ours!r}"
        assert len(ours) == len(theirs), f"{where}: {len(ours)} items vs {len(theirs)}:\n{ours}\n{theirs}"
        count, worst = 0, 0.0
        for i, (a, b) in enumerate(zip(ours, theirs)):
            n, d = _compare(a, b, f"{where}[{i}]")
            count, worst = count + n, max(worst, d)
        return count, worst
    assert isinstance(ours, dict), f"{where}: expected a dict, got {ours!r}"
    assert set(ours) == set(theirs) == {"score", "start", "end", "answer"}, where
    assert (ours["answer"], ours["start"], ours["end"]) == (theirs["answer"], theirs["start"], theirs["end"]), (
        f"{where}: {ours} != {theirs}"
    )
    assert type(ours["start"]) is int and type(ours["end"]) is int, where
    return 1, abs(ours["score"] - theirs["score"])


@pytest.mark.v4
@pytest.mark.slow
def test_question_answering_matches_transformers_4(folders, v4_outputs):
    import transformers

    from runner.tasks.pipelines import question_answering as qa_module
    from runner.tasks.pipelines import register_missing, registered_name

    assert transformers.__version__.startswith("5."), "this parity test runs on transformers 5"
    assert register_missing("question-answering") == register_missing("question-answering")  # idempotent

    total_inputs = total_answers = 0
    worst_overall = 0.0
    for model_name, folder in folders.items():
        pipe = transformers.pipeline(registered_name("question-answering"), model=str(folder), device=-1)
        assert isinstance(pipe, qa_module.QuestionAnsweringPipeline)
        print(f"\n[{model_name}] (transformers {transformers.__version__} vs 4.x native)")
        for (name, call), theirs in zip(CASES, v4_outputs[model_name]):
            ours = pipe(*call.get("args", []), **call.get("kwargs", {}))
            ours = json.loads(json.dumps(ours))  # the same round trip as the 4.x side
            n_answers, worst = _compare(ours, theirs, f"{model_name}/{name}")
            n_inputs = _n_inputs(call)
            print(f"  {name:28s} inputs={n_inputs:2d} answers={n_answers:3d} max|dscore|={worst:.2e}")
            total_inputs += n_inputs
            total_answers += n_answers
            worst_overall = max(worst_overall, worst)
    print(f"compared {total_inputs} inputs, {total_answers} answers; max score difference {worst_overall:.3e}")
    assert total_inputs >= 20
    assert worst_overall <= SCORE_TOLERANCE


def test_register_builds_pipeline_and_rejects_bad_input(folders):
    import transformers

    from runner.tasks.pipelines import register_missing, registered_name

    register_missing("question-answering")
    assert registered_name("question-answering") in transformers.pipelines.PIPELINE_REGISTRY.get_supported_tasks()
    pipe = transformers.pipeline(registered_name("question-answering"), model=str(folders["distilbert"]), device=-1)
    assert pipe([]) == []
    with pytest.raises(KeyError):
        pipe({"question": "who?"})
    with pytest.raises(ValueError):
        pipe(question="", context=SHORT)
    with pytest.raises(ValueError):
        pipe(question="who?", context=SHORT, top_k=0)
    with pytest.raises(ValueError, match="doc_stride"):  # 4.x lets the tokenizer's Rust panic through
        pipe(question="where was john born in the old city?", context=LONG, max_seq_len=32, doc_stride=30)
    out = pipe(question="Where was John born?", context=SHORT, top_k=2)
    assert isinstance(out, list) and all(SHORT[a["start"] : a["end"]] == a["answer"] for a in out)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q", "-s"]))
