"""Reports of the benchmarks: medians over runs, ratios to the floor, a
plain-text table per size and one row per size, and the JSON document.

Pure functions of the runs' figures; what a benchmark measures and which
targets it checks are its own (``fanout.py``, ``connect.py``).
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

TARGETS = ("chatapp", "floor")


class Metric(NamedTuple):
    key: str  # in each run's summary of one target
    label: str
    ratio: bool = False  # also shown as ours / floor's


def percentile(ordered: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 2)


def median(values: Sequence[Any]) -> float | None:
    """The median of the numbers among ``values`` (None when there are none); an
    integer when they all are and it is whole."""
    numbers = [v for v in values if isinstance(v, int | float)]
    if not numbers:
        return None
    middle = statistics.median(numbers)
    if all(isinstance(v, int) for v in numbers) and float(middle).is_integer():
        return int(middle)
    return round(middle, 2)


def ratio(ours: float | None, floor: float | None) -> float | None:
    """ours / floor, or None when either is missing or the floor is 0."""
    if ours is None or floor is None or floor == 0:
        return None
    return round(ours / floor, 3)


def medians(runs: Sequence[dict[str, Any]], metrics: Sequence[Metric]) -> dict[str, Any]:
    """Per target (ours, the floor), the median of each metric over ``runs``."""
    found: dict[str, dict[str, Any]] = {}
    for target in TARGETS:
        results = [run[target] for run in runs if target in run]
        if results:
            found[target] = {m.key: median([r.get(m.key) for r in results]) for m in metrics}
    return found


def ratios(median_of: dict[str, Any], metrics: Sequence[Metric]) -> dict[str, float | None]:
    ours, floor = median_of.get("chatapp", {}), median_of.get("floor", {})
    return {m.key: ratio(ours.get(m.key), floor.get(m.key)) for m in metrics if m.ratio}


def size_report(
    clients: int,
    runs: list[dict[str, Any]],
    discarded: list[dict[str, Any]],
    metrics: Sequence[Metric],
) -> dict[str, Any]:
    """The report of one size N; the benchmark adds its ``targets`` and ``notes``."""
    median_of = medians(runs, metrics)
    return {
        "clients": clients,
        "median": median_of,
        "ratio": ratios(median_of, metrics),
        "targets": {},
        "notes": [],
        "runs": runs,
        "discarded": discarded,
    }


def document(benchmark: str, config: dict[str, Any], sizes: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON report: the shared configuration, then one report per size."""
    return {"benchmark": benchmark, "config": config, "sizes": sizes}


def source_version() -> dict[str, Any] | None:
    """The commit of the code under test and the files changed on top of it."""
    root = Path(__file__).resolve().parents[3]
    if not (root / ".git").exists():
        return None
    try:
        head = _git(root, "rev-parse", "--short", "HEAD").strip()
        status = _git(root, "status", "--porcelain", "--", "src")
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head, "changed": [line[3:] for line in status.splitlines()]}


def _git(root: Path, *args: str) -> str:
    command = ["git", "-C", str(root), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=True)  # noqa: S603
    return done.stdout


def database_label() -> str:
    database = os.environ.get("DATABASE_URL", "")
    if not database:
        return "embedded"
    parts = urlsplit(database)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 5432}{parts.path}"


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and value.is_integer() and abs(value) >= 100:
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def render_size(
    size: dict[str, Any],
    *,
    heading: Sequence[str],
    metrics: Sequence[Metric],
    target_labels: dict[str, str],
) -> str:
    """One size: the heading, a row per metric (ours, floor, ratio), notes and targets."""
    ours = size["median"].get("chatapp", {})
    floor = size["median"].get("floor", {})
    width = max(24, *(len(label) + 2 for _, label, _ in metrics))
    lines = [*heading, "", f"{'metric':<{width}}{'chatapp':>14}{'floor':>14}{'ratio':>10}"]
    for key, label, as_ratio in metrics:
        shown = cell(size["ratio"].get(key)) if as_ratio else ""
        ours_cell, floor_cell = cell(ours.get(key)), cell(floor.get(key))
        lines.append(f"{label:<{width}}{ours_cell:>14}{floor_cell:>14}{shown:>10}")
    lines.append("")
    if size["discarded"]:
        lines.append(
            f"note: {len(size['discarded'])} run(s) discarded and repeated: other programs "
            "were busy meanwhile (see 'discarded' in the JSON)"
        )
    busy_kept = sum(1 for run in size["runs"] if run.get("busy_kept"))
    if busy_kept:
        lines.append(
            f"warning: {busy_kept} run(s) kept although other programs were busy "
            "(--retries used up): the figures may be disturbed"
        )
    lines += [f"note: {note}" for note in size["notes"]]
    for key, text in target_labels.items():
        held = size["targets"].get(key)
        verdict = "n/a" if held is None else ("holds" if held else "FAILS")
        lines.append(f"target: {text:<42} {verdict}")
    return "\n".join(lines)


def render_sizes(sizes: Sequence[dict[str, Any]], metrics: Sequence[Metric]) -> str:
    """One row per size N: each metric as ``ours / floor's (ratio)``."""
    header = ["N", *(m.label for m in metrics)]
    rows = [header]
    for size in sizes:
        ours = size["median"].get("chatapp", {})
        floor = size["median"].get("floor", {})
        row = [cell(size["clients"])]
        for key, _, as_ratio in metrics:
            text = f"{cell(ours.get(key))} / {cell(floor.get(key))}"
            if as_ratio:
                text += f" ({cell(size['ratio'].get(key))}x)"
            row.append(text)
        rows.append(row)
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = ["by size (medians: chatapp / floor, ratio)"]
    for row in rows:
        lines.append("  ".join(text.rjust(width) for text, width in zip(row, widths, strict=True)))
    return "\n".join(lines)
