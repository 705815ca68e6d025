"""Compose a run config from overrides without the command line (the Python API and tests)."""
from __future__ import annotations

from omegaconf import OmegaConf

from runner.config.choices import normalize_overrides
from runner.errors import ConfigError
from runner.paths import CONF_DIR


def compose_config(overrides: list[str]) -> dict:
    """The plain, resolved config that `run <overrides>` would build, without Hydra's own keys.
    Raises ConfigError for overrides Hydra cannot apply."""
    overrides = normalize_overrides(list(overrides))
    try:
        return _compose(overrides)
    except Exception as error:  # hydra/omegaconf raise several types; all mean "this override is wrong"
        raise explain_composition_error(error, overrides) from None


def _compose(overrides: list[str]) -> dict:
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3", job_name="run"):
        return to_plain(compose(config_name="config", overrides=overrides))


def to_plain(cfg) -> dict:
    container = OmegaConf.to_container(cfg, resolve=True)
    container.pop("hydra", None)
    return container


def check_composes(argv: list[str]) -> None:
    """Compose once before Hydra does, so that override mistakes Hydra would report as a crash
    (a key that does not exist, bad override syntax) become config errors with exit code 2.
    Skipped when Hydra flags (--help, -m, --cfg ...) are given: Hydra handles those itself."""
    if any(arg.startswith("-") for arg in argv):
        return
    compose_config([a for a in argv if not a.lstrip("+~").startswith(("hydra.", "hydra/"))])


def explain_composition_error(error: Exception, overrides: list[str]) -> ConfigError:
    import difflib
    import re

    text = str(error)
    first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    if type(error).__name__ == "OverrideParseException":
        culprit = _unparsable_override(overrides)
        return ConfigError(culprit.split("=", 1)[0].lstrip("+~") if culprit else "overrides",
                           f"cannot parse {culprit!r}: {first}" if culprit else first,
                           "quote values with special characters, e.g. 'key=[1, 2]' or key='a,b'")
    match = re.search(r"full_key: (\S+)", text) or re.search(r"override '([^']+)'", text) or re.search(r"at '([^']+)'", text)
    if not match:
        return ConfigError("overrides", first)
    key = match.group(1)
    if "not in struct" not in text and "Could not override" not in text:
        return ConfigError(key, first)
    key, known = _first_unknown_key(key, overrides)
    close = difflib.get_close_matches(key.rpartition(".")[2], known, n=1, cutoff=0.6)
    hint = (f"did you mean '{close[0]}'? " if close else "") + (f"keys here: {', '.join(known)}; " if known else "")
    return ConfigError(key, "unknown key", hint + f"to add a new key, write +{key}=...")


def _unparsable_override(overrides: list[str]) -> str | None:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    for override in overrides:
        try:
            parser.parse_overrides([override])
        except Exception:  # the one Hydra cannot read
            return override
    return None


def _first_unknown_key(key: str, overrides: list[str]) -> tuple[str, list[str]]:
    """The shortest prefix of `key` that the config lacks, and the keys beside it, in the config
    that the group choices alone compose to."""
    groups = [o for o in overrides if "." not in o.split("=", 1)[0]]
    try:
        node = _compose(groups)
    except Exception:  # the group choices themselves are broken: nothing to suggest
        return key, []
    parts = key.split(".")
    for depth, part in enumerate(parts):
        if not isinstance(node, dict) or part not in node:
            return ".".join(parts[: depth + 1]), sorted(node) if isinstance(node, dict) else []
        node = node[part]
    return key, []
