"""summarization, translation, text2text-generation, question-answering and visual-question-answering:
the runner on transformers 5 (its own pipelines) against the runner on transformers 4.57 (the native
pipelines), same saved model, same inputs, through the `run` CLI in both environments.

The 4.x environment is REPO/.venv4 (`VENV=.venv4 TRANSFORMERS_SPEC=transformers==4.57.6 bash scripts/setup.sh`)
or $RUNNER_V4_PYTHON. Without it these tests skip, unless RUNNER_REQUIRE_V4=1 (CI) makes that a failure.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runner.models.tiny import tiny_model_dir
from tests.conftest import read_jsonl, write_png
from tests.e2e.test_tasks import assert_close
from tests.parity.conftest import v4_python


ARTICLE = (
    "The city council met on Tuesday to discuss the new budget. Members argued about funding for parks, "
    "roads and schools. After a long debate, they agreed to raise spending on public transport by ten percent, "
    "while cutting the cost of new office buildings. The mayor said the plan would make the city greener. "
) * 6
TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello, how are you today?",
    ARTICLE,
    "Paris is the capital of France.",
    "I would like a cup of tea, please.",
    "Numbers: 1, 2, 3 and 42!",
    "Short.",
    "The meeting was moved to Friday afternoon because of the storm.",
]
LONG_CONTEXT = " ".join(
    f"Sentence {i} says that the answer number {i} is hidden in plain text here." for i in range(60)
)
QA = [
    ("Where is the Eiffel Tower?", "The Eiffel Tower is a wrought-iron tower in Paris, France. It was built in 1889."),
    ("Who wrote Hamlet?", "Hamlet is a tragedy written by William Shakespeare around 1600."),
    ("What do bees make?", "Bees collect nectar from flowers and turn it into honey."),
    ("Which answer is hidden?", LONG_CONTEXT),
    ("When does the shop open?", "The shop opens at nine in the morning on weekdays, and at ten on Saturdays."),
    ("What is the café's name?", "Le Café Crème — a tiny café near the station — serves crêpes."),
]
QUESTIONS = ["What color is it?", "Is there a circle?", "How many shapes?", "What is in the picture?"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("parity")
    (root / "texts.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS))
    (root / "qa.jsonl").write_text("".join(json.dumps({"question": q, "context": c}) + "\n" for q, c in QA))
    with open(root / "vqa.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["image", "question"])
        for i, question in enumerate(QUESTIONS):
            write_png(root / "images" / f"img{i}.png", (40 + 10 * i, 30 + 5 * i), (40 * i, 200 - 30 * i, 90))
            writer.writerow([f"images/img{i}.png", question])
    return root


# case id -> (task, tiny arch, dataset overrides, task parameter overrides)
TEXT_FILE = ["dataset=file", "dataset.path=texts.jsonl"]
CASES = {
    "summarization": ("summarization", "bart", TEXT_FILE, ["task.params.truncation=true"]),
    "summarization-beams": (
        "summarization",
        "bart",
        TEXT_FILE,
        [
            "task.params.truncation=true",
            "task.params.num_beams=3",
            "task.params.max_length=12",
            "task.params.min_length=4",
        ],
    ),
    "summarization-t5-prefix": ("summarization", "t5", TEXT_FILE, ["task.params.max_new_tokens=8"]),
    "translation-en-fr": (
        "translation",
        "t5",
        TEXT_FILE,
        ["task.params.src_lang=en", "task.params.tgt_lang=fr", "task.params.max_new_tokens=8"],
    ),
    "translation-bart": (
        "translation",
        "bart",
        TEXT_FILE,
        ["task.params.truncation=true", "task.params.max_new_tokens=8"],
    ),
    "text2text": ("text2text-generation", "t5", TEXT_FILE, ["task.params.max_new_tokens=6", "task.params.num_beams=2"]),
    "question-answering": ("question-answering", "distilbert_qa", ["dataset=file", "dataset.path=qa.jsonl"], []),
    "question-answering-top3": (
        "question-answering",
        "distilbert_qa",
        ["dataset=file", "dataset.path=qa.jsonl"],
        [
            "task.params.top_k=3",
            "task.params.max_seq_len=48",
            "task.params.doc_stride=16",
            "task.params.handle_impossible_answer=true",
        ],
    ),
    "vqa": ("visual-question-answering", "vilt", ["dataset=file", "dataset.path=vqa.csv"], ["task.params.top_k=2"]),
}
RESULTS: dict[str, tuple[int, float]] = {}


def run_in(python: Path, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [str(python), "-m", "runner", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def max_score_difference(ours, theirs) -> float:
    if isinstance(theirs, dict):
        return max([max_score_difference(ours[k], v) for k, v in theirs.items()], default=0.0)
    if isinstance(theirs, list):
        return max([max_score_difference(a, b) for a, b in zip(ours, theirs)], default=0.0)
    if isinstance(theirs, float):
        return abs(ours - theirs)
    return 0.0


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.v4
@pytest.mark.slow
def test_transformers5_runner_matches_transformers4_native(case, data, tmp_path):
    task, arch, dataset, params = CASES[case]
    folder = tiny_model_dir(task, arch, seed=0)
    args = [f"+task={task}", f"model.id={folder}", "batch_size=2", "device=cpu", "progress=false", *dataset, *params]
    outputs = {}
    for name, python in (("v5", Path(sys.executable)), ("v4", v4_python())):
        result = run_in(python, [*args, f"hydra.run.dir={tmp_path / name}"], cwd=data)
        assert result.returncode == 0, f"{name}: {result.stderr[-3000:]}"
        assert read_jsonl(tmp_path / name / "errors.jsonl") == [], name
        outputs[name] = read_jsonl(tmp_path / name / "predictions.jsonl")
    v5_metrics = json.loads((tmp_path / "v5" / "metrics.json").read_text())
    v4_metrics = json.loads((tmp_path / "v4" / "metrics.json").read_text())
    assert v5_metrics["pipeline_task"].startswith("runner-"), "transformers 5 should run the runner's own pipeline"
    assert not v4_metrics["pipeline_task"].startswith("runner-"), "transformers 4 should run its native pipeline"

    ours, theirs = outputs["v5"], outputs["v4"]
    assert [p["id"] for p in ours] == [p["id"] for p in theirs] and len(ours) > 0
    for mine, native in zip(ours, theirs):
        assert_close(mine["output"], native["output"], f"{case}[{mine['id']}]")
    difference = max(max_score_difference(a["output"], b["output"]) for a, b in zip(ours, theirs))
    RESULTS[case] = (len(ours), difference)
    print(f"\nparity {case}: {len(ours)} inputs, max score difference {difference:.2e}")
    assert difference <= 1e-5
