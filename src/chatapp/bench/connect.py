"""``chatapp bench connect``: a connect storm, what users meet when everyone
comes back at once (a deploy, a network blip).

One run, against our server and then against the floor, with the same clients
(``runs.py`` repeats it for each size N of ``--clients`` and ``--repeat``):

1. Start ``chatapp serve --migrate`` as the fan-out does (``--layer``,
   ``--workers``), or use ``--url``; make sure N+1 users have sessions.
2. One warm-up socket connects and subscribes (the server's first socket pays
   for what every later one shares); the server's RSS, once it is idle, is the
   baseline.
3. P client processes (``storm.py``) each arm their share of the N sockets;
   at one instant they all start: TCP connect, handshake with the session cookie
   and Origin, ``hello``, ``subscribe`` to the Lobby, ``subscribed``. Connects
   the server did not take are retried with a bounded backoff.
4. Figures: connects/s (subscribed sockets over the time from the first TCP
   connect to the last ``subscribed``); per socket, the latency from the start
   of its first TCP connect to its ``subscribed`` (p50, p99, max; retries
   included, since a user waits through them), and its phases; attempts
   refused and sockets retried or failed; server CPU per connect; and, once
   the server is idle again with every socket open, RSS per idle subscribed
   socket. Ours as ratios of the floor's.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from chatapp.bench import say
from chatapp.bench.clients import ClientPool, chunks
from chatapp.bench.options import check_common, common_parser
from chatapp.bench.procs import (
    CpuReading,
    Server,
    cpu_use,
    listen_overflows,
    quiesce,
    read_cpu,
    tree_rss_kib,
)
from chatapp.bench.receivers import OPEN_LIMIT
from chatapp.bench.report import Metric, cell, ms, percentile
from chatapp.bench.runs import Benchmark, describe_run, limits_line, run_sizes
from chatapp.bench.storm import CLOSE_LIMIT, StormConfig, storm_process
from chatapp.bench.wsclient import BENCH_SOCKET_OPTIONS, open_lobby

PROG = "chatapp bench connect"
ARM_LIMIT = 120.0  # s for the client processes to start and arm
GO_DELAY = 0.5  # s from the go to the instant every process starts connecting


def parser() -> argparse.ArgumentParser:
    p = common_parser(
        PROG,
        "A connect storm: N sockets open at once through the real connect path; "
        "connects/s, connect latency, refusals and RSS per idle socket, against a "
        "bare ASGI server (the floor).",
        clients="2000",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="s from the start until every socket must be subscribed (default: %(default)s)",
    )
    p.add_argument(
        "--connect-retries",
        type=int,
        default=10,
        help="further attempts of a connect the server did not take: refused, reset, "
        "dropped, 5xx/429, closed 1011-1013 (default: %(default)s)",
    )
    p.add_argument(
        "--backoff-max",
        type=float,
        default=2.0,
        help="s, the longest wait between two attempts of one socket; the first is "
        "0.05 s, doubled each time, with jitter (default: %(default)s)",
    )
    return p


def _merged(results: Sequence[dict[str, Any]], key: str) -> list[float]:
    values: array.array[float] = array.array("d")
    for result in results:
        values.frombytes(result[key])
    return sorted(values)


def summarize(
    name: str,
    results: Sequence[dict[str, Any]],
    closed: Sequence[dict[str, Any]],
    rss_before: int | None,
    rss_after: int | None,
) -> dict[str, Any]:
    """One target's figures from its client processes' reports."""
    latency = _merged(results, "latency")
    tcp = _merged(results, "tcp")
    hello, subscribe = _merged(results, "hello"), _merged(results, "subscribe")
    subscribed = sum(r["subscribed"] for r in results)
    first = min((r["first_attempt"] for r in results if r["first_attempt"]), default=0.0)
    last = max((r["last_subscribed"] for r in results), default=0.0)
    storm_s = last - first if subscribed and last > first else None
    failures: Counter[str] = Counter()
    refusals: Counter[str] = Counter()
    frames: Counter[str] = Counter()
    closes: Counter[str] = Counter()
    for result in results:
        failures.update(result["failures"])
        refusals.update(result["refusals"])
    for report in closed:
        frames.update(report["frames"])
        closes.update(report["closes"])
    rss_per_socket = None
    if rss_before is not None and rss_after is not None and subscribed:
        rss_per_socket = round((rss_after - rss_before) / subscribed, 2)
    return {
        "target": name,
        "sockets": sum(r["sockets"] for r in results),
        "subscribed": subscribed,
        "failed": sum(r["failed"] for r in results),
        "failures": dict(failures.most_common(5)),
        "refused": sum(r["refused"] for r in results),
        "refusals": dict(refusals),
        "retried": sum(r["retried"] for r in results),
        "storm_s": None if storm_s is None else round(storm_s, 6),
        "connects_per_s": round(subscribed / storm_s, 1) if storm_s else None,
        "latency_p50_ms": ms(percentile(latency, 0.50)),
        "latency_p90_ms": ms(percentile(latency, 0.90)),
        "latency_p99_ms": ms(percentile(latency, 0.99)),
        "latency_max_ms": ms(latency[-1] if latency else None),
        "tcp_p50_ms": ms(percentile(tcp, 0.50)),
        "tcp_p99_ms": ms(percentile(tcp, 0.99)),
        "hello_p50_ms": ms(percentile(hello, 0.50)),
        "hello_p99_ms": ms(percentile(hello, 0.99)),
        "subscribe_p50_ms": ms(percentile(subscribe, 0.50)),
        "subscribe_p99_ms": ms(percentile(subscribe, 0.99)),
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "rss_per_socket_kib": rss_per_socket,
        "idle_frames": dict(frames),
        "closed_by_server": dict(closes),
    }


async def measure(
    server: Server, cookies: list[str], warm_cookie: str, args: argparse.Namespace
) -> dict[str, Any]:
    load = os.getloadavg()[0]
    say(f"{server.name}: a warm-up socket connects and subscribes (load average {load:.2f})")
    async with asyncio.timeout(OPEN_LIMIT):
        warm, _ = await open_lobby(server.base, warm_cookie, **BENCH_SOCKET_OPTIONS)
    pool = ClientPool()
    try:
        waited = await quiesce(server.pid)
        rss_before = tree_rss_kib(server.pid)
        say(f"{server.name}: idle after {waited:.1f} s, RSS {rss_before} KiB; arming")
        pool.start(
            storm_process,
            (
                StormConfig(
                    base=server.base,
                    cookies=chunk,
                    retries=args.connect_retries,
                    backoff_max=args.backoff_max,
                    timeout=args.timeout,
                )
                for chunk in chunks(cookies, args.procs)
            ),
        )
        await pool.collect("armed", ARM_LIMIT)
        cpu_before, overflows_before = read_cpu(server.pid), listen_overflows()
        pool.tell("go", time.time() + GO_DELAY)
        say(f"{server.name}: {len(cookies)} sockets connect at once")
        results = await pool.collect("subscribed", GO_DELAY + args.timeout + 60)
        cpu_after, overflows_after = read_cpu(server.pid), listen_overflows()
        waited = await quiesce(server.pid)
        rss_after = tree_rss_kib(server.pid)
        say(f"{server.name}: idle after {waited:.1f} s, RSS {rss_after} KiB; closing")
        pool.tell("close")
        closing = time.monotonic()
        closed = await pool.collect("closed", CLOSE_LIMIT + 60)
        say(f"{server.name}: every socket closed in {time.monotonic() - closing:.1f} s")
    finally:
        await pool.stop()
        await warm.close()
    summary = summarize(server.name, results, closed, rss_before, rss_after)
    summary["load_average_1m_before"] = round(load, 2)
    if overflows_before is not None and overflows_after is not None:
        summary["listen_overflows"] = overflows_after - overflows_before
    summary.update(storm_cpu(cpu_before, cpu_after, results, summary["subscribed"]))
    return summary


def storm_cpu(
    before: CpuReading, after: CpuReading, results: Sequence[dict[str, Any]], subscribed: int
) -> dict[str, float]:
    """Cores busy from the go until every process reported, and CPU per connect
    of the server and of PostgreSQL and Redis."""
    client_cpu = sum(r["cpu_s"] for r in results)
    use = cpu_use(before, after, client_cpu)
    figures: dict[str, float] = {
        key: use[key]
        for key in ("server_cores_busy", "deps_cores_busy", "other_cores_busy")
        if key in use
    }
    figures["client_cores_busy"] = round(client_cpu / max(after.wall - before.wall, 1e-9), 2)
    if subscribed:
        figures["deps_cpu_ms_per_connect"] = round(use["deps_cpu_s"] / subscribed * 1e3, 2)
        if "server_cpu_s" in use:
            figures["server_cpu_ms_per_connect"] = round(use["server_cpu_s"] / subscribed * 1e3, 2)
    return figures


class Connect(Benchmark):
    name = "connect"
    metrics = (
        Metric("connects_per_s", "connects/s", ratio=True),
        Metric("latency_p50_ms", "connect latency p50 (ms)", ratio=True),
        Metric("latency_p99_ms", "connect latency p99 (ms)", ratio=True),
        Metric("latency_max_ms", "connect latency max (ms)", ratio=True),
        Metric("tcp_p99_ms", "TCP connect p99 (ms)", ratio=True),
        Metric("hello_p99_ms", "TCP to hello p99 (ms)", ratio=True),
        Metric("subscribe_p99_ms", "subscribe p99 (ms)", ratio=True),
        Metric("listen_overflows", "listen queue overflows"),
        Metric("refused", "attempts refused"),
        Metric("retried", "sockets retried"),
        Metric("failed", "sockets failed"),
        Metric("subscribed", "sockets subscribed"),
        Metric("storm_s", "storm span (s)", ratio=True),
        Metric("rss_per_socket_kib", "RSS per idle socket (KiB)"),
        Metric("server_cpu_ms_per_connect", "server CPU ms/connect", ratio=True),
        Metric("deps_cpu_ms_per_connect", "PostgreSQL+Redis CPU ms/connect"),
        Metric("server_cores_busy", "server cores busy"),
        Metric("deps_cores_busy", "PostgreSQL+Redis cores busy"),
        Metric("client_cores_busy", "client cores busy"),
        Metric("other_cores_busy", "other cores busy"),
    )
    headline = (
        Metric("connects_per_s", "connects/s", ratio=True),
        Metric("latency_p50_ms", "p50 (ms)", ratio=True),
        Metric("latency_p99_ms", "p99 (ms)", ratio=True),
        Metric("server_cpu_ms_per_connect", "CPU ms/connect", ratio=True),
        Metric("rss_per_socket_kib", "RSS/socket (KiB)"),
        Metric("failed", "failed"),
    )
    targets = {
        "every_socket_subscribed": "every socket subscribed (refused ones retried)",
        "rss_per_socket_at_most_60_kib": "RSS per idle socket <= 60 KiB",
    }

    plots = (
        ("connects/s", (Metric("connects_per_s", "connects/s"),)),
        (
            "connect latency (ms)",
            (Metric("latency_p50_ms", "p50"), Metric("latency_p99_ms", "p99")),
        ),
        ("server CPU per connect (ms)", (Metric("server_cpu_ms_per_connect", "CPU"),)),
    )

    def users(self, clients: int) -> int:
        return clients + 1  # and the warm-up socket

    async def run_target(
        self, server: Server, cookies: list[str], args: argparse.Namespace, clients: int
    ) -> dict[str, Any]:
        return await measure(server, cookies[1 : clients + 1], cookies[0], args)

    def progress(self, result: dict[str, Any]) -> str:
        return (
            f"{cell(result['connects_per_s'])} connects/s, "
            f"p50 {cell(result['latency_p50_ms'])} ms, "
            f"p99 {cell(result['latency_p99_ms'])} ms, "
            f"{result['refused']} refused, {result['failed']} failed, "
            f"RSS/socket {cell(result['rss_per_socket_kib'])} KiB, "
            f"other cores busy {cell(result.get('other_cores_busy'))}"
        )

    def config(self, args: argparse.Namespace) -> dict[str, Any]:
        return {
            "timeout": args.timeout,
            "connect_retries": args.connect_retries,
            "backoff_max": args.backoff_max,
        }

    def heading(self, config: dict[str, Any], clients: int) -> list[str]:
        return [
            f"connect storm: {clients} sockets at once from {config['procs']} client "
            f"processes, refused connects retried up to {config['connect_retries']} times "
            f"(backoff at most {config['backoff_max']:g} s), " + describe_run(config),
            *limits_line(config),
        ]

    def judge(self, size: dict[str, Any], config: dict[str, Any]) -> None:
        ours = [run["chatapp"] for run in size["runs"] if "chatapp" in run]
        rss = size["median"].get("chatapp", {}).get("rss_per_socket_kib")
        size["targets"] = {
            "every_socket_subscribed": all(r["failed"] == 0 for r in ours) if ours else None,
            "rss_per_socket_at_most_60_kib": None if rss is None else rss <= 60,
        }
        for result in ours:
            if result["refused"]:
                reasons = ", ".join(f"{n} x {why}" for why, n in result["refusals"].items())
                size["notes"].append(
                    f"the server did not take {result['refused']} attempts ({reasons}); "
                    f"{result['retried']} sockets got in on a retry"
                )
            if result.get("listen_overflows"):
                size["notes"].append(
                    f"the listen queue overflowed {result['listen_overflows']} times: the "
                    "server had not accepted the connections before, so the kernel dropped "
                    "those SYNs or ACKs and the clients' kernels sent them again (after 1 s, "
                    "3 s ...): no client saw an error, they waited"
                )
            if result["failed"]:
                size["notes"].append(f"failed sockets: {result['failures']}")


def main(argv: list[str]) -> None:
    args = parser().parse_args(argv)
    check_common(args, PROG)
    if args.timeout <= 0 or args.connect_retries < 0 or args.backoff_max < 0:
        sys.exit(
            f"{PROG}: --timeout must be positive, --connect-retries and --backoff-max not negative"
        )
    run_sizes(Connect(), args)
