"""Where the project's data lives.

conf/ and schemas/ sit at the repository's top level and ship inside the wheel as the packages
runner.conf and runner.schemas (pyproject.toml maps them). An install, wheel or editable, finds them
as those packages; a checkout run without installing (PYTHONPATH=.) finds the top-level folders.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # runner/ (this file is runner/core/paths.py)
REPO_ROOT = PACKAGE_DIR.parent
SAMPLE_DIR = PACKAGE_DIR / "sample_data"


def _packaged_dir(package: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(package)
    except ModuleNotFoundError:
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))).resolve()


_PACKAGED_CONF = _packaged_dir("runner.conf")
CONF_DIR = _PACKAGED_CONF or REPO_ROOT / "conf"
SCHEMA_DIR = _packaged_dir("runner.schemas") or REPO_ROOT / "schemas"
# The primary config source in Hydra's search path: through Hydra's package source when installed,
# so the same entry works from site-packages and from an editable install.
PRIMARY_CONFIG = "pkg://runner.conf" if _PACKAGED_CONF else str(CONF_DIR)
