"""``chatapp bench fanout``: how fast one room fans out to many sockets.

One run, against our server and then against the floor (``floor.py``, a bare
ASGI broadcast server under the same uvicorn flags), with the same client load
(``runs.py`` repeats it for each size N of ``--clients`` and ``--repeat``):

1. Start ``chatapp serve --migrate`` on a free loopback port (or use ``--url``),
   with the per-user send and frame limits raised so one sender may send at
   ``--rate``; on the Redis channel layer (``--layer redis``, the default) or the
   in-memory one. DATABASE_URL and SECRET_KEY pass through.
2. Register N+1 users over the JSON API (concurrently: hashing a password costs
   about 0.4 s). Their session cookies are kept in a cache file, keyed by the
   database, so later runs against the same database only check them.
3. Spread N receiving sockets over P client processes. Each opens ``/ws/`` with
   the session cookie and this site's Origin, reads ``hello``, subscribes to the
   Lobby and waits for ``subscribed``.
4. Read the server's RSS (its process tree, without PostgreSQL) once idle before
   the receivers connect and again once they are all subscribed and idle.
5. One more socket sends M messages at R a second; each body is the
   ``time.time()`` of its send, so every receiver computes its latency. Each
   receiver checks seq order (gaps, duplicates) and which messages it got.
6. Figures: deliveries/s (message frames received over the time from the first
   send to the last receipt), latency p50/p99/max, messages lost, RSS per socket;
   server CPU per delivery; ours as ratios of the floor's (``report.py``).

Every process started here is stopped by its PID; every wait is bounded.
"""

from __future__ import annotations

import argparse
import array
import os
import secrets
import sys
import time
from collections import Counter
from typing import Any

from chatapp.bench import say
from chatapp.bench.clients import ClientPool, chunks
from chatapp.bench.options import check_common, common_parser
from chatapp.bench.procs import Server, cpu_use, quiesce, read_cpu, tree_rss_kib
from chatapp.bench.receivers import (
    CONNECT_PHASE_LIMIT,
    ReceiverConfig,
    receiver_process,
)
from chatapp.bench.report import Metric, cell, ms, percentile
from chatapp.bench.runs import Benchmark, describe_run, limits_line, run_sizes
from chatapp.bench.sender import Sender

# Raised so that one sender may send M messages at R a second (defaults: a
# burst of 20 then 5 sends a second, 60 frames then 20 a second).
RAISED_LIMITS = {
    "CHAT_SEND_BURST": "100000",
    "CHAT_SEND_RATE": "100000",
    "WS_FRAME_BURST": "100000",
    "WS_FRAME_RATE": "100000",
}
PROG = "chatapp bench fanout"


# --- options -----------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = common_parser(
        PROG,
        "Room fan-out: deliveries/s, latency, loss and RSS per socket, "
        "against a bare ASGI broadcast server (the floor).",
        clients="1000",
    )
    p.add_argument("--messages", type=int, default=200, help="messages sent (M)")
    p.add_argument("--rate", type=float, default=20.0, help="messages per second (R)")
    p.add_argument(
        "--connect-concurrency", type=int, default=50, help="handshakes in flight per process"
    )
    p.add_argument(
        "--drain-timeout", type=float, default=30.0, help="s after the last ack to get all"
    )
    return p


# --- one run against one server ----------------------------------------------------------


async def measure(
    server: Server, cookies: list[str], sender_cookie: str, args: argparse.Namespace
) -> dict[str, Any]:
    load = os.getloadavg()[0]
    say(f"{server.name}: sender connects and subscribes (load average {load:.2f})")
    sender = await Sender.open(server.base, sender_cookie)
    pool = ClientPool()
    try:
        waited = await quiesce(server.pid)
        rss_before = tree_rss_kib(server.pid)
        say(f"{server.name}: idle after {waited:.1f} s, RSS {rss_before} KiB; opening sockets")
        tag = f"b{secrets.token_hex(4)}-"
        pool.start(
            receiver_process,
            (
                ReceiverConfig(
                    base=server.base,
                    cookies=chunk,
                    lobby=sender.lobby,
                    tag=tag,
                    messages=args.messages,
                    connect_concurrency=args.connect_concurrency,
                )
                for chunk in chunks(cookies, args.procs)
            ),
        )
        started = time.monotonic()
        ready = await pool.collect("ready", CONNECT_PHASE_LIMIT + 60)
        connect_s = time.monotonic() - started
        connected = sum(r["connected"] for r in ready)
        failed = sum(r["failed"] for r in ready)
        errors: Counter[str] = Counter()
        for r in ready:
            errors.update(r["errors"])
        say(f"{server.name}: {connected} sockets subscribed in {connect_s:.1f} s, {failed} failed")
        for error, times in errors.most_common(5):
            say(f"  {times} x {error}")
        waited = await quiesce(server.pid)
        rss_after = tree_rss_kib(server.pid)
        say(f"{server.name}: idle after {waited:.1f} s, RSS {rss_after} KiB; sending")
        cpu_before = read_cpu(server.pid)
        send = await sender.send_all(args.messages, args.rate, tag)
        say(
            f"{server.name}: sent {send['sent']} in {send['send_s']:.1f} s, "
            f"{send['acks']} acks, errors {send['errors'] or 'none'}"
        )
        pool.tell("finish", time.time() + args.drain_timeout)
        results = await pool.collect("result", args.drain_timeout + 60)
        cpu_after = read_cpu(server.pid)
    finally:
        await sender.close()
        await pool.stop()
    summary = summarize(
        server, args, connected, failed, errors, connect_s, rss_before, rss_after, send, results
    )
    summary["load_average_1m_before"] = round(load, 2)
    # Cores the client processes used in the same phase (they share the machine).
    client_cpu = sum(r["cpu_s"] for r in results)
    summary["client_cores_busy"] = round(
        client_cpu / max(max(r["wall_s"] for r in results), 1e-9), 2
    )
    # From the first send until every client reported: the server, PostgreSQL and
    # Redis, and everything else (other programs, the kernel's loopback work not
    # charged to a process): interference.
    use = cpu_use(cpu_before, cpu_after, client_cpu)
    for key in ("server_cores_busy", "deps_cores_busy", "other_cores_busy"):
        if key in use:
            summary[key] = use[key]
    if "server_cpu_s" in use and summary["received"]:
        # Server CPU per delivered frame: independent of the offered rate.
        summary["server_cpu_us_per_delivery"] = round(
            use["server_cpu_s"] / summary["received"] * 1e6, 1
        )
    return summary


def summarize(
    server: Server,
    args: argparse.Namespace,
    connected: int,
    failed: int,
    errors: Counter[str],
    connect_s: float,
    rss_before: int | None,
    rss_after: int | None,
    send: dict[str, Any],
    results: list[dict[str, Any]],
) -> dict[str, Any]:
    latencies = array.array("d")
    other: Counter[str] = Counter()
    closes: Counter[str] = Counter()
    for r in results:
        latencies.frombytes(r["latencies"])
        other.update(r["other"])
        closes.update(r["closes"])
    ordered = sorted(latencies)
    # The slowest delivery of each message, over all sockets.
    message_max = [0.0] * args.messages
    for r in results:
        for index, value in enumerate(array.array("d", r["message_max"])):
            message_max[index] = max(message_max[index], value)
    slowest = sorted(range(len(message_max)), key=message_max.__getitem__, reverse=True)[:5]
    frames = sum(r["frames"] for r in results)
    unique = sum(r["unique"] for r in results)
    expected = connected * args.messages
    last_recv = max((r["last_recv"] for r in results), default=0.0)
    span = last_recv - send["first_send"] if last_recv else 0.0
    rss_per_socket = None
    if rss_before is not None and rss_after is not None and connected:
        rss_per_socket = round((rss_after - rss_before) / connected, 2)
    return {
        "target": server.name,
        "sockets": connected,
        "connect_failed": failed,
        "connect_errors": dict(errors),
        "connect_s": round(connect_s, 2),
        "offered_per_s": round(connected * args.rate, 1),
        "expected": expected,
        "received": frames,
        "lost": expected - unique,
        "duplicates": sum(r["duplicates"] for r in results),
        "seq_gaps": sum(r["gaps"] for r in results),
        "seq_backwards": sum(r["backwards"] for r in results),
        "complete_sockets": sum(r["complete"] for r in results),
        "closed_by_server": dict(closes),
        "other_frames": dict(other),
        "span_s": round(span, 3),
        "deliveries_per_s": round(frames / span, 1) if span > 0 else None,
        "latency_p50_ms": ms(percentile(ordered, 0.50)),
        "latency_p90_ms": ms(percentile(ordered, 0.90)),
        "latency_p99_ms": ms(percentile(ordered, 0.99)),
        "latency_max_ms": ms(ordered[-1] if ordered else None),
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "rss_per_socket_kib": rss_per_socket,
        "send": send,
        "slowest_messages": [
            {"index": i, "sent_at_s": round(i / args.rate, 2), "max_ms": ms(message_max[i])}
            for i in slowest
        ],
        "message_max_ms": [ms(value) for value in message_max],
    }


# --- the benchmark -------------------------------------------------------------------


class Fanout(Benchmark):
    name = "fanout"
    metrics = (
        Metric("deliveries_per_s", "deliveries/s", ratio=True),
        Metric("latency_p50_ms", "latency p50 (ms)", ratio=True),
        Metric("latency_p99_ms", "latency p99 (ms)", ratio=True),
        Metric("latency_max_ms", "latency max (ms)", ratio=True),
        Metric("lost", "messages lost"),
        Metric("duplicates", "duplicates"),
        Metric("seq_gaps", "seq gaps"),
        Metric("rss_per_socket_kib", "RSS per socket (KiB)"),
        Metric("connect_s", "connect+subscribe (s)", ratio=True),
        Metric("sockets", "sockets subscribed"),
        Metric("server_cpu_us_per_delivery", "server CPU us/delivery", ratio=True),
        Metric("server_cores_busy", "server cores busy"),
        Metric("deps_cores_busy", "PostgreSQL+Redis cores busy"),
        Metric("client_cores_busy", "client cores busy"),
        Metric("other_cores_busy", "other cores busy"),
    )
    headline = (
        Metric("deliveries_per_s", "deliveries/s", ratio=True),
        Metric("latency_p50_ms", "p50 (ms)", ratio=True),
        Metric("latency_p99_ms", "p99 (ms)", ratio=True),
        Metric("server_cpu_us_per_delivery", "CPU us/delivery", ratio=True),
        Metric("rss_per_socket_kib", "RSS/socket (KiB)"),
        Metric("lost", "lost"),
    )
    targets = {
        "deliveries_at_least_0.5x_floor": "deliveries/s >= 0.5 x floor",
        "p99_at_most_2x_floor": "p99 latency <= 2 x floor",
        "nothing_lost": "nothing lost (no loss, gap, duplicate)",
        "rss_per_socket_at_most_60_kib": "RSS per idle socket <= 60 KiB",
    }
    plots = (
        (
            "delivery latency (ms)",
            (Metric("latency_p50_ms", "p50"), Metric("latency_p99_ms", "p99")),
        ),
        ("server CPU per delivery (us)", (Metric("server_cpu_us_per_delivery", "CPU"),)),
    )
    raised_limits = RAISED_LIMITS

    def users(self, clients: int) -> int:
        return clients + 1  # and the sender

    async def run_target(
        self, server: Server, cookies: list[str], args: argparse.Namespace, clients: int
    ) -> dict[str, Any]:
        return await measure(server, cookies[1 : clients + 1], cookies[0], args)

    def progress(self, result: dict[str, Any]) -> str:
        return (
            f"{cell(result['deliveries_per_s'])} deliveries/s, "
            f"p50 {cell(result['latency_p50_ms'])} ms, "
            f"p99 {cell(result['latency_p99_ms'])} ms, lost {result['lost']}, "
            f"RSS/socket {cell(result['rss_per_socket_kib'])} KiB, "
            f"other cores busy {cell(result.get('other_cores_busy'))}"
        )

    def config(self, args: argparse.Namespace) -> dict[str, Any]:
        return {"messages": args.messages, "rate": args.rate}

    def heading(self, config: dict[str, Any], clients: int) -> list[str]:
        return [
            f"fan-out: {clients} sockets, {config['messages']} messages at "
            f"{config['rate']:g}/s, {config['procs']} client processes, " + describe_run(config),
            *limits_line(config),
        ]

    def judge(self, size: dict[str, Any], config: dict[str, Any]) -> None:
        found = size["ratio"]
        ours = size["median"].get("chatapp", {})
        deliveries, p99 = found.get("deliveries_per_s"), found.get("latency_p99_ms")
        rss = ours.get("rss_per_socket_kib")
        lost = sum(
            run["chatapp"]["lost"] + run["chatapp"]["duplicates"] + run["chatapp"]["seq_gaps"]
            for run in size["runs"]
            if "chatapp" in run
        )
        size["targets"] = {
            "deliveries_at_least_0.5x_floor": None if deliveries is None else deliveries >= 0.5,
            "p99_at_most_2x_floor": None if p99 is None else p99 <= 2.0,
            "nothing_lost": lost == 0 if "chatapp" in size["median"] else None,
            "rss_per_socket_at_most_60_kib": None if rss is None else rss <= 60,
        }
        offered = size["median"].get("floor", {}).get("deliveries_per_s")
        if offered is not None and offered >= 0.95 * size["clients"] * config["rate"]:
            size["notes"].append(
                "the floor kept up with the offered load (N x R a second), so the "
                "deliveries/s ratio compares with that load, not with the floor's capacity; "
                "server CPU us/delivery compares the cost."
            )


def main(argv: list[str]) -> None:
    args = parser().parse_args(argv)
    check_common(args, PROG)
    if args.messages < 0 or args.rate <= 0 or args.connect_concurrency < 1:
        sys.exit(
            f"{PROG}: --rate and --connect-concurrency must be positive, --messages not negative"
        )
    run_sizes(Fanout(), args)
