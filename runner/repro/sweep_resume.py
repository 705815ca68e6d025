"""sweep.resume=<sweep dir>: finish a `run -m` grid sweep that was stopped (kill -9, a crash, Ctrl-C),
in its own sweep dir, without running again what already finished.

The command is the interrupted sweep's own, plus `sweep.resume=<its dir>`. Before any job starts
(`launch_overrides`), the dir must be a sweep dir of this runner (its multirun.yaml) swept by Hydra's
basic sweeper (a grid: the same overrides give the same points in the same order, so point n lands in
job dir n again), and the command must sweep the same overrides; `hydra.sweep.dir` is then set to that
dir. Each job then looks at what its job dir holds (`examine_point`, under the job dir's lock):

- nothing (the sweep never reached it): it runs;
- a run.json with a finished status (ok, oom, skipped_after_oom) for the same config (config hash): kept
  as it is, outputs untouched, its exit code what it was (4 for rows failed beyond max_error_fraction);
- a run.json still "running" (its process died: the lock was free) or "interrupted": resumed through
  `resume=<job dir>` (runner.repro.resume), which checks the config and keeps the rows written;
- a failed point (status error, or outputs without a readable run.json): its outputs are cleared and it
  runs again; its run.log keeps the failure and the new attempt.

The sweep report (sweep.md, .csv, .json) is written at the end from every job dir, kept or not.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from runner.config.hydra_private import BASIC_SWEEPER_TARGET
from runner.core.errors import ConfigError
from runner.outputs.rundir import FINISHED, HYDRA_DIR, LOG, MEDIA, METRICS, RECORD, STAGES, WRITTEN, RunDir, RunRecord

log = logging.getLogger(__name__)

KEY = "sweep.resume"
MULTIRUN_FILE = "multirun.yaml"  # what Hydra writes at the root of every sweep dir
EXIT_FILE = "job_exit.json"  # runner.sweep.exit_codes: the job's exit code, from the earlier attempt
# Overrides that name the sweep dir rather than the points: left out when the two commands are compared.
_NOT_POINTS = (KEY, "hydra.sweep.dir")

SKIP, RESUME, RERUN, FRESH = "skip", "resume", "rerun", "fresh"


def requested(overrides: list[str]) -> str | None:
    """The dir of `sweep.resume=<dir>` among the command's overrides, or None."""
    for override in overrides:
        key, _, value = override.partition("=")
        if key.lstrip("+~") == KEY:
            value = value.strip().strip("'\"")
            return value if value and value != "null" else None
    return None


def launch_overrides(overrides: list[str], multirun: bool) -> list[str]:
    """The overrides a `run -m ... sweep.resume=<dir>` launches with: the same, plus hydra.sweep.dir=<dir>.
    ConfigError (exit code 2, key sweep.resume) when the dir is not a sweep dir of this runner, was not a
    grid sweep, or swept other overrides than this command does."""
    given = requested(overrides)
    if given is None:
        return overrides
    if not multirun:
        raise ConfigError(KEY, "resumes a sweep (`run -m`); this is a single run", f"add -m, or use resume={given}")
    sweep_dir = Path(given).expanduser().absolute()
    saved = read_multirun(sweep_dir)
    sweeper = str(_select(saved, "hydra.sweeper._target_") or "")
    if sweeper != BASIC_SWEEPER_TARGET:
        raise ConfigError(
            KEY,
            f"{sweep_dir} was swept by {sweeper or 'an unknown sweeper'}; only a grid sweep (Hydra's basic sweeper) "
            "gives its points again in the same order",
            "run the search again (an optimizing sweeper chooses its points as it goes)",
        )
    before = _points_overrides(_select(saved, "hydra.overrides.task") or [])
    now = _points_overrides(overrides)
    if sorted(before) != sorted(now):
        gone = [o for o in before if o not in now]
        new = [o for o in now if o not in before]
        said = "; ".join(
            part
            for part in (
                f"the sweep had {' '.join(gone)}" if gone else "",
                f"this command has {' '.join(new)}" if new else "",
            )
            if part
        )
        raise ConfigError(
            KEY,
            f"this command does not sweep what {sweep_dir} swept ({said})",
            f"repeat the sweep's own overrides (its multirun.yaml: hydra.overrides.task) with sweep.resume={given}",
        )
    for override in overrides:
        key, _, value = override.partition("=")
        if key.lstrip("+~") == "hydra.sweep.dir" and Path(value.strip("'\"")).absolute() != sweep_dir:
            raise ConfigError(
                KEY,
                f"hydra.sweep.dir={value} is not the sweep being resumed ({sweep_dir})",
                "leave hydra.sweep.dir out: sweep.resume sets it",
            )
    kept = [o for o in overrides if o.partition("=")[0].lstrip("+~") != "hydra.sweep.dir"]
    log.info("resuming the sweep in %s: finished points are kept, the others run", sweep_dir)
    return [*kept, f"hydra.sweep.dir={_quoted(str(sweep_dir))}"]


def read_multirun(sweep_dir: Path) -> dict:
    """The sweep dir's multirun.yaml as a plain dict; ConfigError when there is none or it is not ours."""
    path = sweep_dir / MULTIRUN_FILE
    hint = "give the dir a `run -m` printed as `sweep report: <dir>/sweep.md` (multirun/<date>/<time>)"
    if not sweep_dir.is_dir():
        raise ConfigError(KEY, f"{sweep_dir} is not a directory", hint)
    if not path.is_file() or path.is_symlink():
        raise ConfigError(KEY, f"{sweep_dir} is not a sweep dir (no {MULTIRUN_FILE})", hint)
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ConfigError(KEY, f"{path} cannot be read: {str(error).splitlines()[0]}", hint) from None
    if not isinstance(data, dict) or not isinstance(_select(data, "hydra.overrides.task"), list):
        raise ConfigError(KEY, f"{path} is not the record of a sweep (no hydra.overrides.task)", hint)
    if "sweep" not in data or "batch_size" not in data:
        raise ConfigError(
            KEY, f"{sweep_dir} is not a sweep of this runner (its {MULTIRUN_FILE} has no runner config)", hint
        )
    return data


@dataclass
class Point:
    """What a job dir of a resumed sweep holds, and what the job does about it."""

    run_dir: Path
    action: str  # SKIP, RESUME, RERUN, FRESH
    record: RunRecord | None = None
    why: str = ""

    def clear(self) -> None:
        """A failed attempt's outputs removed (run.log stays: it has the failure, the new attempt appends)."""
        for name in (*WRITTEN, EXIT_FILE, f".{RECORD}.tmp", f".{METRICS}.tmp"):
            if name == LOG:
                continue
            path = self.run_dir / name
            if path.is_file() or path.is_symlink():
                path.unlink()
        for name in (MEDIA, STAGES, HYDRA_DIR):
            path = self.run_dir / name
            if path.is_symlink():
                path.unlink()
            elif path.is_dir():
                shutil.rmtree(path)


def examine_point(run_dir: Path) -> Point:
    """What a job of a resumed sweep does with its job dir (called under the dir's lock: a live run
    holding it was refused before)."""
    from runner.outputs.rundir_lock import artefacts

    folder = RunDir(run_dir)
    try:
        record = folder.read_record()
    except ValueError:
        return Point(run_dir, RERUN, None, "its run.json cannot be read")
    if record is None:
        found = artefacts(folder)
        if found:
            return Point(run_dir, RERUN, None, f"it holds {', '.join(found)} but no run.json")
        return Point(run_dir, FRESH)
    if record.status in FINISHED:
        try:
            metrics = folder.read_metrics()
        except ValueError:
            metrics = None
        if metrics is not None and metrics.finished:
            return Point(run_dir, SKIP, record, f"finished with status {record.status}")
        return Point(run_dir, RESUME, record, f"run.json says {record.status} but metrics.json is missing or cut")
    if record.status in ("running", "interrupted"):
        return Point(run_dir, RESUME, record, f"it was stopped (run.json: {record.status})")
    return Point(run_dir, RERUN, record, f"it failed (run.json: {record.status})")


def check_same_config(point: Point, cfg: dict, overrides: list[str]) -> None:
    """A kept point must have run this very config (config hash); ConfigError naming the point and keys."""
    from runner.repro.record import config_hash
    from runner.repro.resume import config_differences

    record = point.record
    if record is None or record.config_hash == config_hash(cfg):
        return
    differences = config_differences(record.config or {}, cfg)
    listed = "; ".join(f"{k}: {a!r} then, {b!r} now" for k, a, b in differences[:5]) or "its config hash"
    raise ConfigError(
        KEY,
        f"point {point.run_dir.name} ({' '.join(overrides)}) finished with another config ({listed})",
        "the config files changed since the sweep ran: start a new sweep, or restore them",
    )


def _points_overrides(overrides: list[str]) -> list[str]:
    return [o for o in overrides if o.partition("=")[0].lstrip("+~") not in _NOT_POINTS]


def _select(data: dict, dotted: str):
    node = data
    for part in dotted.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _quoted(path: str) -> str:
    """A path as a Hydra override value (quoted: it may hold characters the override grammar reads)."""
    return "'" + path.replace("'", "\\'") + "'"
