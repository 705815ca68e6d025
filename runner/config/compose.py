"""Compose a run config from overrides without the command line (the Python API and tests)."""
from __future__ import annotations

from omegaconf import OmegaConf

from runner.config.choices import normalize_overrides
from runner.paths import CONF_DIR


def compose_config(overrides: list[str]) -> dict:
    """The plain, resolved config that `run <overrides>` would build, without Hydra's own keys."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3", job_name="run"):
        cfg = compose(config_name="config", overrides=normalize_overrides(list(overrides)))
    return to_plain(cfg)


def to_plain(cfg) -> dict:
    container = OmegaConf.to_container(cfg, resolve=True)
    container.pop("hydra", None)
    return container
