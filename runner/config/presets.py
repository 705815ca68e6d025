"""Presets named inside graph.steps (`model: whisper`, `quantization: 8bit`), resolved when composing.

A step's preset is looked up on the search path in force (the user's dirs included) and written into
the config as the mapping it stands for, so the validated config, run.json and a later `rerun=` hold
the model a step really used, not a name whose file may have changed since.
"""

from __future__ import annotations

import copy

from runner.config.search import ConfigSession
from runner.config.validate import _unknown_choice
from runner.core.errors import ConfigError, ConfigErrors

STEP_PRESET_GROUPS = ("model", "quantization")


def expand_step_presets(cfg: dict, session: ConfigSession) -> dict:
    steps = (cfg.get("graph") or {}).get("steps")
    if not isinstance(steps, dict) or not steps:
        return cfg
    cfg = copy.deepcopy(cfg)
    errors = []
    for name, step in cfg["graph"]["steps"].items():
        for group in STEP_PRESET_GROUPS:
            if not isinstance(step, dict) or step.get(group) is None:
                continue
            try:
                step[group] = _expanded(group, step[group], session, f"graph.steps.{name}.{group}")
            except ConfigError as error:
                errors.append(error)
    if errors:
        raise errors[0] if len(errors) == 1 else ConfigErrors(errors)
    return cfg


def _expanded(group: str, value, session: ConfigSession, key: str) -> dict:
    """A preset name becomes its mapping; a mapping is laid over the group's default preset."""
    if isinstance(value, str):
        return preset(group, value, session, key)
    if group == "model" and isinstance(value, dict):
        return {**preset(group, "default", session, key), **value}
    return value


def preset(group: str, name: str, session: ConfigSession, key: str) -> dict:
    """The mapping `group=name` composes to, with the same search path and defaults as a top-level choice."""
    options = session.options(group)
    if name not in options:
        error = _unknown_choice(key, name, options)
        raise ConfigError(key, f"{name!r} is not a {group} preset on the config search path", error.hint)
    from omegaconf import OmegaConf

    composed = session.compose([f"{group}={name}"])
    return OmegaConf.to_container(composed[group], resolve=True)
