"""Where the transformers 4.x environment is, for the parity tests that compare against it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runner.core.paths import REPO_ROOT


def v4_python() -> Path:
    """The 4.x interpreter ($RUNNER_V4_PYTHON, else REPO/.venv4). Skips the test when there is none,
    unless RUNNER_REQUIRE_V4=1 (CI), where a missing environment is a failure, not a skip."""
    path = Path(os.environ.get("RUNNER_V4_PYTHON", REPO_ROOT / ".venv4" / "bin" / "python"))
    if path.exists():
        return path
    message = f"no transformers 4.x environment at {path} (VENV=.venv4 TRANSFORMERS_SPEC=transformers==4.57.6 bash scripts/setup.sh)"
    if os.environ.get("RUNNER_REQUIRE_V4") == "1":
        pytest.fail(message)
    pytest.skip(message)
