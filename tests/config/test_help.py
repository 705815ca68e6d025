"""`run --help` says what exists: every task with its aliases and parameters (from the task registry
and schemas/tasks/), every exit code (runner.core.errors.EXIT_CODES, checked against the constants that
produce them), defaults equal to the composed config's, and only paths that exist. In-process."""

from __future__ import annotations

import re

import pytest

from runner.config.help import render_help
from runner.config.search import ConfigSession
from runner.core.errors import EXIT_CODES, ConfigError, RunError
from runner.core.paths import REPO_ROOT, SCHEMA_DIR
from runner.tasks import TASKS


@pytest.fixture(scope="module")
def help_text() -> str:
    text = render_help(["--help"], ConfigSession())
    assert text is not None
    return text


def _section(text: str, title: str) -> list[str]:
    lines = text.split(title, 1)[1].splitlines()[1:]
    return lines[: next((i for i, line in enumerate(lines) if not line.strip()), len(lines))]


def test_every_task_with_its_aliases_and_parameters(help_text):
    import json

    lines = {line.split()[0].rstrip(":"): line for line in _section(help_text, "Tasks (+task=")}
    assert set(lines) == set(TASKS)
    for task_id, task in TASKS.items():
        schema = json.loads((SCHEMA_DIR / "tasks" / f"{task_id}.schema.json").read_text())
        for word in (*task.aliases, *schema.get("properties", {})):
            assert re.search(rf"[ (,]{re.escape(word)}[,):]|[ ,]{re.escape(word)}$", lines[task_id]), (task_id, word)


def test_exit_codes_are_the_ones_the_code_returns(help_text):
    from runner.job.app import INTERRUPTED
    from runner.engine.error_summary import ROWS_FAILED
    from runner.repro.rerun import DIFFERS
    from runner.tracking.api import INTERRUPTED as TRACKED_INTERRUPTED

    assert set(EXIT_CODES) == {0, RunError.exit_code, ConfigError.exit_code, DIFFERS, ROWS_FAILED, INTERRUPTED}
    assert TRACKED_INTERRUPTED == INTERRUPTED
    shown = [int(line.split()[0]) for line in _section(help_text, "Exit codes")]
    assert shown == sorted(EXIT_CODES)
    for page in (REPO_ROOT / "README.md", REPO_ROOT / "docs" / "outputs.md"):  # the docs' exit code tables
        documented = {int(code) for code in re.findall(r"^\| `(\d+)` \|", page.read_text(), re.M)}
        assert documented == set(EXIT_CODES), page.name


def test_paths_named_exist(help_text):
    named = set(re.findall(r"\b((?:conf|schemas|docs)/[\w./<>-]+)", help_text))
    assert named, help_text
    for path in named:
        path = path.rstrip(".")
        variants = [path.replace("<task>", task) for task in TASKS] if "<task>" in path else [path]
        for variant in variants:
            if "<" in variant:  # outputs/<date>/...: not a repository path
                continue
            assert (REPO_ROOT / variant).exists(), f"--help names {variant}, which does not exist"


def test_defaults_shown_are_the_config_defaults(help_text):
    from runner.config.compose import compose_config

    cfg = compose_config(["+task=text-classification"])
    shown = re.findall(
        r"(?:^|\s)([a-z_][\w.]*)=([a-z0-9_.]+)(?=\s|$)", "\n".join(_section(help_text, "Top-level keys"))
    )
    assert len(shown) >= 10, shown
    for key, value in shown:
        if set(value) == {"."}:  # model.revision=...: a placeholder
            continue
        actual = cfg
        for part in key.split("."):
            actual = actual[part]
        if isinstance(actual, list) and len(actual) == 1:
            actual = actual[0]
        rendered = (
            {None: "null", True: "true", False: "false"}.get(actual, actual)
            if not isinstance(actual, int) or isinstance(actual, bool)
            else str(actual)
        )
        assert str(rendered) == value, f"--help shows {key}={value}, the config's default is {actual!r}"


def test_help_into_a_pipe_closed_early_ends_without_a_traceback(tmp_path):
    """`run --help | head -2`: the reader is gone before the help is written; no traceback on the screen."""
    import os
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)  # as head does once it has its lines: every write now fails with EPIPE
    try:
        done = subprocess.run(
            [sys.executable, "-m", "runner", "--help"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            cwd=tmp_path,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in done.stderr.decode() and "BrokenPipe" not in done.stderr.decode(), done.stderr
    assert done.returncode == 1
