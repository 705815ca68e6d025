"""The room table of docs/architecture.md: what each room of runner/ imports, and the order of the rooms.

A room is a package of runner/ or a module at its top level. The imports are read with ast from every
module, absolute `runner.*` imports and relative ones alike, and inside functions too: an import kept
inside a function (so `run --help` stays light) is still an arrow between rooms, so it obeys the order
like any other. The table lists the rooms top to bottom; a room may import only the rooms below it,
so there is no circle between rooms and no arrow back up.
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


def arrows() -> list[tuple[str, str, str]]:
    """(room, the room it imports, where: "runner/x.py:12 imports runner.y") for every import between rooms."""
    found = []
    for path in sorted(RUNNER.rglob("*.py")):
        module = _module_name(path)
        room = _room(module) if module != "runner" else None
        if room is None:
            continue
        found.append((room, room, ""))  # every room with code, even one that imports no other
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
                    found.append((room, other, f"{path.relative_to(ROOT)}:{node.lineno} imports {target}"))
    return found


def imports_by_room() -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for room, other, _ in arrows():
        found.setdefault(room, set())
        if other != room:
            found[room].add(other)
    return found


def table() -> list[tuple[str, set[str]]]:
    """The rows of the room table, top to bottom: (room, the rooms it imports)."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("## Rooms", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([\w_]+)` \|[^|]*\|([^|]*)\|$", section, re.M)
    return [(room, {name.strip() for name in deps.split(",") if name.strip()}) for room, deps in rows]


def test_room_table_matches_the_imports():
    actual, documented = imports_by_room(), dict(table())
    rooms_with_code = {room for room in actual if room != "sample_data"}
    wrong = [
        f"| `{room}` | ... | {', '.join(sorted(actual.get(room, ())))} |"
        for room in sorted(rooms_with_code | set(documented))
        if actual.get(room, set()) != documented.get(room)
    ]
    assert not wrong, "docs/architecture.md's room table is out of date; the rows as the code has them:\n" + "\n".join(
        wrong
    )


def test_each_room_imports_only_the_rooms_below_it():
    order = [room for room, _ in table()]
    assert len(order) == len(set(order)), "a room is listed twice in docs/architecture.md's room table"
    position = {room: i for i, room in enumerate(order)}
    upward = [
        f"{where}: room `{other}` is not below `{room}` in docs/architecture.md's room table"
        for room, other, where in arrows()
        if other != room and room in position and position.get(other, -1) < position[room]
    ]
    assert not upward, "imports against the room order (move the code to a lower room, or the room):\n" + "\n".join(
        upward
    )
