"""Python values as Hydra override strings, for the Python API (`runner.run(batch_size=8, ...)`).

Each leaf of a mapping becomes its own override (task.params.top_k=2), so an unknown key gets the
same "did you mean" as on the command line; strings are always quoted, so they stay strings.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping

from runner.core.errors import ConfigError

# Config groups whose mapping picks its preset with one of its keys: dataset={"type": "file", ...}.
GROUP_SELECTORS = {"dataset": "type", "quantization": "mode"}
# Mappings whose keys the user names (steps, from_pretrained kwargs, a task parameter that is a mapping
# such as generate_kwargs, null until given): a dict given for one replaces it.
FREE_FORM = ("graph.steps", "model.kwargs")
FREE_FORM_UNDER = ("task.params.",)
_NAME = re.compile(r"[\w\-./]+")  # a preset name, a dict key: what Hydra's grammar takes unquoted


def strings(values, key: str) -> list[str]:
    if isinstance(values, str) or not all(isinstance(v, str) for v in values):
        raise ConfigError(key, f"expected a list of override strings, got {values!r}", "e.g. ['seed=1']")
    return list(values)


def choice(group: str, name) -> str:
    """group=name; `task` and `experiment` get their `+` when composing (config/choices.py)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(group, f"expected a {group} name, got {name!r}")
    return f"{group}={name}"


def group_mapping(group: str, mapping) -> list[str]:
    if not isinstance(mapping, Mapping):
        raise ConfigError(group, f"expected a preset name or a mapping, got {mapping!r}")
    rest = dict(mapping)
    picked = rest.pop(GROUP_SELECTORS[group], None) if group in GROUP_SELECTORS else None
    return ([choice(group, picked)] if picked is not None else []) + leaves(group, rest)


def leaves(path: str, given) -> list[str]:
    """One override per leaf (task.params.top_k=2), so an unknown key gets its "did you mean"."""
    if not isinstance(given, Mapping):
        return [f"{path}={value(given, path)}"]
    if path in FREE_FORM or any(_child_of(path, parent) for parent in FREE_FORM_UNDER):
        return [f"{path}=null", f"++{path}={value(given, path)}"]
    return [override for key, child in given.items() for override in leaves(f"{path}.{key_name(key, path)}", child)]


def _child_of(path: str, parent: str) -> bool:
    """`path` names a key directly under `parent` (task.params.generate_kwargs under task.params.)."""
    return path.startswith(parent) and "." not in path.removeprefix(parent)


def key_name(key, path: str) -> str:
    if not isinstance(key, str) or not _NAME.fullmatch(key):
        raise ConfigError(path, f"cannot use {key!r} as a config key", "keys are names: letters, digits, _ - . /")
    return key


def value(given, key: str) -> str:
    """A Python value in Hydra's override grammar; strings always quoted, so they stay strings."""
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(given, numpy.generic):
        given = given.item()
    if given is None or isinstance(given, bool):
        return {None: "null", True: "true", False: "false"}[given]
    if isinstance(given, int):
        return repr(int(given))
    if isinstance(given, float):
        return repr(float(given))  # inf, -inf and nan are Hydra's spellings too
    if isinstance(given, (str, os.PathLike)):
        return quote(str(given))
    if isinstance(given, (list, tuple)):
        return "[" + ",".join(value(item, key) for item in given) + "]"
    if isinstance(given, Mapping):
        return "{" + ",".join(f"{key_name(k, key)}:{value(v, key)}" for k, v in given.items()) + "}"
    raise ConfigError(
        key,
        f"a {type(given).__name__} cannot be written into the config",
        "config values are text, numbers, booleans, None, lists and dicts; rows go in inputs=",
    )


def quote(text: str) -> str:
    """A single-quoted Hydra string holding `text` exactly: `${` kept literal (OmegaConf escapes it with
    a backslash, and halves backslashes before it), quotes and trailing backslashes escaped (Hydra)."""
    text = re.sub(r"(\\*)\$\{", lambda m: m.group(1) * 2 + "\\${", text)
    text = re.sub(r"(\\*)'", lambda m: m.group(1) * 2 + "\\'", text)
    text = re.sub(r"(\\+)$", lambda m: m.group(1) * 2, text)
    return f"'{text}'"
