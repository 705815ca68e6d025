"""Shell completion (`run -sc install=bash`, Hydra's) that knows a user's own configs.

Hydra's completion script asks `run -sc query=bash` for the options of the line being typed, which it
passes in COMP_LINE. The query's own arguments name no config dir, so a line such as
`run -cd conf +experiment=e` completed from the runner's configs only. Here the line's -cd /
--config-dir and hydra.searchpath= settings join the query's arguments, and Hydra lists the user's
options beside the runner's.
"""

from __future__ import annotations

import shlex

DIR_FLAGS = ("-cd", "--config-dir")


def completion_argv(argv: list[str], comp_line: str | None) -> list[str]:
    """argv, with the config dirs of the line being completed added when argv is a completion query."""
    if not comp_line or not _is_query(argv):
        return argv
    try:
        words = shlex.split(comp_line)
    except ValueError:  # an unclosed quote in the half-typed line
        words = comp_line.split()
    config_dir, searchpath = None, None
    for position, word in enumerate(words[1:], 1):
        if word in DIR_FLAGS and position + 1 < len(words):
            config_dir = words[position + 1]
        elif word.startswith("--config-dir="):
            config_dir = word.split("=", 1)[1]
        elif word.lstrip("+").startswith("hydra.searchpath="):
            searchpath = word
    before, after = [], []  # flags before the query's own; an override after them (argparse's order)
    if config_dir and not any(arg in DIR_FLAGS or arg.startswith("--config-dir=") for arg in argv):
        before += ["-cd", config_dir]
    if searchpath and not any(arg.lstrip("+").startswith("hydra.searchpath=") for arg in argv):
        after.append(searchpath)
    return [*before, *argv, *after]


def _is_query(argv: list[str]) -> bool:
    return any(arg in ("-sc", "--shell-completion") for arg in argv) and any(arg.startswith("query=") for arg in argv)
