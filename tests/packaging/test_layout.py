"""The wheel's package list is written out in pyproject.toml (conf/ and schemas/ are mapped into the
package there, and data folders are listed so setuptools ships them without warnings): a folder that
is not listed would be missing from every install, or warn at every build."""

from __future__ import annotations

import pytest

from runner.core.paths import REPO_ROOT

tomllib = pytest.importorskip("tomllib")  # Python 3.11+
MAPPED = {"runner": "runner", "runner.conf": "conf", "runner.schemas": "schemas"}


def _shipped_folders() -> set[str]:
    """Dotted names of the folders an install needs: code packages, and folders holding data files."""
    found = set()
    for package, folder in MAPPED.items():
        root = REPO_ROOT / folder
        for path in root.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                found.add(".".join([package, *path.parent.relative_to(root).parts]))
    return found


def test_every_shipped_folder_is_listed_in_pyproject():
    setuptools = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools["package-dir"] == MAPPED
    assert set(setuptools["packages"]) == _shipped_folders()
