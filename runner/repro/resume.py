"""resume=<run dir>: continue an interrupted run in its own dir, appending the rows it had not written.

The config must match the interrupted run's in every key that changes outputs (runner.repro.record), so the
appended rows belong with the earlier ones."""

from __future__ import annotations

import logging
from pathlib import Path

from runner.core.errors import ConfigError
from runner.repro.saved import read_saved
from runner.outputs.rundir import RunDir, RunRecord
from runner.outputs.sinks import completed_indices

log = logging.getLogger(__name__)

# Beyond record.NON_OUTPUT_KEYS, a resumed run may change how failing rows are handled; and the
# Python API's inputs fingerprint is compared as the source's (check_source: named, and
# resume_allow_changed=true lets it pass), not as a config key.
RESUMABLE_DIFFERENCES = ("on_error", "dataset.fingerprint")


def resume_target(
    plan,
    run_dir: Path,
    source: dict | None = None,
    total: int | None = None,
    ends_after=None,
) -> tuple[Path, set[int]]:
    """`plan`: the run's (runner.plan.Plan). With resume=<dir>: that dir and the dataset positions already written there; else run_dir, none.
    `source`: the fingerprint of today's source (runner.sources.fingerprint), checked against the one the
    interrupted run recorded: a changed source is refused unless resume_allow_changed=true. `total`: the
    rows of the source after skip and limit, when known (the last batch of the data may be short), else
    `ends_after(position)`: whether the data has no row after that position (runner.sources.sharding.cut_units)."""
    cfg, run = plan.cfg, plan.views.run
    if not run.resume:
        return run_dir, set()
    from runner.outputs.rundir_lock import refuse_unsafe

    target = RunDir(Path(run.resume).expanduser())
    refuse_unsafe(target.path, "resume")
    record = resume_record(run.resume)
    check_source(record.rest.get("source"), source, bool(run.resume_allow_changed))
    saved = record.config or {}
    differences = config_differences(saved, cfg)
    if differences:
        listed = "; ".join(f"{k}: {a!r} then, {b!r} now" for k, a, b in differences[:5])
        raise ConfigError(
            "resume",
            f"the config differs from the interrupted run's in what changes outputs ({listed})",
            "resume with the same config (only progress and bench keys may change), or start a new run",
        )
    done = completed_indices(target.predictions) | completed_indices(target.errors)
    done -= cut_batches(target, done, plan.batch_unit, total, ends_after)
    log.info("resuming %s: %d rows already done, appending the rest", target.path, len(done))
    return target.path, done


def cut_batches(target: RunDir, done: set[int], unit: int, total: int | None = None, ends_after=None) -> set[int]:
    """The rows of the batch units (runner.sources.sharding.batch_unit) the interruption cut, removed
    from the outputs so they run again as one batch: the resumed run then batches, pads, hence computes
    every row as the uninterrupted run would. A unit's rows are the last ones written (outputs are in
    input order): at most one unit of rows."""
    from runner.outputs.sinks import drop_records
    from runner.sources.sharding import cut_units

    redo = cut_units(done, unit, total, ends_after)
    if redo:
        log.info(
            "resume: redoing the %d written rows of a batch the stop cut (positions %d..%d), so that it is "
            "batched as an uninterrupted run batches it",
            len(redo),
            min(redo),
            max(redo),
        )
        drop_records(target.predictions, redo)
        drop_records(target.errors, redo)
    return redo


def check_source(before: dict | None, now: dict | None, allow_changed: bool) -> None:
    """ConfigError (exit code 2) naming the source when it changed since the interrupted run."""
    from runner.sources.fingerprint import changes, named, touched_only

    if not before or not now:
        return  # a run recorded before fingerprints, or a source without one (a one-pass iterator)
    said = changes(before, now)
    if not said:
        if before.get("path") != now.get("path"):  # moved, or read from another directory: the same bytes
            log.warning(
                "warning: the interrupted run read %s; this one reads %s, with the same size and sampled "
                "content: resuming",
                before.get("path"),
                now.get("path"),
            )
        elif touched_only(before, now):
            log.warning(
                "warning: %s was modified (its mtime) since the interrupted run, but its size and "
                "sampled content are the same: resuming",
                now.get("path"),
            )
        return
    if allow_changed:
        log.warning(
            "warning: %s changed since the interrupted run (%s); resuming anyway (resume_allow_changed=true)",
            named(now),
            "; ".join(said),
        )
        return
    raise ConfigError(
        "resume",
        f"the source {named(now)} changed since the interrupted run ({'; '.join(said)}): "
        "rows already written may no longer be the rows at their positions",
        "start a new run, or resume_allow_changed=true if the rows written so far are still right",
    )


def resume_record(resume: str) -> RunRecord:
    """The interrupted run's run.json (planning checks it is there before any model loads)."""
    folder = RunDir(Path(resume).expanduser())
    record, _ = read_saved(folder.read_record, "resume"), read_saved(folder.read_metrics, "resume")
    if record is None:
        raise ConfigError(
            "resume",
            f"'{resume}' is not a run directory (no run.json)",
            "give the output dir of the interrupted run, e.g. resume=outputs/2026-11-25/10-00-00",
        )
    return record


def config_differences(saved: dict, current: dict) -> list[tuple[str, object, object]]:
    """(key, then, now) for each output-changing key that differs."""
    from runner.repro.record import dotted_differences, output_config

    return dotted_differences(
        output_config(saved, exclude=RESUMABLE_DIFFERENCES), output_config(current, exclude=RESUMABLE_DIFFERENCES)
    )
