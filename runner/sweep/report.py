"""Write the sweep report next to the job folders: sweep.csv, sweep.json, sweep.md and sweep.png."""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from runner.core.extras import install_hint
from runner.sweep.points import BATCH_KEY, annotate, common_overrides, find_job_dirs, read_point
from runner.sweep.quality import annotate_agreement, describe, settings_of
from runner.sweep.recommend import NOISE_FLOOR, label, recommend, sentence

log = logging.getLogger(__name__)

CSV_COLUMNS = (
    "job",
    "overrides",
    "group",
    "status",
    "exit_code",
    "batch_size",
    "batch_size_requested",
    "items_per_second",
    "items_per_second_min",
    "items_per_second_max",
    "items_per_second_spread",
    "repeats",
    "tokens_per_second",
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_p99_ms",
    "peak_memory_mb",
    "peak_memory_source",
    "peak_rss_mb",
    "cuda_max_allocated_mb",
    "cuda_max_reserved_mb",
    "model_load_seconds",
    "model_reused",
    "rows_out",
    "rows_error",
    "speedup_vs_batch1",
    "autobatch_trials",
    "autobatch_stopped_by",
    "too_short_reason",
    "error",
    "is_reference",
    "agreement",
    "agreement_kind",
    "mean_cosine",
    "min_cosine",
    "label_agreement",
    "wer",
    "exact_match",
    "agreement_rows",
    "agreement_rows_missing",
    "agreement_note",
    "reference_column_accuracy",
    "reference_column_wer",
    "excluded",
)
AGREEMENT_FIGURES = ("mean_cosine", "min_cosine", "label_agreement", "wer", "exact_match")


@dataclass
class Report:
    sweep_dir: Path
    points: list[dict]
    swept: list[str]
    common: list[str]
    recommended: list[dict]
    # runner.sweep.quality: {reference (job), measured, note, min_agreement (None: not applied)}
    quality: dict = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    @property
    def min_agreement(self) -> float | None:
        return self.quality.get("min_agreement")

    def summary_lines(self) -> list[str]:
        """What the end of a sweep prints: the recommendation(s) and where the report is."""
        if not self.recommended:
            why = "ok with enough agreement" if any(p.get("excluded") for p in self.points) else "ok"
            return [f"sweep report: no point finished {why}; see {self.sweep_dir / 'sweep.md'}"]
        lines = [
            f"recommended batch size{' for ' + best['group'] if best['group'] else ''}: {sentence(best)}"
            for best in self.recommended
        ]
        excluded = [p for p in self.points if p.get("excluded")]
        if excluded:
            lines.append(
                f"not recommended, answers differ from the reference (job {self.quality.get('reference')}): "
                + "; ".join(f"{p['group'] or p['job']} batch {label(p)}: {p['excluded']}" for p in excluded)
            )
        return lines + [f"sweep report: {self.sweep_dir / 'sweep.md'}"]


def build_report(sweep_dir: str | Path) -> Report:
    sweep_dir = Path(sweep_dir)
    job_dirs = find_job_dirs(sweep_dir)
    points = [read_point(job, sweep_dir) for job in job_dirs]
    swept = annotate(points)
    settings = settings_of(job_dirs)
    quality = annotate_agreement(points, sweep_dir, settings)  # in job order: the first job is the default reference
    quality["min_agreement"] = settings["min_agreement"] if quality["measured"] else None
    points.sort(key=lambda p: (p["group"], p["batch_size"] is None, p["batch_size"] or 0))
    return Report(
        sweep_dir, points, swept, common_overrides(points, swept), recommend(points, quality["min_agreement"]), quality
    )


def write_report(sweep_dir: str | Path, plotter=None) -> Report:
    """Read every job of the sweep and write the four report files into sweep_dir.
    `plotter`: a runner.sweep.plot_worker.PlotWorker started with the sweep, which draws sweep.png;
    without one, or when it fails, the figure is drawn here."""
    report = build_report(sweep_dir)
    out = report.sweep_dir
    write_csv(report, out / "sweep.csv")
    write_json(report, out / "sweep.json")
    (out / "sweep.md").write_text(markdown(report))
    report.files = [out / "sweep.csv", out / "sweep.json", out / "sweep.md"]
    if plotter is not None and plotter.draw(report, out / "sweep.png"):
        report.files.append(out / "sweep.png")
        return report
    try:
        from runner.sweep.plot import write_plot

        write_plot(report, out / "sweep.png")
        report.files.append(out / "sweep.png")
    except ImportError as error:  # matplotlib is the optional [report] extra; the tables do not need it
        log.warning("sweep.png not written (%s); %s", error, install_hint("matplotlib"))
    return report


def write_csv(report: Report, path: Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for point in report.points:
            autobatch = point["autobatch"] or {}
            trials = autobatch.get("trials")
            writer.writerow(
                {
                    **point,
                    "overrides": _overrides_text(point),
                    "autobatch_trials": len(trials) if trials else None,
                    "autobatch_stopped_by": autobatch.get("stopped_by"),
                    **_agreement_columns(point),
                }
            )


def _agreement_columns(point: dict) -> dict:
    """The agreement dict and the reference-column scores, flat for the CSV."""
    agreement, scored = point.get("agreement") or {}, point.get("against_references") or {}
    return {
        "agreement": agreement.get("agreement"),
        "agreement_kind": agreement.get("kind"),
        **{name: agreement.get(name) for name in AGREEMENT_FIGURES},
        "agreement_rows": agreement.get("rows"),
        "agreement_rows_missing": agreement.get("rows_missing"),
        "reference_column_accuracy": scored.get("accuracy"),
        "reference_column_wer": scored.get("wer"),
    }


def write_json(report: Report, path: Path) -> None:
    document = {
        "sweep_dir": str(report.sweep_dir),
        "swept_keys": report.swept,
        "common_overrides": report.common,
        "recommended": report.recommended,
        "quality": report.quality,
        "points": report.points,
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")


def markdown(report: Report) -> str:
    points = report.points
    counts = {s: sum(p["status"] == s for p in points) for s in dict.fromkeys(p["status"] for p in points)}
    lines = [
        "# Sweep report",
        "",
        f"{len(points)} points in `{report.sweep_dir}`: " + ", ".join(f"{n} {s}" for s, n in counts.items()) + ".",
    ]
    if report.common:
        lines.append(f"Common overrides: `{' '.join(report.common)}`.")
    lines += ["", *_table(report), "", *_notes(report), "", *_recommendation_lines(report), *_auto_trials(report)]
    return "\n".join(lines) + "\n"


def _table(report: Report) -> list[str]:
    with_tokens = any(p["tokens_per_second"] is not None for p in report.points)
    with_agreement = report.quality.get("measured", False)
    with_scores = any(p.get("against_references") for p in report.points)
    header = [
        "overrides",
        "status",
        "batch size",
        "items/s (p50)",
        "min..max",
        "spread",
        *(["tokens/s"] if with_tokens else []),
        "p50 ms",
        "p99 ms",
        "peak memory MB",
        "speedup vs batch 1",
        *(["agreement"] if with_agreement else []),
        *(["vs reference column"] if with_scores else []),
    ]
    rows = ["| " + " | ".join(header) + " |", "|" + "|".join(["---", "---"] + ["---:"] * (len(header) - 2)) + "|"]
    for p in report.points:
        cells = [
            _cell(_label(p, report.swept)),
            p["status"].replace("_", " "),
            _batch_cell(p),
            _number(p["items_per_second"], 1),
            _range(p),
            "" if p["items_per_second_spread"] is None else f"{100 * p['items_per_second_spread']:.0f}%",
            *([_number(p["tokens_per_second"], 1)] if with_tokens else []),
            _number(p["latency_p50_ms"], 2),
            _number(p["latency_p99_ms"], 2),
            _number(p["peak_memory_mb"], 1),
            f"{p['speedup_vs_batch1']:.2f}x" if p["speedup_vs_batch1"] is not None else "",
            *([_agreement_cell(p)] if with_agreement else []),
            *([_scores_cell(p.get("against_references"))] if with_scores else []),
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def _agreement_cell(point: dict) -> str:
    """The figure against the reference point, the reference itself named, a point passed over in bold."""
    if point.get("is_reference"):
        return "reference"
    text = describe(point.get("agreement")) or _cell(point.get("agreement_note") or "")
    return f"**{text}** (not recommended)" if point.get("excluded") else text


def _scores_cell(scored: dict | None) -> str:
    if not scored:
        return ""
    if scored.get("accuracy") is not None:
        return f"accuracy {scored['accuracy']:.3f}"
    return "" if scored.get("wer") is None else f"WER {scored['wer']:.3f}"


def _label(point: dict, swept: list[str]) -> str:
    """The overrides that tell points apart (the batch size when only one point ran)."""
    keys = swept or [k for k in (BATCH_KEY,) if k in point["overrides"]]
    return " ".join(f"{k}={point['overrides'].get(k)}" for k in keys) or point["job"]


def _batch_cell(point: dict) -> str:
    size = "" if point["batch_size"] is None else str(point["batch_size"])
    if point["batch_size_requested"] == "auto":
        trials = len((point["autobatch"] or {}).get("trials") or [])
        return f"{label(point)}, {trials} trials" if size else "auto"
    return size


def _range(point: dict) -> str:
    low, high = point["items_per_second_min"], point["items_per_second_max"]
    return "" if low is None or high is None else f"{low:,.1f}..{high:,.1f}"


def _notes(report: Report) -> list[str]:
    points = report.points
    notes = []
    if any(p["status"] == "oom" for p in points):
        notes.append("- **oom**: the point ran out of memory at that batch size; the sweep went on.")
    skipped = [p for p in points if p["status"] == "skipped_after_oom"]
    if skipped:
        sizes = ", ".join(f"{p['batch_size']}" + (f" ({p['group']})" if p["group"] else "") for p in skipped)
        notes.append(
            f"- **skipped_after_oom**: batch size {sizes} not run, because a smaller batch size with "
            "the same other overrides already ran out of memory."
        )
    for p in points:
        if p["status"] == "too_short":
            notes.append(
                f"- **too short** ({_cell(_label(p, report.swept))}): {_cell(p['too_short_reason'] or '')}. "
                "Its figures are shown but never compared; raise the rows, or lower bench.min_batches, "
                "bench.min_seconds or bench.repeats."
            )
        elif p["status"] == "rows_failed":
            notes.append(
                f"- **rows failed** in job {p['job']} ({_cell(_label(p, report.swept))}): {p['rows_error']} rows "
                f"failed, beyond max_error_fraction (exit code {p['exit_code']}); its figures are shown but "
                "never recommended; see errors.jsonl in its folder."
            )
        elif p["status"] not in ("ok", "oom", "skipped_after_oom"):
            reason = p["error"] or "no metrics.json: the job failed; see its run.log"
            notes.append(f"- **{p['status']}** in job {p['job']}: {_cell(reason)}")
    failed = [p for p in points if p["status"] == "ok" and p["rows_error"]]
    if failed:
        listed = "; ".join(f"{_label(p, report.swept)}: {p['rows_error']}" for p in failed)
        notes.append(
            f"- **Rows failed** ({_cell(listed)}): see errors.jsonl in those jobs' folders; "
            "items/s counts only the rows that ran."
        )
    sources = {p["peak_memory_source"] for p in points} - {None}
    memory = {"cuda_max_allocated": "CUDA max allocated", "peak_rss": "the process's peak RSS"}
    if sources:
        notes.append(
            "- Peak memory: "
            + " or ".join(memory[s] for s in sorted(sources))
            + (" (CUDA max allocated where the point ran on a GPU)." if len(sources) > 1 else ".")
        )
    if any(p["batch_size_requested"] == "auto" and p["peak_memory_mb"] is not None for p in points):
        notes.append(
            "- Peak memory of a `batch_size=auto` point includes its trials, which may have run larger "
            "batches than the one it chose (the plot leaves it out)."
        )
    if any(p["repeats"] for p in points):
        notes.append(
            "- items/s: the p50 of the point's repeats (bench.repeats timed passes, warm-up excluded); "
            "min..max and spread ((max - min) / p50) over the same repeats."
        )
    notes.append("- Speedup: items/s over the ok batch-1 point with the same other overrides.")
    return notes + _quality_notes(report)


KIND_NOTES = {
    "vectors": "cos = the mean cosine similarity of each row's embedding to the reference's, min beside it",
    "labels": "labels = the share of rows with the same top label",
    "text": "1-WER of the text against the reference's, and the share of rows that match exactly",
    "exact": "exact = the share of rows whose output is equal (scores rounded to 3 decimals)",
}


def _quality_notes(report: Report) -> list[str]:
    """How the agreement column reads, and which points the recommendation passed over, and why."""
    quality = report.quality
    if not quality.get("measured"):
        return [f"- Agreement {quality.get('note') or 'not measured'}; the recommendation is on speed alone."]
    if quality.get("reference") is None:
        return [
            f"- **Agreement not measured**: {_cell(quality.get('note') or '')}. Nothing is recommended "
            "while sweep.min_agreement is set; fix sweep.reference, or set sweep.min_agreement=null."
        ]
    reference = next(p for p in report.points if p.get("is_reference"))
    threshold = report.min_agreement
    kinds = [kind for kind in dict.fromkeys((p.get("agreement") or {}).get("kind") for p in report.points) if kind]
    notes = [
        f"- Agreement: each point's outputs against those of the reference point "
        f"`{_cell(_label(reference, report.swept))}` (job {reference['job']}, sweep.reference), row by row: "
        + "; ".join(KIND_NOTES[kind] for kind in kinds)
        + ". "
        + (
            f"The recommendation only picks points with agreement >= sweep.min_agreement ({threshold:g})."
            if threshold is not None
            else "sweep.min_agreement is null: the recommendation is on speed alone."
        )
    ]
    if any(p.get("against_references") for p in report.points):
        notes.append(
            "- vs reference column: accuracy or WER against the dataset's reference column (dataset.fields.reference)."
        )
    for p in report.points:
        if p.get("excluded"):
            notes.append(f"- **Not recommended** ({_cell(_label(p, report.swept))}): {_cell(p['excluded'])}.")
    return notes


def _recommendation_lines(report: Report) -> list[str]:
    if not report.recommended:
        why = (
            "no point finished ok with agreement >= sweep.min_agreement"
            if any(p.get("excluded") for p in report.points)
            else "no point finished ok"
        )
        return [f"**Recommended batch size:** none ({why})."]
    rule = (
        f"the highest items/s (p50) among ok points, when it beats every repeat of every other point by more "
        f"than {NOISE_FLOOR:.0%}; otherwise the points within noise of it, and the smallest of them if forced"
    )
    if report.min_agreement is not None:
        rule = rule.replace("among ok points", f"among ok points with agreement >= {report.min_agreement:g}")
    if len(report.recommended) == 1 and not report.recommended[0]["group"]:
        return [f"**Recommended batch size:** {sentence(report.recommended[0])}.", "", f"({rule}.)"]
    lines = [f"**Recommended batch size** ({rule}), per group:", ""]
    lines += [f"- `{best['group']}`: {sentence(best)}" for best in report.recommended]
    picked = {best["group"] for best in report.recommended}
    passed_over = dict.fromkeys(p["group"] for p in report.points if p.get("excluded") and p["group"] not in picked)
    lines += [
        f"- `{group}`: none (every ok point is below sweep.min_agreement or has no agreement)" for group in passed_over
    ]
    return lines


def _auto_trials(report: Report) -> list[str]:
    """batch_size=auto's trials, each point's apart: trials, not sweep points."""
    lines = []
    for p in report.points:
        autobatch = p["autobatch"] or {}
        if not autobatch.get("trials"):
            continue
        lines += [
            "",
            f"## batch_size=auto trials ({_cell(_label(p, report.swept))})",
            "",
            f"Chose {autobatch.get('batch_size')}; the growing stopped at the "
            f"{_STOPPED.get(autobatch.get('stopped_by'), 'largest size tried')}. One timed batch of the "
            "longest rows per size (its second run); not a measured point.",
            "",
            "| batch size | status | items/s | seconds |",
            "|---:|---|---:|---:|",
        ]
        lines += [
            f"| {t.get('batch_size', '')} | {t.get('status', '')} | {_number(t.get('items_per_second'), 1)} | "
            f"{_number(t.get('seconds'), 4)} |"
            for t in autobatch["trials"]
            if t.get("batch_size")
        ]
    return lines


_STOPPED = {
    "plateau": "throughput plateau (larger sizes did not beat the best by more than 5%)",
    "rows": "number of rows in the data",
    "max_batch_size": "bench.max_batch_size bound",
    "oom": "out-of-memory limit",
}


def _overrides_text(point: dict) -> str:
    return " ".join(point["override_args"])


def _number(value, digits: int) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")
