"""The wheel's package list is written out in pyproject.toml (conf/ and schemas/ are mapped into the
package there): a new subpackage of runner/ that is not listed would be missing from every install."""
from __future__ import annotations

import pytest

from runner.paths import REPO_ROOT

tomllib = pytest.importorskip("tomllib")  # Python 3.11+


def test_every_runner_package_is_listed_in_pyproject():
    setuptools = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {".".join(init.relative_to(REPO_ROOT).parts[:-1]) for init in (REPO_ROOT / "runner").rglob("__init__.py")}
    assert set(setuptools["packages"]) == found | {"runner.conf", "runner.schemas"}
    assert setuptools["package-dir"] == {"runner": "runner", "runner.conf": "conf", "runner.schemas": "schemas"}
