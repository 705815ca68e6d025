"""`run --help`, rendered from conf/hydra/help/runner.yaml and the config groups of the search path.

Hydra's own --help composes the whole config and lists the groups through its loader, which copies
its repository for every group it asks about (about 0.5 s). The text is the same when we fill the
template's one placeholder, $APP_CONFIG_GROUPS, from ConfigSession (which lists a user's -cd dir too).
$TASKS and $EXIT_CODES are ours too: the tasks with their aliases and parameters (from the task
registry and schemas/tasks/), and the exit codes (runner.core.errors.EXIT_CODES), so the help says what exists.
A help config that asks for more of Hydra ($FLAGS_HELP, $CONFIG, other interpolations), or a
`hydra/help` chosen on the command line, is left to Hydra: render_help returns None.
"""

from __future__ import annotations

import string

from runner.config.search import ConfigSession

HELP_CONFIG = "hydra/help/runner"
HELP_FLAGS = ("-h", "--help")
# What our template may use; anything else needs Hydra's composition.
_OURS = {"APP_CONFIG_GROUPS", "TASKS", "EXIT_CODES"}


def wants_help(argv: list[str]) -> bool:
    return any(arg in HELP_FLAGS for arg in argv)


def render_help(argv: list[str], session: ConfigSession) -> str | None:
    """The help text, or None when Hydra must render it."""
    import yaml

    if any(arg.lstrip("+~").startswith(("hydra/help", "hydra.help")) for arg in argv):
        return None
    located = session.locate(HELP_CONFIG)
    if located is None or located.file is None:
        return None
    data = yaml.safe_load(located.file.read_text(encoding="utf-8")) or {}
    template = str(data.get("template", ""))
    for part in ("header", "footer"):
        template = template.replace("${hydra.help.%s}" % part, str(data.get(part, "")))
    if "${" in template:
        return None
    filled = string.Template(template)
    if set(filled.get_identifiers()) - _OURS:
        return None
    return filled.substitute(APP_CONFIG_GROUPS=config_groups(session), TASKS=tasks_text(), EXIT_CODES=exit_codes_text())


def config_groups(session: ConfigSession) -> str:
    """One line per group, `group: option, option`, sorted, as Hydra's help lists them."""
    return "".join(f"{group}: {', '.join(sorted(session.options(group)))}\n" for group in sorted(session.all_groups()))


def tasks_text() -> str:
    """One line per task: its id, aliases and the parameters its schema takes (task.params.<name>)."""
    import json

    from runner.core.paths import SCHEMA_DIR
    from runner.tasks import TASKS

    lines = []
    for task_id in sorted(TASKS):
        aliases = f" ({', '.join(TASKS[task_id].aliases)})" if TASKS[task_id].aliases else ""
        schema = json.loads((SCHEMA_DIR / "tasks" / f"{task_id}.schema.json").read_text(encoding="utf-8"))
        params = ", ".join(schema.get("properties", {})) or "-"
        lines.append(f"  {task_id}{aliases}: {params}\n")
    return "".join(lines)


def exit_codes_text() -> str:
    from runner.core.errors import EXIT_CODES

    return "".join(f"  {code:>3}  {meaning}\n" for code, meaning in sorted(EXIT_CODES.items()))
