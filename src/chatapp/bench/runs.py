"""The run loop every benchmark shares.

For each size N in turn, ``--repeat`` runs; a run starts a fresh ``chatapp
serve`` (or uses ``--url``), makes sure there are enough users, measures it,
stops it, then measures the floor under the same clients. A run during which
other programs kept more than ``--max-other-cores`` busy is discarded and run
again, at most ``--retries`` times per size. Then the report: a table per size,
a row per size, the JSON, and with ``--plot`` the figures against N.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from chatapp.bench import say
from chatapp.bench.options import layer_env
from chatapp.bench.plot import Panel
from chatapp.bench.procs import (
    Server,
    fds_wanted,
    raise_fd_limit,
    start_chatapp,
    start_floor,
    stop_server,
)
from chatapp.bench.report import (
    TARGETS,
    Metric,
    database_label,
    document,
    render_size,
    render_sizes,
    size_report,
    source_version,
)
from chatapp.bench.users import cache_key, ensure_sessions


class Benchmark(ABC):
    """What one benchmark measures; ``run_sizes`` does the rest."""

    name: str  # the word after `chatapp bench`
    metrics: tuple[Metric, ...]  # the table of one size, in order
    headline: tuple[Metric, ...]  # the row of one size in the table by size
    targets: dict[str, str]  # check key -> what it checks
    plots: tuple[Panel, ...]  # the panels of --plot: a title and the metrics drawn in it
    raised_limits: dict[str, str] = {}  # settings of the started server

    @abstractmethod
    def users(self, clients: int) -> int:
        """Sessions a run with ``clients`` sockets needs."""

    @abstractmethod
    async def run_target(
        self, server: Server, cookies: list[str], args: argparse.Namespace, clients: int
    ) -> dict[str, Any]:
        """Measure one server (ours or the floor) with ``clients`` sockets."""

    @abstractmethod
    def progress(self, result: dict[str, Any]) -> str:
        """A line of one target's result, for stderr."""

    @abstractmethod
    def heading(self, config: dict[str, Any], clients: int) -> list[str]:
        """The first lines of one size's table."""

    def config(self, args: argparse.Namespace) -> dict[str, Any]:
        """The benchmark's own options, for the report."""
        return {}

    @abstractmethod
    def judge(self, size: dict[str, Any], config: dict[str, Any]) -> None:
        """Fill ``size["targets"]`` (key -> holds, or None) and ``size["notes"]``."""


def common_config(bench: Benchmark, args: argparse.Namespace) -> dict[str, Any]:
    return {
        "url": args.url,
        "workers": None if args.url else args.workers,
        "layer": args.layer,
        "auth": args.auth,
        "redis": _redis_label() if args.layer == "redis" else None,
        "clients": args.clients,
        "procs": args.procs,
        "repeat": args.repeat,
        "cores": os.cpu_count(),
        "database": "external (--url)" if args.url else database_label(),
        "raised_limits": None if args.url else bench.raised_limits or None,
        **bench.config(args),
    }


def _redis_label() -> str:
    parts = urlsplit(layer_env(dict(os.environ), "redis")["REDIS_URL"])
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path}"


def start_ours(bench: Benchmark, args: argparse.Namespace, log_dir: Path, label: str) -> Server:
    env = layer_env(dict(os.environ), args.layer)
    env.update(bench.raised_limits)
    env["LOG_LEVEL"] = "WARNING"
    say(f"starting chatapp serve ({args.workers} worker(s), {args.layer} layer)")
    return start_chatapp(
        env=env,
        log_path=log_dir / f"chatapp-{label}.log",
        args=["--workers", str(args.workers), "--migrate", "--log-level", "warning"],
    )


def _sessions(server: Server, args: argparse.Namespace, count: int) -> list[str]:
    return asyncio.run(
        ensure_sessions(
            server.base,
            count,
            cache_path=args.sessions,
            key=cache_key(args.url),
            concurrency=args.register_concurrency,
            # A server the bench started runs on DATABASE_URL: make its users there.
            seed=not args.url and bool(os.environ.get("DATABASE_URL")),
            auth=args.auth,
        )
    )


def _server(bench: Benchmark, args: argparse.Namespace, log_dir: Path, label: str) -> Server:
    if args.url:
        return Server("chatapp", args.url.rstrip("/"), args.server_pid)
    return start_ours(bench, args, log_dir, label)


def run_size(
    bench: Benchmark, args: argparse.Namespace, clients: int, log_dir: Path
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``--repeat`` kept runs of one size, and the discarded ones."""
    runs: list[dict[str, Any]] = []
    discarded: list[dict[str, Any]] = []
    cookies: list[str] = []
    for attempt in range(args.repeat + args.retries):
        if len(runs) == args.repeat:
            break
        run = len(runs)
        label = f"n{clients}-{attempt}"
        say(f"N = {clients}: run {run + 1} of {args.repeat} (attempt {attempt + 1})")
        record: dict[str, Any] = {"source": source_version()}
        server = _server(bench, args, log_dir, label)
        try:
            if not cookies or not args.url:
                # Checked on every fresh server too: the same HTTP warm-up before
                # each RSS baseline.
                cookies = _sessions(server, args, bench.users(clients))
            record["chatapp"] = asyncio.run(bench.run_target(server, cookies, args, clients))
        finally:
            stop_server(server)
        if not args.skip_floor:
            say("starting the floor")
            floor = start_floor(env=dict(os.environ), log_path=log_dir / f"floor-{label}.log")
            try:
                record["floor"] = asyncio.run(bench.run_target(floor, cookies, args, clients))
            finally:
                stop_server(floor)
        for name in TARGETS:
            if name in record:
                say(f"N = {clients}, run {run + 1}, {name}: {bench.progress(record[name])}")
        busy = max(
            (record[name].get("other_cores_busy") or 0.0 for name in TARGETS if name in record),
            default=0.0,
        )
        if busy > args.max_other_cores:
            if len(discarded) < args.retries:
                say(
                    f"other programs kept {busy:.2f} cores busy during this run "
                    f"(over --max-other-cores {args.max_other_cores:g}): discarded, run again"
                )
                discarded.append(record)
                continue
            say(f"other programs kept {busy:.2f} cores busy; no retries left: kept")
            record["busy_kept"] = True
        runs.append(record)
    return runs, discarded


def setup_only(bench: Benchmark, args: argparse.Namespace, log_dir: Path) -> None:
    server = _server(bench, args, log_dir, "setup")
    try:
        cookies = _sessions(server, args, bench.users(max(args.clients)))
    finally:
        stop_server(server)
    say(f"{len(cookies)} users ready; --setup-only: stopping here")


def run_sizes(bench: Benchmark, args: argparse.Namespace) -> dict[str, Any] | None:
    """Every size in turn; prints the report and returns it (None with --setup-only)."""
    if args.url and urlsplit(args.url).hostname not in {"127.0.0.1", "localhost", "::1"}:
        say("warning: --url is not on loopback")
    raise_fd_limit(fds_wanted(max(args.clients), args.procs))
    log_dir = Path(args.log_dir or tempfile.mkdtemp(prefix="chatapp-bench-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    say(f"server logs in {log_dir}")
    if args.setup_only:
        setup_only(bench, args, log_dir)
        return None
    config = common_config(bench, args)
    sizes: list[dict[str, Any]] = []
    for clients in args.clients:
        runs, discarded = run_size(bench, args, clients, log_dir)
        size = size_report(clients, runs, discarded, bench.metrics)
        bench.judge(size, config)
        sizes.append(size)
    report = document(bench.name, config, sizes)
    tables = [
        render_size(
            size,
            heading=bench.heading(config, size["clients"]),
            metrics=bench.metrics,
            target_labels=bench.targets,
        )
        for size in sizes
    ]
    if len(sizes) > 1:
        tables.append(render_sizes(sizes, bench.headline))
    print("\n\n".join(tables))
    print()
    print(json.dumps(report, indent=2))
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(report, indent=2) + "\n")
        say(f"JSON report written to {args.json_path}")
    if args.plot:
        from chatapp.bench.plot import plot_sizes  # matplotlib, only when asked for

        plot_sizes(args.plot, bench.name, sizes, bench.plots)
        say(f"figures drawn in {args.plot}")
    return report


def describe_run(config: dict[str, Any]) -> str:
    """The server side of a heading: workers, layer, cores, database, runs."""
    workers = config["workers"] or "?"
    layer = f"{config['layer']} layer" if config["layer"] else "layer of --url"
    auth = "API tokens" if config.get("auth") == "token" else "session cookies"
    return (
        f"{workers} worker(s), {layer}, {auth}, {config['cores']} cores, "
        f"database {config['database']}, {config['repeat']} run(s): medians"
    )


def limits_line(config: dict[str, Any]) -> list[str]:
    if not config["raised_limits"]:
        return []
    limits = ", ".join(f"{k}={v}" for k, v in config["raised_limits"].items())
    return [f"server started with raised limits: {limits}"]
