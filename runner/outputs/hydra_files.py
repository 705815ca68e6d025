"""The config copies Hydra keeps beside a run, written by the runner instead, with secrets redacted.

conf/config.yaml sets `hydra.output_subdir: null`, so Hydra writes no `.hydra/` itself: it would write
the secrets in plain text, and it writes before the job starts, so a second run pointed at a busy run
dir would overwrite the first run's copies before it learns the dir is taken. runner.cli writes the same
three files (config.yaml, hydra.yaml, overrides.yaml) once it holds the run dir's lock. A multirun's
multirun.yaml, which Hydra's sweeper writes at the sweep root before any job, is rewritten redacted by
the jobs (the first one to start; each rewrite is atomic and idempotent).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from runner.core.redact import redact
from runner.outputs.rundir import HYDRA_DIR

MULTIRUN_FILE = "multirun.yaml"
# Sweep dirs whose multirun.yaml this process has already cleaned: Hydra writes the file once per
# sweep, before any job, so re-reading it for every job (~0.05 s each) finds nothing new.
_CLEANED: set[tuple[str, int]] = set()


def write_job_configs(run_dir: Path, task_cfg, hydra_cfg) -> None:
    """.hydra/config.yaml, hydra.yaml and overrides.yaml as Hydra writes them (unresolved), redacted."""
    folder = Path(run_dir) / HYDRA_DIR
    folder.mkdir(parents=True, exist_ok=True)
    _write_yaml(folder / "config.yaml", task_cfg)
    _write_yaml(folder / "hydra.yaml", hydra_cfg)
    _write_yaml(folder / "overrides.yaml", hydra_cfg.hydra.overrides.task)


def redact_multirun_file(sweep_dir: Path) -> None:
    """Rewrite <sweep dir>/multirun.yaml without its secrets, when it holds any."""
    from omegaconf import OmegaConf

    path = Path(sweep_dir) / MULTIRUN_FILE
    try:
        seen = (str(path.resolve()), path.stat().st_mtime_ns)
    except FileNotFoundError:
        return
    if seen in _CLEANED:  # keyed by mtime too: a new sweep into the same dir writes a new file
        return
    text = path.read_text(encoding="utf-8")
    cleaned = _yaml_text(OmegaConf.load(path))
    if cleaned != text:
        _replace(path, cleaned)
    _CLEANED.add((str(path.resolve()), path.stat().st_mtime_ns))


def _write_yaml(path: Path, node) -> None:
    _replace(path, _yaml_text(node))


def _yaml_text(node) -> str:
    """OmegaConf.to_yaml's text (its dumper and settings) of the redacted config, dumped from the plain
    container rather than through a second DictConfig of it (2.4x faster: a sweep writes these per job)."""
    import yaml
    from omegaconf import OmegaConf
    from omegaconf._utils import get_omega_conf_dumper

    plain = OmegaConf.to_container(node, resolve=False, enum_to_str=True)  # as Hydra saves it: interpolations kept
    return yaml.dump(
        redact(plain), default_flow_style=False, allow_unicode=True, sort_keys=False, Dumper=get_omega_conf_dumper()
    )


def _replace(path: Path, text: str) -> None:
    """Write through a temporary file and rename: a reader (or a parallel job) never sees half a file."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as f:
        f.write(text)
        os.fchmod(f.fileno(), 0o644)  # as Hydra's own copies (mkstemp makes them private)
    os.replace(temporary, path)
