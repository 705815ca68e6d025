"""model.id names a hub model or a local folder; a local-looking one that does not exist is a config
error, found before any model loads (otherwise it is tried as a hub id and fails at load time, exit 1).

The rule: a hub id is `name` or `org/name` — at most one slash, no leading `/`, `./`, `../` or `~`.
model.id looks local when it
  - starts with `/`, `~`, `./`, `../` (or is `.` / `..`), or a Windows drive (`C:\\`), or holds a `\\`;
  - has two slashes or more, or ends with one (`models/bert/`, `runs/2026/best`);
  - is `org/name` where `org` is a folder here (`models/bert-tiny` beside a `models/` folder).
Relative paths are read from the current directory, as the loader reads them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from runner.core.extras import is_installed
from runner.core.errors import ConfigError, did_you_mean
from runner.models.loading import package_install_hint

_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")
_HUB_RULE = "a hub id is 'name' or 'org/name' (one slash at most, no leading ./, ../, / or ~)"


def looks_local(model_id: str) -> bool:
    if model_id in (".", "..") or model_id.startswith(("/", "~", "./", "../")):
        return True
    if "\\" in model_id or _DRIVE.match(model_id):
        return True
    if model_id.count("/") >= 2 or model_id.endswith("/"):
        return True
    return "/" in model_id and Path(model_id.split("/", 1)[0]).is_dir()


def check_model_location(model_id: str | None, key: str = "model.id") -> None:
    """ConfigError when model_id looks like a local path (see the module doc) that is not a folder."""
    if not model_id or not looks_local(model_id):
        return
    path = Path(model_id).expanduser()
    if path.is_dir():
        if not holds_model(path):
            held = sorted(p.name for p in path.iterdir() if not p.name.startswith("."))
            shown = f"it holds: {', '.join(held[:8])}{' ...' if len(held) > 8 else ''}" if held else "it is empty"
            raise ConfigError(
                key,
                f"'{model_id}' is a folder but holds no model (no config.json; {shown})",
                "give the folder that holds config.json and the weights (as save_pretrained writes it), or a hub id",
            )
        return
    if path.exists():
        raise ConfigError(
            key,
            f"'{model_id}' is a file, not a model folder",
            "give the folder that holds config.json and the weights, or a hub id",
        )
    raise ConfigError(
        key,
        f"'{model_id}' looks like a local path but does not exist (read from {Path.cwd()})",
        _missing_hint(model_id),
    )


# What a folder holding a model has at its top (or in model/, where the loader also looks): a transformers
# or sentence-transformers config, a PEFT adapter, CTranslate2 or GGUF weights.
MODEL_FILES = ("config.json", "adapter_config.json", "modules.json", "model.bin", "model_index.json")


def holds_model(folder: Path) -> bool:
    for place in (folder, folder / "model"):
        if any((place / name).is_file() for name in MODEL_FILES) or any(place.glob("*.gguf")):
            return True
    return False


def _missing_hint(model_id: str) -> str:
    """did-you-mean among the entries beside the first missing part, and what the folder holds."""
    parts = re.split(r"[\\/]", model_id)
    for depth in range(1, len(parts) + 1):
        if not Path(os.path.expanduser("/".join(parts[:depth]) or "/")).exists():
            break
    parent_text = "/".join(parts[: depth - 1])
    parent = Path(os.path.expanduser(parent_text or ("/" if model_id.startswith("/") else ".")))
    siblings = sorted(p.name for p in parent.iterdir() if not p.name.startswith(".")) if parent.is_dir() else []
    close = did_you_mean(parts[depth - 1], siblings)
    if close:
        name = close.split("'")[1]
        suggestion = "/".join([*parts[: depth - 1], name, *parts[depth:]])
        close = f"did you mean '{suggestion}'? "
    shown = (
        f"{parent_text or parent} holds: {', '.join(siblings[:8])}{' ...' if len(siblings) > 8 else ''}; "
        if siblings
        else ""
    )
    return f"{close}{shown}{_HUB_RULE}"


def check_model_package(package: str | None, key: str = "model.package") -> None:
    """ConfigError when the package that ships the weights is not installed (found without importing it)."""
    if not package:
        return
    if not is_installed(package):
        raise ConfigError(key, f"'{package}' is not installed", package_install_hint(package))
