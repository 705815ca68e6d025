"""sweep.png: throughput and peak memory against batch size, one line per combination of the other
swept overrides, out-of-memory points marked with an x on the axis at their batch size."""
from __future__ import annotations

from pathlib import Path

MEMORY_LABELS = {"cuda_max_allocated": "CUDA max allocated (MB)", "peak_rss": "peak RSS (MB)"}


def write_plot(report, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, no GUI toolkit
    import matplotlib.pyplot as plt

    figure, (speed, memory) = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    groups = list(dict.fromkeys(p["group"] for p in report.points))
    for index, group in enumerate(groups):
        points = [p for p in report.points if p["group"] == group and p["batch_size"] is not None]
        color, label = colors[index % len(colors)], group or "all points"
        _line(speed, points, "items_per_second", color, label)
        _line(memory, points, "peak_memory_mb", color, label)
        ooms = [p["batch_size"] for p in points if p["status"] == "oom"]
        for axes in (speed, memory):
            axes.scatter(ooms, [0] * len(ooms), marker="x", s=70, color=color, zorder=3, clip_on=False)
    sources = {p["peak_memory_source"] for p in report.points} - {None}
    sizes = sorted({p["batch_size"] for p in report.points if p["batch_size"] is not None})
    _style(speed, sizes, "throughput (items/s)", "throughput")
    _style(memory, sizes, MEMORY_LABELS[sources.pop()] if len(sources) == 1 else "peak memory (MB)", "peak memory")
    if any(p["status"] == "oom" for p in report.points):
        speed.scatter([], [], marker="x", color="black", label="out of memory")
    speed.legend(fontsize=8, loc="best")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _line(axes, points: list[dict], key: str, color: str, label: str) -> None:
    ok = sorted((p["batch_size"], p[key]) for p in points if p["status"] == "ok" and p[key] is not None)
    if ok:
        axes.plot([x for x, _ in ok], [y for _, y in ok], marker="o", color=color, label=label)


def _style(axes, sizes: list[int], ylabel: str, title: str) -> None:
    from matplotlib.ticker import NullLocator

    axes.set_xscale("log", base=2)
    if sizes:  # one labelled tick per batch size that ran, as plain integers
        axes.set_xticks(sizes, [str(s) for s in sizes])
        axes.xaxis.set_minor_locator(NullLocator())
        axes.set_xlim(sizes[0] / 1.4, sizes[-1] * 1.4)
    axes.set_xlabel("batch size")
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.set_ylim(bottom=0)
    axes.grid(True, alpha=0.3)
