"""The size limits the code keeps so that the next person can read it: no source file over 400 lines,
no class over 150, no function over 50. The tiny-model builders are recipes (data), held to the same
limits per function. A failure names each offender with its size."""
from __future__ import annotations

import ast

from runner.paths import REPO_ROOT

LIMITS = {"file": 400, "class": 150, "function": 50}


def _sizes():
    for path in sorted((REPO_ROOT / "runner").rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        name = path.relative_to(REPO_ROOT)
        yield "file", str(name), source.count("\n")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ClassDef):
                yield "class", f"{name}:{node.name}", node.end_lineno - node.lineno + 1
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield "function", f"{name}:{node.name}", node.end_lineno - node.lineno + 1


def test_no_file_class_or_function_over_its_limit():
    over = [f"{kind} {where}: {lines} lines (limit {LIMITS[kind]})"
            for kind, where, lines in _sizes() if lines > LIMITS[kind]]
    assert not over, "\n".join(over)


def test_the_measure_sees_the_package():
    kinds = {kind for kind, _, _ in _sizes()}
    assert kinds == {"file", "class", "function"}
