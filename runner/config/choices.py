"""Check config-group choices on the command line (`+task=asr`, `model=tiny`) before Hydra composes.

Hydra reports an unknown option as a composition error with exit code 1; users deserve exit code 2,
the key, the allowed values and a "did you mean", like every other config error.
"""
from __future__ import annotations

import re

from runner.config.validate import _unknown_choice
from runner.errors import ConfigError
from runner.paths import CONF_DIR

GROUPS = ("task", "model", "dataset", "quantization", "output", "experiment")
_GROUP_OVERRIDE = re.compile(r"^(?P<prefix>[+~]{0,2})(?P<group>[a-z_]+)=(?P<value>.*)$")
# Hydra sweep syntax we do not try to expand: glob(...), range(...), choice(...), interval(...)
_SWEEP_FUNCTION = re.compile(r"^\w+\(.*\)$")


def group_options(group: str) -> list[str]:
    folder = CONF_DIR / group
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def normalize_overrides(argv: list[str]) -> list[str]:
    """Validate group choices; rewrite `task=x` to `+task=x` (task is not in the defaults list)."""
    result = []
    for arg in argv:
        match = _GROUP_OVERRIDE.match(arg)
        if match and match["group"] in GROUPS:
            check_choices(match["group"], match["value"])
            if match["group"] in ("task", "experiment") and match["prefix"] == "":
                arg = "+" + arg
        result.append(arg)
    return result


def check_choices(group: str, value: str) -> None:
    if _SWEEP_FUNCTION.match(value) or value in ("", "null"):
        return
    options = group_options(group)
    for choice in value.split(","):
        choice = choice.strip()
        if choice not in options:
            error = _unknown_choice(group, choice, options)
            raise ConfigError(group, error.message, error.hint)
