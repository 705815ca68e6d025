"""Compose a run config with Hydra, on the search path in force, into a plain dict and its provenance.

The CLI's Hydra app, the Python API and the tests all end here (`compose_run`, or `finish_composed`
for a config Hydra's app already composed), so options, presets and error messages agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from omegaconf import OmegaConf

from runner.config.choices import normalize_overrides
from runner.config.presets import expand_step_presets
from runner.config.provenance import describe
from runner.config.search import CONFIG_DIR_FLAGS, ConfigSearch, ConfigSession
from runner.core.errors import ConfigError, did_you_mean


@dataclass
class Composed:
    cfg: dict  # plain, resolved, without Hydra's own keys; step presets resolved into mappings
    conf: dict = field(default_factory=dict)  # provenance: search path, files read, overrides (run.json `conf`)


def compose_run(
    overrides: list[str], search: ConfigSearch = ConfigSearch(), session: ConfigSession | None = None
) -> Composed:
    """What `run <overrides>` (with `search`'s config dirs) would run. Raises ConfigError."""
    session = session or ConfigSession(search)
    overrides, cfg = _compose_checked(overrides, session)
    return Composed(cfg, describe(session, overrides))


def finish_composed(cfg: dict, overrides: list[str], session: ConfigSession) -> Composed:
    """A config Hydra's app composed, made ready to validate: step presets resolved, provenance attached."""
    return Composed(expand_step_presets(cfg, session), describe(session, overrides))


def _compose_checked(overrides: list[str], session: ConfigSession) -> tuple[list[str], dict]:
    """The normalized overrides and the plain config with step presets resolved: all of composing but
    the provenance (git state, file hashes), which only a run records."""
    overrides = normalize_overrides(list(overrides), session)
    try:
        cfg = to_plain(session.compose(overrides))
    except ConfigError:
        raise
    except Exception as error:  # hydra/omegaconf/yaml raise several types; all mean "this config is wrong"
        raise explain_composition_error(error, overrides, session) from None
    return overrides, expand_step_presets(cfg, session)


def compose_config(overrides: list[str], search: ConfigSearch = ConfigSearch()) -> dict:
    """The plain config of `compose_run`, for callers that need no provenance."""
    return compose_run(overrides, search).cfg


def to_plain(cfg) -> dict:
    """A resolved plain dict without Hydra's own node (dropped first: it need not resolve here)."""
    from omegaconf import open_dict

    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.pop("hydra", None)
    missing = missing_keys(cfg)
    if missing:
        listed = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise ConfigError(
            missing[0],
            f"has no value ('???' in the config: a value you must give){'' if len(missing) == 1 else f'; so do {listed}'}",
            f"give it on the command line: {missing[0]}=<value>",
        )
    return OmegaConf.to_container(cfg, resolve=True)


def missing_keys(node, prefix: str = "") -> list[str]:
    """Dotted keys whose value is `???` (OmegaConf's mandatory missing value), anywhere in the config."""
    from omegaconf import DictConfig, ListConfig

    found = []
    if isinstance(node, DictConfig):
        names = list(node.keys())
    elif isinstance(node, ListConfig):
        names = list(range(len(node)))
    else:
        return found
    for name in names:
        key = f"{prefix}{name}"
        if OmegaConf.is_missing(node, name):
            found.append(key)
            continue
        child = node._get_node(name)
        if isinstance(child, (DictConfig, ListConfig)):
            found += missing_keys(child, key + ".")
    return found


# Hydra flags that make `run` print something instead of running: Hydra handles those itself.
NOT_A_RUN = ("-c", "--cfg", "-h", "--help", "--hydra-help", "-i", "--info", "-sc", "--shell-completion")
MULTIRUN = ("-m", "--multirun")
# Flags whose next argument is their value, not an override.
FLAGS_WITH_VALUE = (*CONFIG_DIR_FLAGS, "-cp", "--config-path", "-cn", "--config-name", "-p", "--package")


def job_overrides(argv: list[str]) -> list[str]:
    """The key=value overrides of a command line, without Hydra's flags and their values."""
    found, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in FLAGS_WITH_VALUE:
            skip = True
        elif not arg.startswith("-"):
            found.append(arg)
    return found


# Hydra flags that print instead of running, or change what Hydra's app would compose.
_HYDRA_APP_FLAGS = (
    *NOT_A_RUN,
    "-cp",
    "--config-path",
    "-cn",
    "--config-name",
    "-p",
    "--package",
    "--resolve",
    "--run",
    "-r",
    "--experimental-rerun",
)


def is_single_run(argv: list[str]) -> bool:
    """A plain `run key=value ...`: no sweep, none of Hydra's app flags."""
    return not any(arg.split("=", 1)[0] in (*_HYDRA_APP_FLAGS, *MULTIRUN) for arg in argv)


def is_plain_multirun(argv: list[str]) -> bool:
    """`run -m key=value ...` with none of Hydra's other app flags, nor a hydra.searchpath override
    (the session's search path holds those dirs already)."""
    return (
        any(arg in MULTIRUN for arg in argv)
        and not any(arg.split("=", 1)[0] in _HYDRA_APP_FLAGS for arg in argv)
        and not any(arg.lstrip("+~").startswith("hydra.searchpath=") for arg in argv)
    )


def check_composes(argv: list[str], session: ConfigSession) -> None:
    """Compose once before Hydra does, so that mistakes Hydra would report as a crash (a key that does
    not exist, bad override syntax, a broken YAML file) become config errors with exit code 2 before
    any job starts. A sweep is checked at its first point; Hydra's own commands are left to Hydra."""
    if any(arg.split("=", 1)[0] in NOT_A_RUN for arg in argv):
        return
    overrides = [a for a in job_overrides(argv) if not a.lstrip("+~").startswith(("hydra.", "hydra/"))]
    if any(arg in MULTIRUN for arg in argv):
        overrides = first_point(overrides)
        if overrides is None:
            return
    _, cfg = _compose_checked(overrides, session)  # Hydra composes again for the job, which records provenance
    from runner.tracking.settings import check_tracking

    check_tracking(cfg)  # a sweep's parent run starts before its jobs: a missing [mlflow] extra is found here


def first_point(overrides: list[str]) -> list[str] | None:
    """The overrides of a sweep's first job (`batch_size=1,8` -> `batch_size=1`); None when a sweep
    cannot be expanded here (glob() needs Hydra's loader) or its value would need quoting again."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception:  # unparsable: composing the overrides as given reports it
        return overrides
    point = []
    for override in parsed:
        if not override.is_sweep_override():
            point.append(override.input_line)
            continue
        try:
            first = next(iter(override.sweep_string_iterator()))
        except Exception:  # glob() and friends
            return None
        if re.search(r"[,\[\]{}()'\" =\\]", first):
            return None
        point.append(f"{override.get_key_element()}={first}")
    return point


def explain_composition_error(error: Exception, overrides: list[str], session: ConfigSession) -> ConfigError:
    text = str(error)
    first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    yaml_error = _yaml_error(error, session)
    if yaml_error is not None:
        return yaml_error
    if type(error).__name__ == "OverrideParseException":
        culprit = _unparsable_override(overrides)
        return ConfigError(
            culprit.split("=", 1)[0].lstrip("+~") if culprit else "overrides",
            f"cannot parse {culprit!r}: {first}" if culprit else first,
            "quote values with special characters, e.g. 'key=[1, 2]' or key='a,b'",
        )
    missing = re.search(r"Could not find '([^'/]+)/([^']+)'", first)
    if missing:
        return _missing_option(missing.group(1), missing.group(2), overrides, session)
    in_config = re.match(r"In '([^']+)': (.*)", first)
    if in_config:
        return _error_in_config(in_config.group(1), text.strip().split(": ", 1)[1], session)
    match = (
        re.search(r"full_key: (\S+)", text)
        or re.search(r"override '([^']+)'", text)
        or re.search(r"at '([^']+)'", text)
    )
    if not match:
        return ConfigError("overrides", first)
    key = match.group(1)
    if "not in struct" not in text and "Could not override" not in text:
        return ConfigError(key, first)
    key, known = _first_unknown_key(key, overrides, session)
    suggestion = did_you_mean(key.rpartition(".")[2], known)
    if suggestion:
        return ConfigError(key, "unknown key", f"{suggestion}keys here: {', '.join(known)}")
    hint = (f"keys here: {', '.join(known)}; " if known else "") + f"to add a new key, write +{key}=..."
    return ConfigError(key, "unknown key", hint)


def _yaml_error(error: Exception, session: ConfigSession) -> ConfigError | None:
    """A YAML syntax error in a config file: name the file, the line and what is wrong."""
    import yaml

    cause = error
    while cause is not None and not isinstance(cause, yaml.MarkedYAMLError):
        cause = cause.__cause__ or cause.__context__
    if cause is None:
        return None
    mark = cause.problem_mark or cause.context_mark
    name = mark.name if mark is not None else "a config file"
    where = f"{name}, line {mark.line + 1}, column {mark.column + 1}" if mark is not None else name
    problem = " ".join(p for p in (cause.context, cause.problem) if p)
    opened = cause.context_mark
    if _unclosed(cause.context) and opened is not None and mark is not None and opened.line < mark.line:
        # an unclosed [ { or quote: YAML notices on a later line; the mistake is where it was opened
        where = f"{name}, line {opened.line + 1}, column {opened.column + 1}"
        what = cause.context.removeprefix("while parsing ").removeprefix("while scanning ")
        problem = (
            f"{what} starts here and is not closed ({cause.problem} at line {mark.line + 1}, column {mark.column + 1})"
        )
    return ConfigError(
        _group_of_file(name, session), f"not valid YAML: {problem}", "fix the file's syntax", where=where
    )


def _unclosed(context: str | None) -> bool:
    """YAML's context for a collection or a quoted text still open when the parser gave up."""
    return bool(context) and ("flow" in context or "quoted scalar" in context)


def _group_of_file(path: str, session: ConfigSession) -> str:
    from pathlib import Path

    for _, _, folder in session.sources():
        if folder is not None and Path(path).resolve().is_relative_to(folder):
            relative = Path(path).resolve().relative_to(folder)
            return relative.parts[0] if len(relative.parts) > 1 else relative.stem
    return "config"


def _error_in_config(config: str, message: str, session: ConfigSession) -> ConfigError:
    """Hydra's "In 'experiment/x': ..." (a bad defaults list, a missing option): name the file."""
    located = session.locate(config)
    group = config.split("/")[0] if "/" in config else "config"
    lines = message.strip().splitlines()
    hint = " ".join(line.strip() for line in lines[1:] if line.strip()) or None
    return ConfigError(group, lines[0], hint, where=str(located.file) if located and located.file else config)


def _missing_option(group: str, option: str, overrides: list[str], session: ConfigSession) -> ConfigError:
    """A defaults list (an experiment's `override /model: x`) names an option the search path lacks:
    the allowed ones, a did-you-mean, and the file that names it."""
    from runner.config.validate import _unknown_choice

    error = _unknown_choice(group, option, session.options(group))
    return ConfigError(group, error.message, error.hint, where=_file_naming(option, overrides, session))


def _file_naming(option: str, overrides: list[str], session: ConfigSession) -> str | None:
    """'<file>, line N' of the first config chosen on the command line (or the primary config) whose
    text names `option`."""
    chosen = [
        f"{o.split('=', 1)[0].lstrip('+~')}/{o.split('=', 1)[1]}"
        for o in overrides
        if "=" in o and session.is_group(o.split("=", 1)[0].lstrip("+~"))
    ]
    for config in [*chosen, "config"]:
        located = session.locate(config)
        if located is None or located.file is None:
            continue
        for number, line in enumerate(located.file.read_text(encoding="utf-8").splitlines(), start=1):
            if re.search(rf"(^|[\s:/]){re.escape(option)}\s*$", line.split("#", 1)[0]):
                return f"{located.file}, line {number}"
    return None


def _unparsable_override(overrides: list[str]) -> str | None:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    for override in overrides:
        try:
            parser.parse_overrides([override])
        except Exception:  # the one Hydra cannot read
            return override
    return None


def _first_unknown_key(key: str, overrides: list[str], session: ConfigSession) -> tuple[str, list[str]]:
    """The shortest prefix of `key` that the config lacks, and the keys beside it, in the config
    that the group choices alone compose to."""
    groups = [o for o in overrides if session.is_group(o.split("=", 1)[0].lstrip("+~"))]
    try:
        node = to_plain(session.compose(groups))
    except Exception:  # the group choices themselves are broken: nothing to suggest
        return key, []
    parts = key.split(".")
    for depth, part in enumerate(parts):
        if not isinstance(node, dict) or part not in node:
            return ".".join(parts[: depth + 1]), sorted(node) if isinstance(node, dict) else []
        node = node[part]
    return key, []
