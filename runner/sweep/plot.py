"""sweep.png: throughput and peak memory for each batch size that was swept, one colour per group.

The x axis is categorical: one tick per batch size the sweep holds (batch_size=auto as "auto (N)",
N the size it chose), so there is no tick without a point. Throughput is the p50 of the point's
repeats with min..max error bars. Points that gave no trustworthy figure (out of memory, skipped
after an OOM, too short to measure, failed) are drawn as a cross on the axis, labelled with why.
batch_size=auto's memory is left out of the memory panel: its peak includes the search's trials.
When the points were compared with a reference point (runner.sweep.quality), a third panel shows each
point's agreement with it, sweep.min_agreement as a dashed line, and the points the recommendation
passed over for it ringed in red.
"""

from __future__ import annotations

from pathlib import Path

from runner.sweep.recommend import label

MEMORY_LABELS = {"cuda_max_allocated": "CUDA max allocated (MB)", "peak_rss": "peak RSS (MB)"}
MARKS = {
    "oom": ("out of memory", "tab:red"),
    "skipped_after_oom": ("skipped after OOM", "tab:gray"),
    "too_short": ("too short to measure", "tab:orange"),
}
FAILED = ("failed", "black")
DODGE = 0.12  # groups at the same batch size sit side by side, this far apart on the axis


def write_plot(report, path: Path) -> None:
    import matplotlib.pyplot as plt

    figure = build_figure(report)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def prepare_matplotlib():
    """pyplot, drawing to files only (no display, no GUI toolkit)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def build_figure(report):
    plt = prepare_matplotlib()

    with_agreement = any(_agreement(p) is not None for p in report.points)
    figure, panels = plt.subplots(1, 3 if with_agreement else 2, figsize=(18 if with_agreement else 12, 4.6))
    speed, memory = panels[0], panels[1]
    plotted = [p for p in report.points if label(p) != "?"]  # a job that crashed before its batch size is known
    ticks = tick_labels(plotted)
    groups = list(dict.fromkeys(p["group"] for p in plotted))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    labelled: tuple[set, set] = (set(), set())  # (tick, why) written per panel: once, however many groups
    for index, group in enumerate(groups):
        points = [p for p in plotted if p["group"] == group]
        shift = (index - (len(groups) - 1) / 2) * DODGE
        _throughput(speed, points, ticks, shift, colors[index % len(colors)], group or _series_name(points))
        _memory(memory, points, ticks, shift, colors[index % len(colors)], group or "peak per point")
        if with_agreement:
            _agreement_points(panels[2], points, ticks, shift, colors[index % len(colors)], group or "agreement")
        _recommended(speed, points, [r for r in report.recommended if r["group"] == group], ticks, shift)
        _marks(
            speed,
            [p for p in points if p["status"] != "ok" or p["items_per_second"] is None],
            ticks,
            shift,
            labelled[0],
        )
        # a too-short point ran every row: its memory is a real figure, drawn as a point
        _marks(memory, [p for p in points if p["status"] not in ("ok", "too_short")], ticks, shift, labelled[1])
    sources = {p["peak_memory_source"] for p in report.points} - {None}
    _style(speed, ticks, "throughput (items/s)", "throughput: p50 of the repeats, bars min..max")
    _style(memory, ticks, MEMORY_LABELS[sources.pop()] if len(sources) == 1 else "peak memory (MB)", "peak memory")
    for tick in (t for t in ticks if t.startswith("auto")):
        memory.annotate(
            "not shown: its peak\nincludes the trials",
            (ticks.index(tick), 0),
            xytext=(0, 6),
            textcoords="offset points",
            fontsize=7,
            color="dimgray",
            ha="center",
            va="bottom",
        )
    if with_agreement:
        _agreement_style(panels[2], ticks, getattr(report, "min_agreement", None))
    for panel in panels:
        if panel.get_legend_handles_labels()[1]:  # a panel with nothing drawn (no memory figures) has no legend
            panel.legend(fontsize=8, loc="best")
    figure.tight_layout()
    return figure


def tick_labels(points: list[dict]) -> list[str]:
    """Every batch size the sweep holds, numeric sizes in order, then the auto points."""
    sizes = sorted({p["batch_size"] for p in points if p["batch_size"] is not None and label(p).isdigit()})
    autos = sorted({label(p) for p in points if not label(p).isdigit() and label(p) != "?"})
    return [str(size) for size in sizes] + autos


def _series_name(points: list[dict]) -> str:
    repeats = max((p["repeats"] or 0 for p in points), default=0)
    return f"p50 of {repeats} repeats" if repeats else "items/s"


def _recommended(axes, points, recommended: list[dict], ticks, shift) -> None:
    """A ring around the recommended point, or around each point within noise when none is clear."""
    for best in recommended:
        ringed = [p for p in points if p["status"] == "ok" and label(p) in best["within_noise"]]
        text = "recommended" if best["clear"] else "within noise (no clear winner)"
        legend = text if text not in axes.get_legend_handles_labels()[1] else None
        axes.scatter(
            [ticks.index(label(p)) + shift for p in ringed],
            [p["items_per_second"] for p in ringed],
            s=260,
            facecolors="none",
            edgecolors="green" if best["clear"] else "goldenrod",
            linewidths=1.8,
            zorder=4,
            label=legend,
        )


def _throughput(axes, points, ticks, shift, color, name) -> None:
    measured = [p for p in points if p["status"] == "ok" and p["items_per_second"] is not None]
    sized = [p for p in measured if label(p).isdigit()]
    xs = [ticks.index(label(p)) + shift for p in sized]
    if sized:  # the line joins the swept sizes; an auto point stands apart, as a diamond
        axes.plot(xs, [p["items_per_second"] for p in sized], color=color, alpha=0.5)
    for marker, chosen in (("o", sized), ("D", [p for p in measured if not label(p).isdigit()])):
        if chosen:
            axes.errorbar(
                [ticks.index(label(p)) + shift for p in chosen],
                [p["items_per_second"] for p in chosen],
                yerr=_bars(chosen),
                fmt=marker,
                color=color,
                capsize=4,
                label=name if marker == "o" or not sized else None,
            )


def _bars(points: list[dict]) -> list[list[float]]:
    below = [
        p["items_per_second"]
        - (p["items_per_second_min"] if p["items_per_second_min"] is not None else p["items_per_second"])
        for p in points
    ]
    above = [
        (p["items_per_second_max"] if p["items_per_second_max"] is not None else p["items_per_second"])
        - p["items_per_second"]
        for p in points
    ]
    return [below, above]


def _memory(axes, points, ticks, shift, color, name) -> None:
    shown = sorted(
        (
            (ticks.index(label(p)) + shift, p["peak_memory_mb"])
            for p in points
            if p["status"] in ("ok", "too_short") and p["peak_memory_mb"] is not None and label(p).isdigit()
        )
    )
    if shown:
        axes.plot([x for x, _ in shown], [y for _, y in shown], marker="o", color=color, label=name)


def _marks(axes, points, ticks, shift, labelled: set) -> None:
    """A cross on the axis for each of these points, its reason written once per tick and panel
    (`labelled` holds what is written already) and named in the legend."""
    for p in points:
        text, color = MARKS.get(p["status"], FAILED)
        legend = text if text not in axes.get_legend_handles_labels()[1] else None
        axes.scatter(
            [ticks.index(label(p)) + shift], [0], marker="x", s=80, color=color, zorder=3, clip_on=False, label=legend
        )
        if (label(p), text) not in labelled:
            labelled.add((label(p), text))
            axes.annotate(
                text,
                (ticks.index(label(p)), 0),
                xytext=(0, 8),
                textcoords="offset points",
                rotation=90,
                fontsize=7,
                color=color,
                ha="center",
                va="bottom",
            )


def _agreement(point: dict) -> float | None:
    return (point.get("agreement") or {}).get("agreement")


def _agreement_points(axes, points, ticks, shift, color, name) -> None:
    """Each compared point's agreement with the reference; those passed over for it ringed in red."""
    shown = sorted(
        (ticks.index(label(p)) + shift, _agreement(p), bool(p.get("excluded")))
        for p in points
        if _agreement(p) is not None and label(p) != "?"
    )
    if not shown:
        return
    axes.plot([x for x, _, _ in shown], [y for _, y, _ in shown], marker="o", color=color, label=name)
    passed = [(x, y) for x, y, excluded in shown if excluded]
    if passed:
        legend = "not recommended: below min_agreement"
        axes.scatter(
            [x for x, _ in passed],
            [y for _, y in passed],
            s=260,
            facecolors="none",
            edgecolors="tab:red",
            linewidths=1.8,
            zorder=4,
            label=legend if legend not in axes.get_legend_handles_labels()[1] else None,
        )


def _agreement_style(axes, ticks: list[str], threshold: float | None) -> None:
    _style(axes, ticks, "agreement with the reference point", "agreement (1 = the reference's answers)")
    low = min([line.get_ydata().min() for line in axes.get_lines()] + [threshold if threshold is not None else 1.0])
    axes.set_ylim(max(0.0, low - 0.05), 1.01)  # the differences that matter sit near 1
    if threshold is not None:
        axes.axhline(threshold, linestyle="--", color="tab:red", alpha=0.7, label=f"min_agreement {threshold:g}")


def _style(axes, ticks: list[str], ylabel: str, title: str) -> None:
    axes.set_xticks(range(len(ticks)), ticks)
    axes.set_xlim(-0.6, len(ticks) - 0.4)
    axes.set_xlabel("batch size")
    axes.set_ylabel(ylabel)
    axes.set_title(title, fontsize=10)
    axes.set_ylim(bottom=0)
    axes.grid(True, axis="y", alpha=0.3)
