"""A saved config is untrusted input: `rerun=<dir>` runs the config in someone's run.json, so settings
that make the runner execute code it did not ship are taken from the command line only.

Refused unless the same key is given on the command line beside rerun=:
    trust_remote_code   anywhere (model.trust_remote_code, a step's model, a kwargs entry): transformers
                        imports and runs Python files from the model repo
    model.kwargs        any key not in SAFE_MODEL_KWARGS (code_revision picks which remote code runs;
                        use_safetensors=false lets pickled weights load; unknown keys are assumed to matter)
    hydra, _target_     a `hydra` node (callbacks are instantiated, i.e. code) or any `_target_` entry
    engine.address      engine=ray joins the cluster at that address (rows and the model go there)
    tracking.tracking_uri  MLflow writes params and artifacts to that server or path
    model.kwargs.offload_folder / cache_dir  paths outside the run dir that loading writes into
Interpolations in a saved config (${oc.env:...}, any resolver) are never evaluated: they are text
(runner.repro.rerun reads the saved config as data).
Values redacted when saved (runner/core/redact.py: tokens, passwords) must be given again.
resume= needs nothing here: it runs the config composed from the command line (and checks that it matches
the saved one), never the saved one.
"""

from __future__ import annotations

from runner.core.errors import ConfigError, ConfigErrors
from runner.core.redact import REDACTED, redacted_keys

# from_pretrained keyword arguments that choose how known code loads weights, never which code runs.
SAFE_MODEL_KWARGS = frozenset(
    {
        "attn_implementation",
        "low_cpu_mem_usage",
        "device_map",
        "max_memory",
        "offload_state_dict",
        "offload_buffers",
        "dtype",
        "torch_dtype",
        "revision",
        "subfolder",
        "variant",
        "local_files_only",
        "force_download",
        "token",
        "num_labels",
        "id2label",
        "label2id",
        "ignore_mismatched_sizes",
        "output_attentions",
        "output_hidden_states",
        "use_cache",
        "tp_plan",
        "key_mapping",
    }
)
# Settings that reach outside the process: another machine, or files outside the run dir.
OUTSIDE = {
    ("engine", "address"): "joins the Ray cluster at that address",
    ("tracking", "tracking_uri"): "sends the run's params and artifacts to that tracking server or path",
}
OUTSIDE_MODEL_KWARGS = {
    "offload_folder": "writes offloaded weights into that folder",
    "cache_dir": "downloads and writes model files into that folder",
}


def check_saved_config(saved: dict, overrides: list[str], source: str) -> None:
    """Raise ConfigError naming each code-running setting of `saved` that the command line does not give."""
    given = _given_keys(overrides)
    errors = [_refusal(key, value, source) for key, value in code_settings(saved) if not _is_given(key, given)]
    _raise(errors)


def check_redacted(cfg: dict, source: str) -> None:
    """The config about to run still holds a value redacted when it was saved: it must be given again."""
    errors = [
        ConfigError(
            key,
            f"was redacted in {source} (secrets are never saved), and a rerun needs it again",
            f"give it on the command line: +{key}=<value>, or +{key}=null to run without it "
            "(huggingface_hub then uses HF_TOKEN or your saved login)",
        )
        for key in redacted_keys(cfg)
    ]
    _raise(errors)


def code_settings(cfg: dict, prefix: str = "") -> list[tuple[str, object]]:
    """(dotted key, value) of every setting in cfg that makes code run, in key order."""
    found = []
    for name, value in cfg.items():
        key = f"{prefix}{name}"
        if name in ("hydra", "_target_") or (name == "trust_remote_code" and value):
            found.append((key, value))
        elif (prefix.rstrip(".").rsplit(".", 1)[-1], name) in OUTSIDE and value is not None:
            found.append((key, value))
        elif name == "kwargs" and prefix.endswith("model.") and isinstance(value, dict):
            found += [(f"{key}.{k}", v) for k, v in value.items() if k not in SAFE_MODEL_KWARGS and v != REDACTED]
        elif isinstance(value, dict):
            found += code_settings(value, key + ".")
    return found


def _refusal(key: str, value, source: str) -> ConfigError:
    plus = "" if key == "model.trust_remote_code" else "+"
    shown = str(value).lower() if isinstance(value, bool) else value
    leaf = key.rsplit(".", 1)[-1]
    outside = OUTSIDE.get(tuple(key.rsplit(".", 2)[-2:])) or (
        OUTSIDE_MODEL_KWARGS.get(leaf) if ".kwargs." in key else None
    )
    why = (
        outside
        if outside
        else "runs Python code from the model repo"
        if key.endswith("trust_remote_code")
        else "makes Hydra instantiate objects (code)"
        if key.rsplit(".", 1)[-1] in ("hydra", "_target_")
        else "is not a known-safe loading argument (it may change which code runs)"
    )
    return ConfigError(
        key,
        f"the saved config in {source} sets {key}={shown!r}, which {why}; a rerun does not "
        "take such settings from a file",
        f"if you trust where this run dir came from, give the same setting on the command line: {plus}{key}={shown}",
    )


def _given_keys(overrides: list[str]) -> set[str]:
    return {o.split("=", 1)[0].lstrip("+~") for o in overrides if "=" in o}


def _is_given(key: str, given: set[str]) -> bool:
    """The key, or a mapping above it, is set on the command line: the user's own choice decides."""
    parts = key.split(".")
    return any(".".join(parts[:n]) in given for n in range(1, len(parts) + 1))


def _raise(errors: list[ConfigError]) -> None:
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ConfigErrors(errors)
