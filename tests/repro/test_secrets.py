"""Secrets never reach the run dir (run.json, .hydra, multirun.yaml, logs), and a saved config is untrusted:
rerun= refuses the code-running settings it holds unless the command line gives them again."""

from __future__ import annotations

import json
import logging
import secrets
import string
from dataclasses import replace

import pytest

from runner.core.errors import ConfigError
from runner.models.loading import ModelRef, pipeline_kwargs
from runner.core.redact import REDACTED, RedactFilter, is_secret_key, redact, redact_text
from runner.repro.untrusted import check_saved_config
from tests.conftest import read_jsonl, run_cli, step_view

TINY = ["+task=sentiment", "model=tiny", "progress=false"]


def _token() -> str:
    return "hf_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(34))


def _files_holding(folder, text: str) -> list[str]:
    return [str(p) for p in folder.rglob("*") if p.is_file() and text.encode() in p.read_bytes()]


def test_secret_keys_are_told_from_lookalikes():
    for key in (
        "token",
        "model.kwargs.token",
        "HF_TOKEN",
        "api_key",
        "apiKey",
        "OPENAI_API_KEY",
        "password",
        "db_passwd",
        "client_secret",
        "auth",
        "credentials",
        "hub.access_token",
        "+model.kwargs.auth_token",
    ):
        assert is_secret_key(key), key
    for key in (
        "max_new_tokens",
        "tokenizer",
        "pad_token",
        "eos_token",
        "token_type_ids",
        "author",
        "authority",
        "secretary_id",
        "num_tokens",
        "skip_special_tokens",
    ):
        assert not is_secret_key(key), key


def test_redaction_keeps_everything_else():
    token = _token()
    cfg = {
        "model": {"kwargs": {"token": token, "use_auth_token": True, "pad_token": "<pad>"}},
        "task": {"params": {"max_new_tokens": 5, "prefix": f"see {token} here"}},
        "seed": 0,
    }
    assert redact(cfg) == {
        "model": {"kwargs": {"token": REDACTED, "use_auth_token": True, "pad_token": "<pad>"}},
        "task": {"params": {"max_new_tokens": 5, "prefix": f"see {REDACTED} here"}},
        "seed": 0,
    }
    assert cfg["model"]["kwargs"]["token"] == token  # a copy: the run itself keeps the real value
    line = f"run +model.kwargs.token={token} password='p w' max_new_tokens=5 batch_size=1,2 x={token}"
    assert (
        redact_text(line) == f"run +model.kwargs.token={REDACTED} password={REDACTED} max_new_tokens=5 "
        f"batch_size=1,2 x={REDACTED}"
    )


def test_the_log_filter_redacts_messages_and_tracebacks(tmp_path):
    token = _token()
    handler = logging.FileHandler(tmp_path / "log.txt")
    handler.addFilter(RedactFilter())
    logger = logging.getLogger("runner.test_secrets")
    logger.addHandler(handler)
    try:
        logger.warning("loading with token=%s", token)
        try:
            raise ValueError(f"401 for {token}")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
        handler.close()
    text = (tmp_path / "log.txt").read_text()
    assert token not in text and f"token={REDACTED}" in text and f"ValueError: 401 for {REDACTED}" in text


def test_the_token_reaches_the_pipeline_as_its_own_argument():
    step = step_view("+task=text-classification", "device=cpu")
    step = replace(step, model=replace(step.model, kwargs={"token": "hf_x", "low_cpu_mem_usage": True}))
    kwargs = pipeline_kwargs(step, ModelRef("some/model", None, "hub"))
    assert kwargs["token"] == "hf_x" and kwargs["model_kwargs"] == {"low_cpu_mem_usage": True}


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    """A run that was given a token and trust_remote_code (harmless on a tiny local model)."""
    root = tmp_path_factory.mktemp("secrets")
    token = _token()
    result = run_cli(
        *TINY,
        f"+model.kwargs.token={token}",
        "model.trust_remote_code=true",
        f"hydra.run.dir={root / 'original'}",
        cwd=root,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "original", token


def test_a_token_never_appears_in_the_run_dir(original):
    out, token = original
    assert _files_holding(out, token) == []
    assert len(read_jsonl(out / "predictions.jsonl")) == 6
    record = json.loads((out / "run.json").read_text())
    assert record["config"]["model"]["kwargs"]["token"] == REDACTED
    assert f"+model.kwargs.token={REDACTED}" in record["command"]
    assert f"+model.kwargs.token={REDACTED}" in (out / ".hydra" / "overrides.yaml").read_text()
    assert {p.name for p in (out / ".hydra").iterdir()} == {"config.yaml", "hydra.yaml", "overrides.yaml"}


@pytest.mark.slow
def test_a_token_never_appears_in_a_sweep(tmp_path):
    token = _token()
    sweep = tmp_path / "sweep"
    result = run_cli(
        "-m",
        *TINY,
        f"+model.kwargs.token={token}",
        "batch_size=1,2",
        "bench.isolation=none,process",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert token not in result.stderr
    assert (sweep / "multirun.yaml").is_file() and len(list(sweep.rglob("predictions.jsonl"))) == 4
    assert len(list(sweep.rglob("child_request.json"))) == 2  # isolated points: their child got the token on stdin
    assert _files_holding(sweep, token) == []


def test_rerun_refuses_trust_remote_code_from_the_saved_config(original, tmp_path):
    out, _ = original
    result = run_cli(f"rerun={out}", f"hydra.run.dir={tmp_path / 'again'}", cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "model.trust_remote_code: the saved config in" in result.stderr
    assert "runs Python code from the model repo" in result.stderr
    assert "give the same setting on the command line: model.trust_remote_code=true" in result.stderr
    assert "Traceback" not in result.stderr and "loading" not in result.stderr  # no model loaded


def test_rerun_asks_again_for_a_redacted_token(original, tmp_path):
    out, _ = original
    result = run_cli(
        f"rerun={out}", "model.trust_remote_code=true", f"hydra.run.dir={tmp_path / 'again'}", cwd=tmp_path
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert "model.kwargs.token: was redacted in" in result.stderr and "+model.kwargs.token=<value>" in result.stderr


def test_rerun_runs_when_the_command_line_gives_the_settings(original, tmp_path):
    out, token = original
    again = tmp_path / "again"
    result = run_cli(
        f"rerun={out}",
        "model.trust_remote_code=true",
        f"+model.kwargs.token={token}",
        "progress=false",
        f"hydra.run.dir={again}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "predictions identical, byte for byte" in result.stderr
    assert _files_holding(again, token) == [] and token not in result.stderr


def test_model_kwargs_off_the_safe_list_are_refused_unless_given():
    saved = {
        "model": {
            "trust_remote_code": False,
            "kwargs": {"low_cpu_mem_usage": True, "code_revision": "abc", "token": REDACTED},
        },
        "graph": {"steps": {"a": {"model": {"trust_remote_code": True}}}},
        "hydra": {"callbacks": {}},
    }
    with pytest.raises(ConfigError) as caught:
        check_saved_config(saved, [], "x/run.json")
    keys = [error.key for error in caught.value.errors]
    assert keys == ["model.kwargs.code_revision", "graph.steps.a.model.trust_remote_code", "hydra"]
    assert "+model.kwargs.code_revision=abc" in caught.value.render()
    check_saved_config(
        {k: v for k, v in saved.items() if k != "hydra"},
        ["+model.kwargs.code_revision=abc", "+graph.steps.a.model.trust_remote_code=true"],
        "x/run.json",
    )
