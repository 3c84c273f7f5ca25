"""``--plot FILE.png``: the report's figures against N, ours beside the floor's.

One panel per group of metrics (latency p50 and p99 in one, server CPU in
another …); ours in solid lines, the floor's dashed, one colour per metric.
matplotlib comes with the optional ``bench`` extra and is imported only here,
so the benchmarks run without it when no plot is asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chatapp.bench import BenchError
from chatapp.bench.report import TARGETS, Metric

Panel = tuple[str, tuple[Metric, ...]]  # title, metrics drawn in it
STYLES = {"chatapp": ("-", "o", "chatapp"), "floor": ("--", "s", "floor")}


def series(sizes: Sequence[dict[str, Any]], target: str, key: str) -> tuple[list[int], list[float]]:
    """(N, median) of one metric of one target, by increasing N, sizes without it left out."""
    points = sorted(
        (size["clients"], value)
        for size in sizes
        if isinstance(value := size["median"].get(target, {}).get(key), int | float)
    )
    return [n for n, _ in points], [float(v) for _, v in points]


def plot_sizes(
    path: str, benchmark: str, sizes: Sequence[dict[str, Any]], panels: Sequence[Panel]
) -> Any:
    """Draw ``panels`` side by side into the PNG at ``path``; returns the figure."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:  # checked before the run; this is the last guard
        raise BenchError("--plot needs matplotlib: pip install 'chatapp[bench]'") from exc

    figure = Figure(figsize=(5.5 * len(panels), 4.2), layout="constrained")
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for ax, (title, metrics) in zip(axes, panels, strict=True):
        for index, metric in enumerate(metrics):
            colour = f"C{index}"
            for target in TARGETS:
                xs, ys = series(sizes, target, metric.key)
                if not xs:
                    continue
                line, marker, name = STYLES[target]
                label = f"{name} {metric.label}" if len(metrics) > 1 else name
                ax.plot(xs, ys, linestyle=line, marker=marker, color=colour, label=label)
        ax.set_title(title)
        ax.set_xlabel("N (sockets)")
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    figure.suptitle(f"chatapp bench {benchmark}: medians against N")
    figure.savefig(path, dpi=120)
    return figure
