"""The room table of docs/architecture.md says what each room of runner/ imports; this keeps it true.

A room is a package of runner/ or a module at its top level. The imports are read with ast from
every module (inside functions too: a lazy import is still an arrow), absolute `runner.*` imports
and relative ones alike.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "runner"


def _room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "runner" and len(parts) > 1 else None


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    if node.level == 0:
        return [node.module] if node.module else []
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    target = ".".join(base + ([node.module] if node.module else []))
    return [target] if node.module else [f"{target}.{alias.name}" for alias in node.names]


def imports_by_room() -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for path in RUNNER.rglob("*.py"):
        module = _module_name(path)
        room = _room(module) if module != "runner" else None
        if room is None:
            continue
        found.setdefault(room, set())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                targets = _absolute(node, module, path.name == "__init__.py")
            else:
                continue
            for target in targets:
                other = _room(target)
                if other and other != room and ((RUNNER / other).is_dir() or (RUNNER / f"{other}.py").is_file()):
                    found[room].add(other)
    return found


def documented() -> dict[str, set[str]]:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("## Rooms", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([\w_]+)` \|[^|]*\|([^|]*)\|$", section, re.M)
    return {room: {name.strip() for name in deps.split(",") if name.strip()} for room, deps in rows}


def test_room_table_matches_the_imports():
    actual, table = imports_by_room(), documented()
    rooms_with_code = {room for room in actual if room != "sample_data"}
    wrong = [
        f"| `{room}` | ... | {', '.join(sorted(actual.get(room, ())))} |"
        for room in sorted(rooms_with_code | set(table))
        if actual.get(room, set()) != table.get(room)
    ]
    assert not wrong, "docs/architecture.md's room table is out of date; the rows as the code has them:\n" + "\n".join(
        wrong
    )
