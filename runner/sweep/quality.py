"""Quality beside speed: how far each sweep point's answers are from a reference point's.

A setting that makes a sweep faster (dtype, quantization, a token budget, the backend, even the batch
size through padding) may also change the answers, so every point is compared with one reference point
of the same sweep, from the job folders' predictions.jsonl, with runner.bench.agreement (the task says
how its outputs compare: Task.comparison). The figures go into the point dict, the table, the plot
and the MLflow child runs; runner.sweep.recommend picks only points whose agreement reaches
`sweep.min_agreement`.

    sweep.reference      null: the first job; an integer: that job number (its folder name);
                         "key=value key=value": the one point whose overrides hold all of these
    sweep.min_agreement  0..1, or null to recommend on speed alone (the figures are still shown)

When the rows carry a reference column (dataset.fields.reference), each point is also scored against
it (accuracy for labels, WER for text): predictions.jsonl holds that column's value as "reference".

Files are read streaming: the reference's predictions are indexed once (byte offsets by row index, not
the outputs), and each point's file is read line by line, its row's reference line read back by
seeking. Embeddings, the only large outputs, are compared a chunk of rows at a time.
Importing this imports no ML library; comparing embeddings imports numpy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from runner.outputs.rundir import PREDICTIONS, RECORD

DEFAULT_MIN_AGREEMENT = 0.99  # conf/config.yaml sweep.min_agreement: int8 MiniLM (mean cosine ~0.93) is below it
CHUNK_ROWS = 256  # vector rows compared at a time


def settings_of(job_dirs: list[Path]) -> dict:
    """sweep.reference and sweep.min_agreement, from the first job's run.json config (every job of a sweep
    shares them unless swept, which the report does not support); the defaults when no job recorded one."""
    for job_dir in job_dirs:
        sweep = (_config(job_dir) or {}).get("sweep")
        if isinstance(sweep, dict):
            return {"reference": sweep.get("reference"), "min_agreement": sweep.get("min_agreement")}
    return {"reference": None, "min_agreement": DEFAULT_MIN_AGREEMENT}


def annotate_agreement(points: list[dict], sweep_dir: Path, settings: dict) -> dict:
    """Set each point's "agreement" ({kind, agreement, rows, rows_missing, ...} or None) and
    "agreement_note" (why there is no figure), and "against_references" where the rows carry a reference
    column. Returns the sweep's summary: {reference (its job), measured (bool), note}."""
    for point in points:
        point.update(agreement=None, agreement_note=None, against_references=None, is_reference=False)
    if not any(_predictions(sweep_dir, p).is_file() for p in points):
        note = "not measured: no job folder holds predictions.jsonl"
        return {"reference": None, "measured": False, "note": note}
    reference, problem = find_reference(points, settings.get("reference"))
    if reference is None:
        for point in points:
            point["agreement_note"] = problem
        return {"reference": None, "measured": True, "note": problem}
    reference["is_reference"] = True
    ref_path, ref_comparison = _predictions(sweep_dir, reference), comparison_of(sweep_dir / reference["job"])
    offsets = index_offsets(ref_path) if reference["status"] in ("ok", "too_short") and ref_path.is_file() else None
    for point in points:
        path = _predictions(sweep_dir, point)
        if point["status"] not in ("ok", "too_short") or not path.is_file():
            point["agreement_note"] = f"no outputs ({point['status'].replace('_', ' ')})"
            continue
        comparison = comparison_of(sweep_dir / point["job"])
        point["against_references"] = score_references(path, comparison) if comparison else None
        if offsets is None:
            point["agreement_note"] = f"no reference outputs (reference job {reference['job']}: {reference['status']})"
        elif comparison is None or comparison != ref_comparison:
            point["agreement_note"] = "not comparable: its task differs from the reference's, or run.json is missing"
        else:
            point["agreement"] = compare_files(ref_path, offsets, path, *comparison)

            if point["agreement"]["agreement"] is None:
                point["agreement_note"] = "no row to compare (every row failed on one side)"
    return {"reference": reference["job"], "measured": True, "note": None}


def find_reference(points: list[dict], wanted) -> tuple[dict | None, str | None]:
    """The reference point for sweep.reference (see the module doc), or None and why."""
    if wanted is None:
        first = min(points, key=lambda p: _job_number(p["job"]), default=None)
        return first, None if first else "no point to compare with"
    if isinstance(wanted, int) and not isinstance(wanted, bool):
        found = [p for p in points if _job_number(p["job"]) == (wanted,)]
        return (found[0], None) if found else (None, f"sweep.reference={wanted}: no job {wanted} in the sweep")
    pairs = dict(part.partition("=")[::2] for part in str(wanted).split())
    found = [p for p in points if all(p["overrides"].get(k) == v for k, v in pairs.items())]
    if len(found) == 1:
        return found[0], None
    how = "no point has" if not found else f"{len(found)} points have"
    return None, f"sweep.reference='{wanted}': {how} these overrides; name one point (a job number also works)"


def _job_number(job: str) -> tuple:
    """Hydra names job folders by number ("0", "1", ...); a nested or named folder sorts after them."""
    return (int(job),) if job.isdigit() else (float("inf"), job)


def comparison_of(job_dir: Path) -> tuple[str, str | None, str | None] | None:
    """(kind, field, step output key) of the job's last step, from its run.json config; the key is None when
    predictions.jsonl holds the output as it is (a one-task run), else the step's name in the output."""
    from runner.tasks import TASKS, canonical_task_id

    config = _config(job_dir)
    if not config:
        return None
    steps = (config.get("graph") or {}).get("steps")
    if steps:
        name, step = list(steps.items())[-1]
        task_name, key = (step or {}).get("task"), (step or {}).get("output") or name
    else:
        task_name, key = (config.get("task") or {}).get("name"), None
    task_id = canonical_task_id(str(task_name)) if task_name else None
    if task_id is None:
        return None
    return (*TASKS[task_id].comparison(), key)


def index_offsets(path: Path) -> dict[int, int]:
    """Row index -> byte offset of its line: the reference is read once, and only its positions kept."""
    offsets, position = {}, 0
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                offsets[int(json.loads(line)["index"])] = position
            position += len(line)
    return offsets


def records(path: Path) -> Iterator[dict]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def output_of(record: dict, step_key: str | None):
    """The compared output: the task's output, or the last step's of a chain (keyed by step)."""
    output = record.get("output")
    if step_key is not None and isinstance(output, dict) and step_key in output:
        return output[step_key]
    return output


def compare_files(
    ref_path: Path, offsets: dict[int, int], path: Path, kind: str, field: str | None, step_key: str | None
) -> dict:
    """runner.bench.agreement.compare over the rows of both files, matched by index. Rows only one side
    has (a failed row) count as missing. Vectors go a chunk at a time and are combined (mean weighted by
    rows, min of mins); labels and text are small, so they are compared in one call."""
    from runner.bench.agreement import compare

    seen: set[int] = set()
    reference: list = []
    candidate: list = []
    parts: list[dict] = []
    with open(ref_path, encoding="utf-8") as ref_file:
        for record in records(path):
            index = int(record["index"])
            seen.add(index)
            offset = offsets.get(index)
            if offset is None:
                reference.append(None)
            else:
                ref_file.seek(offset)
                reference.append(output_of(json.loads(ref_file.readline()), step_key))
            candidate.append(output_of(record, step_key))
            if kind == "vectors" and len(candidate) >= CHUNK_ROWS:
                parts.append(compare(kind, field, reference, candidate))
                reference, candidate = [], []
    parts.append(compare(kind, field, reference, candidate))
    result = parts[0] if len(parts) == 1 else combine_vectors(parts)
    missing = len(set(offsets) - seen)  # rows the reference has and this point lost
    return {**result, "rows_missing": result["rows_missing"] + missing}


def combine_vectors(parts: list[dict]) -> dict:
    measured = [p for p in parts if p["rows"]]
    rows = sum(p["rows"] for p in measured)
    result = {"kind": "vectors", "rows": rows, "rows_missing": sum(p["rows_missing"] for p in parts)}
    if not rows:
        return {**result, "agreement": None}
    mean = sum(p["mean_cosine"] * p["rows"] for p in measured) / rows
    return {**result, "agreement": mean, "mean_cosine": mean, "min_cosine": min(p["min_cosine"] for p in measured)}


def score_references(path: Path, comparison: tuple) -> dict | None:
    """Accuracy or WER against the dataset's reference column, when the rows carry one (labels and text
    only: runner.bench.agreement.against_references); None otherwise."""
    from runner.bench.agreement import against_references

    kind, field, step_key = comparison
    if kind not in ("labels", "text"):
        return None
    references, outputs = [], []
    for record in records(path):
        if record.get("reference") is not None:
            references.append(record["reference"])
            outputs.append(output_of(record, step_key))
    return against_references(kind, field, references, outputs) if references else None


def below(point: dict, min_agreement: float | None) -> str | None:
    """Why the recommendation must pass over this point, or None: its agreement is under min_agreement,
    or it has none to show (min_agreement null: never)."""
    if min_agreement is None:
        return None
    figure = (point.get("agreement") or {}).get("agreement")
    if figure is None:
        return f"agreement unknown: {point.get('agreement_note') or 'not measured'}"
    if figure < min_agreement:
        return f"below min_agreement {min_agreement:g}: agreement {figure:.3f}"
    return None


def describe(agreement: dict | None) -> str:
    """The table cell: the agreement and the kind's own figures."""
    if not agreement or agreement.get("agreement") is None:
        return ""
    kind, figure = agreement["kind"], agreement["agreement"]
    if kind == "vectors":
        text = f"cos {agreement['mean_cosine']:.4f} (min {agreement['min_cosine']:.4f})"
    elif kind == "labels":
        text = f"labels {figure:.3f}"
    elif kind == "text":
        text = f"1-WER {figure:.3f}, exact {agreement['exact_match']:.2f}"
    else:
        text = f"exact {figure:.3f}"
    return text + (f", {agreement['rows_missing']} rows missing" if agreement.get("rows_missing") else "")


def metrics_of(point: dict) -> dict[str, float]:
    """The point's quality figures as flat MLflow metrics (agreement, agreement.mean_cosine, ...)."""
    figures = {}
    for key, value in (point.get("agreement") or {}).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            figures["agreement" if key == "agreement" else f"agreement.{key}"] = float(value)
    for key, value in (point.get("against_references") or {}).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            figures[f"vs_reference_column.{key}"] = float(value)
    return figures


def _predictions(sweep_dir: Path, point: dict) -> Path:
    """The point's predictions.jsonl: in its job folder, else where a resumed run wrote its rows (metrics.json's
    run_dir; the job folder first, so a sweep copied elsewhere reads its own files)."""
    own = sweep_dir / point["job"] / PREDICTIONS
    return own if own.is_file() or not point.get("run_dir") else Path(point["run_dir"]) / PREDICTIONS


def _config(job_dir: Path) -> dict | None:
    try:
        record = json.loads((job_dir / RECORD).read_text())
    except (OSError, ValueError):
        return None
    config = record.get("config") if isinstance(record, dict) else None
    return config if isinstance(config, dict) else None
