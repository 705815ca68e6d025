"""Where the project's data lives. conf/ and schemas/ sit at the repository root (installed editable)."""
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
CONF_DIR = REPO_ROOT / "conf"
SCHEMA_DIR = REPO_ROOT / "schemas"
SAMPLE_DIR = PACKAGE_DIR / "sample_data"
