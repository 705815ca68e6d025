"""scripts/setup.sh says each step, what it installs and how long it took, with pip's own output kept in
<venv>/setup.log (issue 30: it used to be silent for minutes). Run here with a stand-in interpreter that
answers like pip, so the script's own logic runs in well under a second."""

from __future__ import annotations

import os
import stat
import subprocess

from runner.core.paths import REPO_ROOT

FAKE_PYTHON = """#!/usr/bin/env bash
case "$*" in
  *"pip install"*torch*) echo "Collecting torch"; echo "Requirement already satisfied: filelock";;
  *"pip install"*-e*) echo "Obtaining file:///x"; echo "Successfully installed aaa-1.0 bbb-2.0 ccc-3.0";;
  *"-c"*) printf 'ready: torch 9.9, transformers 9.9';;
esac
[ -z "${FAIL_ON:-}" ] || { case "$*" in *"$FAIL_ON"*) echo "ERROR: no such version" >&2; exit 1;; esac; }
"""


def fake_venv(tmp_path):
    python = tmp_path / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(FAKE_PYTHON)
    python.chmod(python.stat().st_mode | stat.S_IEXEC)
    return tmp_path / "venv"


def setup(venv, **env):
    return subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "setup.sh")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "VENV": str(venv), **env},
    )


def test_setup_prints_each_step_its_time_and_what_it_installed(tmp_path):
    venv = fake_venv(tmp_path)
    result = setup(venv)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"setup: pip's full output goes to {venv}/setup.log; versions pinned by constraints.txt"
    assert lines[1].startswith("setup: [1/2] torch==") and lines[2].endswith("s, nothing new (already installed)")
    assert lines[3].startswith("setup: [2/2] this project (editable) with its extras minilm,")
    assert lines[4].endswith("s, installed 3 packages: aaa-1.0 bbb-2.0 ccc-3.0")
    assert lines[5].startswith("ready: torch 9.9, transformers 9.9 (set-up took ")
    assert "Collecting" not in result.stdout + result.stderr  # pip's chatter is in the log only
    assert "Collecting torch" in (venv / "setup.log").read_text()


def test_a_failed_step_shows_pips_last_lines_and_exits_1(tmp_path):
    venv = fake_venv(tmp_path)
    result = setup(venv, FAIL_ON="-e")
    assert result.returncode == 1 and "setup: FAILED after " in result.stderr
    assert "ERROR: no such version" in result.stderr and f"all of them in {venv}/setup.log" in result.stderr
    assert "ready:" not in result.stdout
