"""Optional extras: features whose library only some runs need, installed with
`pip install 'hf-pipeline-runner[<extra>]'`. A run that needs a missing one is a config error
naming the extra, found without importing the library (so config errors stay fast).

| extra    | library      | needed by                                      |
|----------|--------------|------------------------------------------------|
| quant    | bitsandbytes | quantization=8bit / 4bit (int8 needs only torch) |
| report   | matplotlib   | sweep.png in a sweep's report (tables without) |
| search   | hydra-optuna-sweeper | hydra/sweeper=optuna (objective= searches) |
| ray      | ray[data]    | engine=ray                                     |
| ctranslate2 | faster-whisper (ctranslate2) | backend=ctranslate2              |
"""

from __future__ import annotations

import importlib.util

from runner.core.errors import ConfigError

# import name -> (the extra that installs it, the distribution it installs)
EXTRAS = {
    "bitsandbytes": ("quant", "bitsandbytes"),
    "matplotlib": ("report", "matplotlib"),
    "hydra_plugins.hydra_optuna_sweeper": ("search", "hydra-optuna-sweeper"),
    "ray": ("ray", "ray[data]"),
    "faster_whisper": ("ctranslate2", "faster-whisper"),
}


def is_installed(module: str) -> bool:
    """True when `module` can be imported; a None entry in sys.modules (Python's way of blocking an
    import) counts as missing, like a module that is not on the path."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def install_hint(module: str) -> str:
    extra, _ = EXTRAS[module]
    return f"install it: pip install 'hf-pipeline-runner[{extra}]' (scripts/setup.sh installs it)"


def require(module: str, key: str, needed_for: str) -> None:
    """ConfigError on `key` when `module`, needed for `needed_for`, is not installed."""
    if not is_installed(module):
        raise ConfigError(key, f"{needed_for} needs {module}, which is not installed", install_hint(module))
