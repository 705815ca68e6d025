"""`run rerun=<run dir>`: run again from the config saved in that dir's run.json, then say whether the
predictions came out byte for byte the same and, if not, what differs (config, versions, device, dtype).

The saved config is used as it is (the current conf/ tree is ignored); key=value overrides given
beside `rerun=` apply on top of it, so `run rerun=<dir> seed=1` shows what a new seed changes.
The new outputs go to the new run dir; the original dir is only read.
"""

from __future__ import annotations

import copy
import logging
import re
from pathlib import Path

from runner.config.provenance import file_sha256
from runner.config.search import ConfigSession
from runner.core.errors import ConfigError
from runner.repro.record import dotted_differences, output_config
from runner.repro.saved import read_saved
from runner.repro.untrusted import check_redacted, check_saved_config
from runner.outputs.rundir import ERRORS, PREDICTIONS, RECORD, RERUN, RunDir, RunRecord

log = logging.getLogger(__name__)

# Exit code of a rerun that finished but whose predictions differ from the original's.
DIFFERS = 3
# What metrics.json says about where the model ran: dtype and device as loaded, not only as asked.
PLACEMENT_KEYS = ("device", "dtype", "device_map", "parameter_devices", "quantized")


def load_record(run_dir: Path) -> RunRecord:
    folder = RunDir(run_dir)
    record, _ = read_saved(folder.read_record, "rerun"), read_saved(folder.read_metrics, "rerun")
    if record is None:
        hint = "give a run dir written by `run` (outputs/<date>/<time>), which holds run.json"
        raise ConfigError("rerun", f"'{run_dir}' has no run.json", hint)
    if not isinstance(record.config, dict):
        raise ConfigError("rerun", f"{folder.record_file} holds no config to re-run")
    return record


def rerun_config(
    current: dict, overrides: list[str], new_run_dir: Path, session: ConfigSession
) -> tuple[dict, list[str], dict]:
    """The config to run: the original's saved config, `overrides` applied on top. Also returns the
    top-level keys the saved config lacked (older runner versions), filled from today's defaults, and
    the provenance to record: the config comes from the original's run.json, not from config files."""
    original = Path(current["rerun"])
    if _same_dir(original, new_run_dir):
        raise ConfigError(
            "rerun",
            f"the rerun would write into the original run dir {original}",
            "leave hydra.run.dir unset: a rerun gets a fresh run dir",
        )
    record = load_record(original)
    check_saved_config(record.config, overrides, str(original / RECORD))  # untrusted: no code from a file
    cfg = copy.deepcopy(record.config)
    filled = [key for key in current if key not in cfg and key not in ("rerun", "merge")]
    for key in filled:
        cfg[key] = copy.deepcopy(current[key])
    cfg["merge"] = None
    cfg = _apply_overrides(cfg, overrides, session)
    cfg["rerun"] = str(original)
    # Records written before step presets were resolved when composing hold preset names.
    from runner.config.presets import expand_step_presets

    cfg = expand_step_presets(cfg, session)
    check_redacted(cfg, str(original / RECORD))
    if record.cwd and Path(record.cwd).resolve() != Path.cwd().resolve():
        log.warning(
            "warning: the original ran in %s; relative dataset paths are read from here (%s)", record.cwd, Path.cwd()
        )
    # No config file shapes this run (its config is the saved one), so none is recorded or warned about.
    conf = {"from_run": str(original / RECORD), "search_path": [], "files": [], "overrides": list(overrides)}
    return cfg, filled, conf


def _same_dir(a: Path, b: Path) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def _apply_overrides(cfg: dict, overrides: list[str], session: ConfigSession) -> dict:
    """Apply key=value / +key=value / ~key overrides to the saved config. Group choices
    (model=tiny) are refused: they would pull in the current conf/ tree the rerun ignores."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    settable = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") != "rerun"]
    node = OmegaConf.create(inert(cfg))  # the saved config is data: its ${...} stay text, never resolved
    for override in OverridesParser.create().parse_overrides(settable):
        key = override.key_or_group
        if override.package is not None or session.is_group(key):
            raise ConfigError(
                "rerun",
                f"'{override.input_line}' picks a config group option, which a rerun cannot apply",
                f"a rerun uses the saved config; set keys instead, e.g. {key}.<name>=<value>",
            )
        if override.is_delete():
            parent, _, leaf = key.rpartition(".")
            container = OmegaConf.select(node, parent) if parent else node
            if container is not None and leaf in container:
                del container[leaf]
            continue
        OmegaConf.update(node, key, override.value(), merge=False, force_add=True)
    return OmegaConf.to_container(node, resolve=True)


def inert(value):
    """A saved config with every `${` escaped: OmegaConf then reads an interpolation or a resolver call
    (${oc.env:SECRET}, a custom resolver) as the text it is, so nothing in a run.json is evaluated."""
    if isinstance(value, dict):
        return {key: inert(item) for key, item in value.items()}
    if isinstance(value, list):
        return [inert(item) for item in value]
    if isinstance(value, str) and "${" in value:
        return re.sub(r"(\\*)\$\{", lambda m: m[1] * 2 + "\\${", value)  # backslashes before it kept as text too
    return value


def compare(original_dir: Path, new_dir: Path, filled: list[str] = ()) -> dict:
    """The verdict: predictions identical or not, and the config and environment facts that differ."""
    original_dir, new_dir = Path(original_dir), Path(new_dir)
    before, after = load_record(original_dir), load_record(new_dir)
    original_hash = file_sha256(original_dir / PREDICTIONS) or before.predictions_sha256
    new_hash = file_sha256(new_dir / PREDICTIONS)
    verdict = {
        "original": str(original_dir),
        "rerun": str(new_dir),
        "identical": original_hash is not None and original_hash == new_hash,
        "predictions_sha256": {"original": original_hash, "rerun": new_hash},
        "errors_identical": file_sha256(original_dir / ERRORS) == file_sha256(new_dir / ERRORS),
        "original_status": before.status,
        "config_hash": {"original": before.config_hash, "rerun": after.config_hash},
        "config_differences": differences(output_config(before.config), output_config(after.config)),
        "environment_differences": environment_differences(before, after, original_dir, new_dir),
        "filled_from_current_defaults": list(filled),
        "config_files_changed": config_files_changed(before),
    }
    if not verdict["identical"]:
        verdict["lines"] = line_differences(original_dir / PREDICTIONS, new_dir / PREDICTIONS)
    return verdict


def environment_differences(before: RunRecord, after: RunRecord, original_dir: Path, new_dir: Path) -> list[dict]:
    return differences(_environment(before, original_dir), _environment(after, new_dir))


def _environment(record: RunRecord, run_dir: Path) -> dict:
    return {
        "versions": record.versions or {},
        "hardware": record.hardware or {},
        "placement": _placement(run_dir),
        "git": record.git or {},
    }


def _placement(run_dir: Path) -> dict:
    metrics = RunDir(run_dir).read_metrics()
    written = metrics.to_json() if metrics else {}
    return {key: written.get(key) for key in PLACEMENT_KEYS}


def differences(before: dict, after: dict) -> list[dict]:
    """Flat list of {key, original, rerun} for every dotted key whose value differs."""
    return [{"key": key, "original": a, "rerun": b} for key, a, b in dotted_differences(before, after)]


def line_differences(original: Path, new: Path, shown: int = 300) -> dict:
    a = original.read_text(encoding="utf-8").splitlines() if original.is_file() else []
    b = new.read_text(encoding="utf-8").splitlines() if new.is_file() else []
    differing = [i for i in range(max(len(a), len(b))) if i >= len(a) or i >= len(b) or a[i] != b[i]]
    summary = {"original_lines": len(a), "rerun_lines": len(b), "differing_lines": len(differing)}
    if differing:
        first = differing[0]
        summary["first_difference"] = {
            "line": first + 1,
            "original": a[first][:shown] if first < len(a) else None,
            "rerun": b[first][:shown] if first < len(b) else None,
        }
    return summary


def config_files_changed(record: RunRecord) -> list[dict]:
    """The config files the original run read (experiment, presets) whose bytes differ now, or that are
    gone: the rerun used the saved config, so this is what re-running from the files would change."""
    changed = []
    for entry in (record.conf or {}).get("files") or []:
        now = file_sha256(entry.get("file"))
        if now != entry.get("sha256"):
            changed.append(
                {"config": entry["config"], "file": entry.get("file"), "original": entry.get("sha256"), "now": now}
            )
    return changed


def report(verdict: dict) -> int:
    """Log the verdict on screen and return the exit code: 0 identical, DIFFERS otherwise."""
    if verdict["identical"]:
        log.info(
            "rerun of %s: predictions identical, byte for byte (sha256 %s)",
            verdict["original"],
            verdict["predictions_sha256"]["rerun"],
        )
    else:
        lines = verdict["lines"]
        log.warning(
            "rerun of %s: predictions DIFFER (%d of %d lines differ; %d lines before, %d now)",
            verdict["original"],
            lines["differing_lines"],
            max(lines["original_lines"], lines["rerun_lines"]),
            lines["original_lines"],
            lines["rerun_lines"],
        )
    for title, found in (
        ("config differs", verdict["config_differences"]),
        ("environment differs", verdict["environment_differences"]),
    ):
        if found:
            shown = "; ".join(f"{d['key']}: {d['original']!r} -> {d['rerun']!r}" for d in found[:12])
            more = f" (and {len(found) - 12} more)" if len(found) > 12 else ""
            log.info("  %s: %s%s", title, shown, more)
    for change in verdict["config_files_changed"]:
        now = f"sha256 {change['now'][:12]}" if change["now"] else "gone"
        original = (change["original"] or "?")[:12]
        log.info(
            "  config file changed since the original run: %s (%s): sha256 %s -> %s",
            change["config"],
            change["file"],
            original,
            now,
        )
    if verdict["original_status"] != "ok":
        log.warning("  the original run ended with status %r", verdict["original_status"])
    log.info("  verdict: %s", Path(verdict["rerun"]) / RERUN)
    return 0 if verdict["identical"] else DIFFERS
