"""conf/experiment/: every experiment composes and pins what changes outputs; the offline ones run."""

from __future__ import annotations

import json

import pytest
import yaml

from runner.api import compose
from runner.config import check_run
from runner.config.search import ConfigSession
from runner.core.paths import CONF_DIR
from tests.conftest import read_jsonl, run_cli

EXPERIMENTS = ConfigSession().options("experiment")
OFFLINE = [name for name in EXPERIMENTS if name.startswith("tiny_")]
GENERATES = {"text-generation", "summarization", "translation", "text2text-generation", "automatic-speech-recognition"}


def _declared(name: str) -> dict:
    """What the file itself sets (its own keys, before the defaults list fills the rest)."""
    return yaml.safe_load((CONF_DIR / "experiment" / f"{name}.yaml").read_text())


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_composes_and_pins_what_changes_outputs(name):
    cfg = compose([f"+experiment={name}"])
    declared = _declared(name)
    parent = declared.get("defaults", [])
    inherited = [d for d in parent if isinstance(d, str) and d != "_self_"]
    for base in inherited:  # imdb_full builds on sst2_distilbert
        declared = {**_declared(base), **declared}
    for key in ("seed", "dtype", "batch_size"):
        assert key in declared, f"{name}: {key} is left to the defaults"
    text = (CONF_DIR / "experiment" / f"{name}.yaml").read_text()
    for step in check_run(cfg).steps.values():  # a chain pins every step
        if step["model"]["id"]:
            assert step["model"]["revision"] or "# unpinned:" in text, f"{name}: hub model without a revision"
        if step["task"]["name"] in GENERATES and step["task"]["name"] != "automatic-speech-recognition":
            params = step["task"]["params"]
            assert "do_sample" in params and ({"max_new_tokens", "max_length"} & set(params)), f"{name}: {params}"


def test_there_are_offline_experiments_and_the_tutorial_ones():
    assert {"tiny_sentiment", "tiny_generation", "tiny_whisper_words"} <= set(OFFLINE)
    assert {
        "gemma2_generation",
        "pegasus_billsum",
        "whisper_word_timestamps",
        "sst2_distilbert",
        "gemma7b_8bit",
        "imdb_full",
        "bench_gpt2",
        "bench_summarization",
    } <= set(EXPERIMENTS)


def test_offline_experiments_run(tmp_path):
    """All offline experiments in one multirun (one process: torch is imported once)."""
    sweep = tmp_path / "sweep"
    result = run_cli(
        "-m",
        f"+experiment={','.join(OFFLINE)}",
        "progress=false",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    ran = {}
    for job in sorted(p for p in sweep.iterdir() if (p / "run.json").is_file()):
        record = json.loads((job / "run.json").read_text())
        overrides = yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text())
        name = next(o.split("=", 1)[1] for o in overrides if o.startswith("+experiment="))
        assert record["status"] == "ok", name
        assert record["config"]["seed"] == compose([f"+experiment={name}"])["seed"]
        ran[name] = read_jsonl(job / "predictions.jsonl")
    assert set(ran) == set(OFFLINE)
    assert len(ran["tiny_sentiment"]) == 6 and len(ran["tiny_sentiment"][0]["output"]) == 2  # top_k=2
    assert len(ran["tiny_generation"]) == 3
    words = ran["tiny_whisper_words"]
    assert len(words) == 2 and all(len(chunk["timestamp"]) == 2 for p in words for chunk in p["output"]["chunks"])
