"""Check config-group choices on the command line (`+task=asr`, `model=tiny`) before Hydra composes.

Hydra reports an unknown option as a composition error with exit code 1; users deserve exit code 2,
the key, the allowed values and a "did you mean", like every other config error. The options are
whatever the search path in force offers (the runner's conf/ plus the user's -cd dir), asked of Hydra.
"""

from __future__ import annotations

import re

from runner.config.search import ConfigSession
from runner.config.validate import _unknown_choice
from runner.core.errors import ConfigError

GROUPS = ("task", "model", "dataset", "quantization", "output", "experiment")
# Groups that are not in the defaults list: `task=x` means `+task=x`.
APPENDED_GROUPS = ("task", "experiment")
_GROUP_OVERRIDE = re.compile(r"^(?P<prefix>[+~]{0,2})(?P<group>[a-z_]+)=(?P<value>.*)$")
# What else a group's wrong option may have meant, said after the allowed ones.
GROUP_HINTS = {
    "output": "several formats at once: output.format=[jsonl,parquet,csv] (predictions.jsonl is always written)",
}
# Hydra sweep syntax we do not try to expand: glob(...), range(...), choice(...), interval(...)
_SWEEP_FUNCTION = re.compile(r"^\w+\(.*\)$")


def normalize_overrides(argv: list[str], session: ConfigSession) -> list[str]:
    """Validate group choices; rewrite `task=x` to `+task=x` (task is not in the defaults list)."""
    result = []
    for arg in argv:
        match = _GROUP_OVERRIDE.match(arg)
        if match and match["group"] in GROUPS:
            check_choices(match["group"], match["value"], session)
            if match["group"] in APPENDED_GROUPS and match["prefix"] == "":
                arg = "+" + arg
        result.append(arg)
    return result


def check_choices(group: str, value: str, session: ConfigSession) -> None:
    if _SWEEP_FUNCTION.match(value) or value in ("", "null"):
        return
    options = session.options(group)
    for choice in value.split(","):
        choice = choice.strip()
        if choice not in options:
            error = _unknown_choice(group, choice, options)
            hint = error.hint + (f"; {GROUP_HINTS[group]}" if group in GROUP_HINTS else "")
            raise ConfigError(group, error.message, _with_search_hint(hint, group, choice, session))


def _with_search_hint(hint: str | None, group: str, choice: str, session: ConfigSession) -> str | None:
    """A user's own config in ./conf that the search path lacks: say how to add it."""
    from pathlib import Path

    local = Path("conf") / group / f"{choice}.yaml"
    if not local.is_file() or local.parent.parent.resolve() in {folder for _, _, folder in session.sources()}:
        return hint
    plus = "+" if group in APPENDED_GROUPS else ""
    return f"{local} is not on the config search path: add its dir with -cd conf (run -cd conf {plus}{group}={choice}); {hint}"
