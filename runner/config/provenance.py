"""Where a composed config came from: the config dirs on the search path (with their git state) and
every config file it read (with its sha256), recorded in run.json as `conf`; and, for a config error,
the file and line (or the command-line override) that set the offending key.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from runner.config.search import ConfigSession
from runner.core.errors import ConfigError, ConfigErrors


def describe(session: ConfigSession, overrides: list[str]) -> dict:
    """run.json's `conf`: each config dir of the search path (where, and its git commit and dirty
    flag when it is in a repository), the files this composition read, and the overrides."""
    search_path = []
    for provider, entry, folder in session.sources():
        search_path.append(
            {
                "provider": provider,
                "path": entry,
                "dir": str(folder) if folder else None,
                "git": session.git_state(folder) if folder else None,
            }
        )
    files = [
        {
            "config": located.config,
            "package": package,
            "provider": located.provider,
            "file": str(located.file),
            "sha256": file_sha256(located.file),
        }
        for located, package in session.used_configs(overrides)
    ]
    return {"search_path": search_path, "files": files, "overrides": list(overrides)}


def file_sha256(path) -> str | None:
    """sha256 of a file's bytes, read in blocks (None when there is no such file)."""
    if path is None or not Path(path).is_file():
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_git(folder: Path, *args: str) -> str | None:
    """stdout of a git command run in `folder`, or None where there is no git or no repository."""
    try:
        done = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def git_state(folder: Path) -> dict:
    """Commit and dirty flag of the repository holding a config dir, and its changed files under that
    dir. New (untracked) files count: an experiment file not in git cannot be re-run by others."""
    outside_git = {"commit": None, "dirty": None, "changes": [], "root": None}
    if not Path(folder).is_dir():
        return outside_git
    parsed = run_git(folder, "rev-parse", "HEAD", "--show-toplevel")  # one call: commit, then root
    if parsed is None:
        return outside_git
    commit, root = (parsed.splitlines() + ["", ""])[:2]
    status = run_git(folder, "status", "--porcelain", "--untracked-files=all", "--", ".") or ""
    changes = [line[3:] for line in status.splitlines() if line.strip()]
    return {"commit": commit.strip(), "dirty": bool(changes), "changes": changes[:50], "root": root.strip() or None}


def dirty_dirs(conf: dict) -> list[tuple[str, list[str]]]:
    """(dir, changed files) of each config dir with uncommitted changes."""
    return [
        (entry["dir"], entry["git"]["changes"])
        for entry in conf.get("search_path") or []
        if (entry.get("git") or {}).get("dirty")
    ]


# -- which file set a key ------------------------------------------------------------------------
def annotate(error: ConfigError, conf: dict | None) -> ConfigError:
    """The same error, saying where the offending value was set when the record can tell."""
    if not conf:
        return error
    if isinstance(error, ConfigErrors):
        return ConfigErrors([annotate(e, conf) for e in error.errors])
    where = where_set(error.key, conf)
    if where is None or error.where:
        return error
    return ConfigError(error.key, error.message, error.hint, where=where)


def where_set(key: str, conf: dict) -> str | None:
    """'<file>, line N' of the last config file that sets `key` (or a key above it), or the
    command-line override that does; None when neither can be told."""
    if not key or key.startswith(("-", "overrides")):
        return None
    parts = key.split(".")
    groups = {entry["config"].split("/")[0] for entry in conf.get("files") or [] if "/" in entry["config"]}
    for override in reversed(conf.get("overrides") or []):
        name = override.split("=", 1)[0].lstrip("+~")
        if "=" in override and name not in groups and (name == key or key.startswith(name + ".")):
            return f"the command line: {override}"
    for entry in reversed(conf.get("files") or []):
        package = [p for p in entry["package"].split(".") if p]
        if parts[: len(package)] != package:
            continue
        line = line_of(Path(entry["file"]), parts[len(package) :])
        if line is not None:
            return f"{entry['file']}, line {line}"
    return None


def line_of(path: Path, keys: list[str]) -> int | None:
    """1-based line where the YAML file sets keys[0].keys[1]..., or None when it does not."""
    import yaml

    try:
        node = yaml.compose(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    if not keys or node is None:
        return None
    line = None
    for key in keys:
        child = _child(node, key)
        if child is None:
            # A leaf or flow value that holds the rest of the key (e.g. `params: {top_k: x}`) still counts.
            return line if line is not None and not isinstance(node, yaml.MappingNode) else None
        line, node = child
    return line


def _child(node, key: str):
    import yaml

    if isinstance(node, yaml.MappingNode):
        for key_node, value in node.value:
            if getattr(key_node, "value", None) == key:
                return key_node.start_mark.line + 1, value
    if isinstance(node, yaml.SequenceNode) and key.isdigit() and int(key) < len(node.value):
        item = node.value[int(key)]
        return item.start_mark.line + 1, item
    return None
