"""The fan-out report: medians over runs, ratios to the floor, the targets of
issue 3, a plain-text table and the JSON document."""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


def percentile(ordered: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 2)


TARGETS = ("chatapp", "floor")
METRICS = (
    # key, label, ratio to the floor?
    ("deliveries_per_s", "deliveries/s", True),
    ("latency_p50_ms", "latency p50 (ms)", True),
    ("latency_p99_ms", "latency p99 (ms)", True),
    ("latency_max_ms", "latency max (ms)", True),
    ("lost", "messages lost", False),
    ("duplicates", "duplicates", False),
    ("seq_gaps", "seq gaps", False),
    ("rss_per_socket_kib", "RSS per socket (KiB)", False),
    ("connect_s", "connect+subscribe (s)", True),
    ("sockets", "sockets subscribed", False),
    ("server_cpu_us_per_delivery", "server CPU us/delivery", True),
    ("server_cores_busy", "server cores busy", False),
    ("client_cores_busy", "client cores busy", False),
    ("other_cores_busy", "other cores busy", False),
)


def median(values: list[Any]) -> float | None:
    numbers = [v for v in values if isinstance(v, int | float)]
    if not numbers:
        return None
    middle = statistics.median(numbers)
    if all(isinstance(v, int) for v in numbers) and float(middle).is_integer():
        return int(middle)
    return round(middle, 2)


def ratio(ours: float | None, floor: float | None) -> float | None:
    if ours is None or floor is None or floor == 0:
        return None
    return round(ours / floor, 3)


def build_report(
    args: argparse.Namespace, runs: list[dict[str, Any]], raised_limits: dict[str, str]
) -> dict[str, Any]:
    medians: dict[str, dict[str, Any]] = {}
    for target in TARGETS:
        found = [run[target] for run in runs if target in run]
        if found:
            medians[target] = {key: median([r.get(key) for r in found]) for key, _, _ in METRICS}
    ours, floor = medians.get("chatapp", {}), medians.get("floor", {})
    ratios = {key: ratio(ours.get(key), floor.get(key)) for key, _, as_ratio in METRICS if as_ratio}
    lost_total = sum(
        run["chatapp"]["lost"] + run["chatapp"]["duplicates"] + run["chatapp"]["seq_gaps"]
        for run in runs
        if "chatapp" in run
    )
    checks: dict[str, bool | None] = {
        "deliveries_at_least_0.5x_floor": None
        if ratios.get("deliveries_per_s") is None
        else ratios["deliveries_per_s"] >= 0.5,  # type: ignore[operator]
        "p99_at_most_2x_floor": None
        if ratios.get("latency_p99_ms") is None
        else ratios["latency_p99_ms"] <= 2.0,  # type: ignore[operator]
        "nothing_lost": lost_total == 0 if "chatapp" in medians else None,
        "rss_per_socket_at_most_60_kib": None
        if ours.get("rss_per_socket_kib") is None
        else ours["rss_per_socket_kib"] <= 60,
    }
    return {
        "benchmark": "fanout",
        "config": {
            "url": args.url,
            "workers": None if args.url else args.workers,
            "clients": args.clients,
            "messages": args.messages,
            "rate": args.rate,
            "procs": args.procs,
            "repeat": args.repeat,
            "cores": os.cpu_count(),
            "database": "external (--url)" if args.url else database_label(),
            "redis": bool(os.environ.get("REDIS_URL")) if not args.url else None,
            "raised_limits": None if args.url else raised_limits,
        },
        "median": medians,
        "ratio": ratios,
        "targets": checks,
        "runs": runs,
    }


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


def render_table(report: dict[str, Any]) -> str:
    config = report["config"]
    ours = report["median"].get("chatapp", {})
    floor = report["median"].get("floor", {})
    lines = [
        f"fan-out: {config['clients']} sockets, {config['messages']} messages at "
        f"{config['rate']:g}/s, {config['procs']} client processes, "
        f"{config['workers'] or '?'} worker(s), {config['cores']} cores, "
        f"database {config['database']}, {config['repeat']} run(s): medians",
    ]
    if config["raised_limits"]:
        limits = ", ".join(f"{k}={v}" for k, v in config["raised_limits"].items())
        lines.append(f"server started with raised limits: {limits}")
    lines.append("")
    lines.append(f"{'metric':<24}{'chatapp':>14}{'floor':>14}{'ratio':>10}")
    for key, label, as_ratio in METRICS:
        shown = cell(report["ratio"].get(key)) if as_ratio else ""
        lines.append(f"{label:<24}{cell(ours.get(key)):>14}{cell(floor.get(key)):>14}{shown:>10}")
    lines.append("")
    wanted = {
        "deliveries_at_least_0.5x_floor": "deliveries/s >= 0.5 x floor",
        "p99_at_most_2x_floor": "p99 latency <= 2 x floor",
        "nothing_lost": "nothing lost (no loss, gap, duplicate)",
        "rss_per_socket_at_most_60_kib": "RSS per idle socket <= 60 KiB",
    }
    if report.get("discarded"):
        lines.append(
            f"note: {len(report['discarded'])} run(s) discarded and repeated: other programs "
            "were busy meanwhile (see 'discarded' in the JSON)"
        )
    busy_kept = sum(1 for run in report["runs"] if run.get("busy_kept"))
    if busy_kept:
        lines.append(
            f"warning: {busy_kept} run(s) kept although other programs were busy "
            "(--retries used up): the figures may be disturbed"
        )
    offered = report["median"].get("floor", {}).get("deliveries_per_s")
    if offered is not None and offered >= 0.95 * config["clients"] * config["rate"]:
        lines.append(
            "note: the floor kept up with the offered load (N x R a second), so the "
            "deliveries/s ratio compares with that load, not with the floor's capacity; "
            "server CPU us/delivery compares the cost."
        )
    for key, text in wanted.items():
        held = report["targets"][key]
        verdict = "n/a" if held is None else ("holds" if held else "FAILS")
        lines.append(f"target: {text:<42} {verdict}")
    return "\n".join(lines)
