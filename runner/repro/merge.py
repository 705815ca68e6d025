"""`run merge=<multirun dir>`: join the outputs of a sharded multirun into one predictions file.

Each job of `run -m ... shard.count=N 'shard.index=range(N)'` wrote the rows at the positions it owns
(whole batch units round-robin, unit k to shard k % N, or for a Parquet file a contiguous run of
them: runner.sources.sharding). Merging checks that the jobs belong together (same config apart from
`shard`), that every shard 0..N-1 is there exactly once and finished, and that the rows cover positions
0..R-1 with none twice, each in the shard that owns it; then it writes <multirun dir>/merged/{predictions,errors}.jsonl in input order (each
line byte for byte as its shard wrote it) and merge.json. Nothing is written when a check fails.

Exit codes: 0 merged; 1 the shards are incomplete (a shard missing, failed, or rows missing) —
re-run the shard named; 2 the dir is not a sharded multirun (no job dirs, jobs of different configs).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from runner.config.provenance import file_sha256
from runner.core.errors import ConfigError, RunError
from runner.repro.record import config_hash, dotted_differences, now_iso, output_config
from runner.repro.saved import read_saved
from runner.outputs.rundir import ERRORS, MERGE, PREDICTIONS, RECORD, RunDir
from runner.sources.sharding import ROUND_ROBIN, assignment, batch_unit, owner, owns

log = logging.getLogger(__name__)

MERGED_DIR = "merged"


@dataclass
class ShardJob:
    dir: Path
    index: int
    count: int
    status: str | None  # run.json status; None when the job stopped before it ran (no run.json)
    config: dict


def merge_multirun(multirun_dir: Path) -> dict:
    """Check and merge; return the merge.json summary. Raises ConfigError (2) or RunError (1)."""
    multirun_dir = Path(multirun_dir)
    jobs = find_jobs(multirun_dir)
    check_same_config(jobs)
    by_index = check_shards_present(jobs, multirun_dir)
    how = assignment(by_index[0].config.get("dataset") or {})
    unit = batch_unit(by_index[0].config)  # the shards own whole batch units (the same config: one unit)
    predictions = {i: _indexed_lines(job.dir / PREDICTIONS, job, how, unit) for i, job in by_index.items()}
    errors = {i: _indexed_lines(job.dir / ERRORS, job, how, unit) for i, job in by_index.items()}
    total = check_complete(by_index, predictions, errors, how, unit)
    out = multirun_dir / MERGED_DIR
    out.mkdir(exist_ok=True)
    write_in_order(out / PREDICTIONS, predictions)
    write_in_order(out / ERRORS, errors)
    summary = {
        "merged_at": now_iso(),
        "multirun_dir": str(multirun_dir),
        "shard_count": len(by_index),
        "rows": total,
        "predictions": sum(len(lines) for lines in predictions.values()),
        "errors": sum(len(lines) for lines in errors.values()),
        "config_hash": config_hash(by_index[0].config, exclude=("shard",)),
        "predictions_sha256": file_sha256(out / PREDICTIONS),
        "shards": [
            {"index": i, "dir": str(job.dir), "predictions": len(predictions[i]), "errors": len(errors[i])}
            for i, job in sorted(by_index.items())
        ],
    }
    (out / MERGE).write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def find_jobs(multirun_dir: Path) -> list[ShardJob]:
    """Job dirs under the multirun dir: those Hydra wrote a .hydra/config.yaml or the run a run.json into
    (a job that failed on its config has only the former)."""
    if not multirun_dir.is_dir():
        raise ConfigError(
            "merge",
            f"'{multirun_dir}' is not a directory",
            "give the multirun dir of a sharded `run -m` (multirun/<date>/<time>)",
        )
    dirs = {p.parent for p in multirun_dir.rglob(RECORD)} | {
        p.parent.parent for p in multirun_dir.rglob(".hydra/config.yaml")
    }
    dirs = sorted(d for d in dirs if MERGED_DIR not in d.relative_to(multirun_dir).parts[:1])
    if not dirs:
        raise ConfigError(
            "merge",
            f"'{multirun_dir}' holds no job dirs (no run.json below it)",
            "give the multirun dir of a sharded `run -m` (multirun/<date>/<time>)",
        )
    return [_read_job(d) for d in dirs]


def _read_job(job_dir: Path) -> ShardJob:
    record = read_saved(RunDir(job_dir).read_record, "merge")
    if record is not None:
        config, status, source = record.config, record.status, job_dir / RECORD
    else:
        config, status, source = _hydra_config(job_dir), None, job_dir / ".hydra" / "config.yaml"
    shard = (config if isinstance(config, dict) else {}).get("shard") or {"index": 0, "count": 1}
    if not isinstance(config, dict) or not all(isinstance(shard.get(k), int) for k in ("index", "count")):
        raise ConfigError(
            "merge",
            f"{source} holds no config with integer shard.index and shard.count",
            "merge the job dirs of one sharded `run -m`; re-run a job whose files were damaged",
        )
    return ShardJob(job_dir, shard["index"], shard["count"], status, config)


def _hydra_config(job_dir: Path):
    """The config Hydra saved for a job that stopped before it ran (no run.json)."""
    import yaml

    path = job_dir / ".hydra" / "config.yaml"
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ConfigError(
            "merge",
            f"{path} is not valid YAML: {str(error).splitlines()[0]}",
            "re-run that job, or remove its dir if it is not part of the sharded run",
        ) from None


def check_same_config(jobs: list[ShardJob]) -> None:
    """The jobs must differ in `shard` only, or their rows are not parts of one run."""
    counts = sorted({job.count for job in jobs})
    if len(counts) > 1:
        raise ConfigError(
            "merge",
            f"the jobs disagree on shard.count ({', '.join(map(str, counts))})",
            "merge the jobs of one `run -m ... shard.count=N 'shard.index=range(N)'`",
        )
    ran = [job for job in jobs if job.status is not None]  # validated configs, comparable key by key
    reference = ran[0] if ran else None
    for job in ran[1:]:
        if config_hash(job.config, exclude=("shard",)) != config_hash(reference.config, exclude=("shard",)):
            keys = [
                key
                for key, _, _ in dotted_differences(
                    output_config(reference.config, ("shard",)), output_config(job.config, ("shard",))
                )
            ]
            raise ConfigError(
                "merge",
                f"{job.dir} and {reference.dir} differ in {', '.join(keys)}, not only in shard",
                "a multirun that sweeps other keys too holds several runs; merge one sharded run",
            )


def check_shards_present(jobs: list[ShardJob], multirun_dir: Path) -> dict[int, ShardJob]:
    count = jobs[0].count
    by_index: dict[int, ShardJob] = {}
    for job in jobs:
        if job.index in by_index:
            raise RunError(
                f"shard {job.index} of {count} ran twice: {by_index[job.index].dir} and {job.dir}",
                "keep one of them (a reused sweep dir holds jobs of two multiruns)",
            )
        by_index[job.index] = job
    missing = [i for i in range(count) if i not in by_index]
    if missing:
        names = ", ".join(f"shard.index={i}" for i in missing)
        raise RunError(
            f"{len(missing)} of {count} shards missing in {multirun_dir}: {names}",
            f"run the missing shards, e.g. run -m <same overrides> shard.count={count} shard.index={missing[0]}",
        )
    for index, job in sorted(by_index.items()):
        if job.status != "ok":
            state = (
                "stopped before running (config error?)" if job.status is None else f"ended with status {job.status!r}"
            )
            raise RunError(
                f"shard {index} of {count} ({job.dir}) {state}", f"see {job.dir / 'run.log'}, fix, re-run that shard"
            )
    return by_index


def _indexed_lines(path: Path, job: ShardJob, how: str = ROUND_ROBIN, unit: int = 1) -> list[tuple[int, str]]:
    """(index, line) for each record, the line kept byte for byte. Round-robin rows are checked for their
    shard here; blocks (a Parquet file's shards) once the total is known, in check_complete."""
    if not path.is_file():
        return []
    lines = []
    with open(path, "rb") as f:  # bytes: a damaged line is reported by number, not as a UnicodeDecodeError
        for number, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                line = raw.decode("utf-8")
                index = json.loads(line).get("index")
            except (ValueError, AttributeError):  # UnicodeDecodeError is a ValueError
                raise RunError(
                    f"{path}:{number} is not a JSON record (cut short, or not UTF-8?)", "re-run that shard"
                ) from None
            if not isinstance(index, int):
                raise RunError(f"{path}:{number} has no row index", "re-run that shard with this version of the runner")
            if how == ROUND_ROBIN and not owns(index, job.index, job.count, unit):
                raise RunError(f"{path}:{number}: row {index} does not belong to shard {job.index} of {job.count}")
            lines.append((index, line if line.endswith("\n") else line + "\n"))
    return lines


def check_complete(
    by_index: dict[int, ShardJob], predictions: dict, errors: dict, how: str = ROUND_ROBIN, unit: int = 1
) -> int:
    """Every position 0..R-1 exactly once across predictions and errors, and each shard as many rows
    as it read (a shard cut short shows here even when its last rows would be the last overall)."""
    seen: dict[int, int] = {}
    for shard, lines in [*predictions.items(), *errors.items()]:
        for index, _ in lines:
            if index in seen:
                raise RunError(f"row {index} appears twice (shard {seen[index]} and shard {shard})")
            seen[index] = shard
    for shard, job in by_index.items():
        metrics = read_saved(RunDir(job.dir).read_metrics, "merge")
        rows_in = metrics.rows_in if metrics else None
        got = len(predictions[shard]) + len(errors[shard])
        if rows_in is not None and rows_in != got:
            raise RunError(f"shard {shard} ({job.dir}) read {rows_in} rows but wrote {got}", "re-run that shard")
    total, count = len(seen), len(by_index)
    strays = [(i, shard) for i, shard in sorted(seen.items()) if owner(i, total, count, how, unit) != shard]
    if strays:
        index, shard = strays[0]
        raise RunError(
            f"row {index} does not belong to shard {shard} of {count} ({by_index[shard].dir})",
            "re-run that shard with this version of the runner",
        )
    gaps = [i for i in range(total) if i not in seen]
    if gaps:
        shown = ", ".join(f"{i} (shard {owner(i, total, count, how, unit)})" for i in gaps[:10])
        raise RunError(
            f"rows missing from the shards: {shown}{' ...' if len(gaps) > 10 else ''}", "re-run those shards"
        )
    return total


def write_in_order(path: Path, shards: dict[int, list[tuple[int, str]]]) -> None:
    rows = sorted((index, line) for lines in shards.values() for index, line in lines)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.writelines(line for _, line in rows)
    os.replace(tmp, path)


def report(summary: dict) -> None:
    out = Path(summary["multirun_dir"]) / MERGED_DIR
    log.info(
        "merged %d shards: %d rows (%d predictions, %d errors) -> %s",
        summary["shard_count"],
        summary["rows"],
        summary["predictions"],
        summary["errors"],
        out / PREDICTIONS,
    )
