"""The fan-out's receiving sockets, run inside a client process.

Each process opens its share of the N sockets (``--connect-concurrency``
handshakes at a time), each subscribed to the Lobby, reports ``ready``, then
records every message frame of this run until the bench says ``finish``: its
latency (receive time minus the send time in its body), seq order (gaps,
duplicates, going backwards) and which messages it got. It reports ``result``
and closes its sockets.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from websockets.exceptions import ConnectionClosed

from chatapp.bench.clients import command, describe, run_client
from chatapp.bench.procs import own_cpu_seconds, raise_fd_limit
from chatapp.bench.wsclient import BENCH_SOCKET_OPTIONS, Tab

OPEN_LIMIT = 60.0  # s for one socket: handshake, hello, subscribed
CONNECT_PHASE_LIMIT = 300.0  # s for one client process to open all its sockets
FINISH_WAIT = 3600.0  # s a ready process waits for the bench to say finish


@dataclass
class ReceiverConfig:
    base: str
    cookies: list[str]
    lobby: int
    tag: str  # client_id prefix of this run's messages
    messages: int
    connect_concurrency: int


@dataclass
class ReceiverStats:
    latencies: array.array[float] = field(default_factory=lambda: array.array("d"))
    message_max: array.array[float] = field(default_factory=lambda: array.array("d"))
    frames: int = 0  # message frames of this run, duplicates included
    unique: int = 0  # distinct messages of this run, summed over sockets
    duplicates: int = 0
    gaps: int = 0  # a seq more than one above the previous one
    backwards: int = 0  # a seq not above the previous one
    first_recv: float = 0.0
    last_recv: float = 0.0
    other: Counter[str] = field(default_factory=Counter)  # presence, typing …
    closes: Counter[str] = field(default_factory=Counter)  # closed by the server
    done: int = 0
    closing: bool = False
    all_done: asyncio.Event = field(default_factory=asyncio.Event)
    sockets: int = 0


class Receiver:
    def __init__(self, tab: Tab, config: ReceiverConfig, stats: ReceiverStats) -> None:
        self.ws = tab.ws
        self.tag = config.tag
        self.seen = bytearray(config.messages)
        self.count = 0
        self.expected = config.messages
        self.prev_seq: int | None = None
        self.stats = stats
        self.finished = False
        stats.other.update(tab.skipped)
        self.task = asyncio.create_task(self.run())
        if self.expected == 0:
            self._finish()

    def _finish(self) -> None:
        if not self.finished:
            self.finished = True
            self.stats.done += 1
            if self.stats.done >= self.stats.sockets:
                self.stats.all_done.set()

    def _message(self, message: dict[str, Any], now: float) -> None:
        stats = self.stats
        client_id = message.get("client_id")
        if not isinstance(client_id, str) or not client_id.startswith(self.tag):
            stats.other["message (not this run)"] += 1
            return
        stats.frames += 1
        latency = now - float(message["body"])
        stats.latencies.append(latency)
        if not stats.first_recv:
            stats.first_recv = now
        stats.last_recv = max(stats.last_recv, now)
        seq = message["seq"]
        if self.prev_seq is not None:
            if seq <= self.prev_seq:
                stats.backwards += 1
            elif seq != self.prev_seq + 1:
                stats.gaps += 1
        self.prev_seq = seq if self.prev_seq is None else max(seq, self.prev_seq)
        index = int(client_id[len(self.tag) :])
        if not 0 <= index < self.expected:
            return
        if latency > stats.message_max[index]:
            stats.message_max[index] = latency
        if self.seen[index]:
            stats.duplicates += 1
            return
        self.seen[index] = 1
        self.count += 1
        stats.unique += 1
        if self.count == self.expected:
            self._finish()

    async def run(self) -> None:
        try:
            async for raw in self.ws:
                now = time.time()
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "message":
                    self._message(frame["message"], now)
                else:
                    self.stats.other[str(kind)] += 1
        except ConnectionClosed:
            pass
        finally:
            if not self.stats.closing:
                self.stats.closes[str(self.ws.close_code)] += 1
            self._finish()


async def open_subscribed(base: str, cookie: str, lobby: int) -> Tab:
    """A bench socket: open, hello, subscribed to ``lobby``, within OPEN_LIMIT."""
    async with asyncio.timeout(OPEN_LIMIT):
        tab = await Tab.open(base, cookie, hello_timeout=None, **BENCH_SOCKET_OPTIONS)
        try:
            await tab.subscribe(lobby, timeout=None)
        except BaseException:
            await tab.close()
            raise
    return tab


async def _open_receiver(
    config: ReceiverConfig, cookie: str, gate: asyncio.Semaphore, stats: ReceiverStats
) -> Receiver:
    async with gate:
        tab = await open_subscribed(config.base, cookie, config.lobby)
    return Receiver(tab, config, stats)


async def _receiver_main(config: ReceiverConfig, conn: Connection) -> None:
    raise_fd_limit(len(config.cookies) + 256)
    stats = ReceiverStats(sockets=len(config.cookies))
    stats.message_max = array.array("d", [0.0] * config.messages)
    gate = asyncio.Semaphore(config.connect_concurrency)
    started = time.monotonic()
    opening = [
        asyncio.ensure_future(_open_receiver(config, cookie, gate, stats))
        for cookie in config.cookies
    ]
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(CONNECT_PHASE_LIMIT):
            await asyncio.wait(opening)
    receivers: list[Receiver] = []
    failures: Counter[str] = Counter()
    for task in opening:
        if not task.done():
            task.cancel()
            failures["connect phase timed out"] += 1
        elif (error := task.exception()) is not None:
            failures[describe(error)] += 1
        else:
            receivers.append(task.result())
    stats.sockets = len(receivers)
    stats.done = sum(1 for r in receivers if r.finished)
    if stats.done >= stats.sockets:
        stats.all_done.set()
    conn.send(
        (
            "ready",
            {
                "connected": len(receivers),
                "failed": sum(failures.values()),
                "errors": dict(failures.most_common(5)),
                "connect_s": time.monotonic() - started,
            },
        )
    )
    cpu_ready, wall_ready = own_cpu_seconds(), time.monotonic()
    # Until the bench says the sending is over (bounded: it may have died).
    order = await command(conn, FINISH_WAIT)
    if order is not None and order[0] == "finish":
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, float(order[1]) - time.time())):
                if stats.done < stats.sockets:
                    await stats.all_done.wait()
    stats.closing = True
    conn.send(
        (
            "result",
            {
                "sockets": len(receivers),
                "complete": sum(1 for r in receivers if r.count == r.expected),
                "frames": stats.frames,
                "unique": stats.unique,
                "duplicates": stats.duplicates,
                "gaps": stats.gaps,
                "backwards": stats.backwards,
                "first_recv": stats.first_recv,
                "last_recv": stats.last_recv,
                "other": dict(stats.other),
                "closes": dict(stats.closes),
                "latencies": stats.latencies.tobytes(),
                "message_max": stats.message_max.tobytes(),
                "cpu_s": own_cpu_seconds() - cpu_ready,
                "wall_s": time.monotonic() - wall_ready,
            },
        )
    )
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(20):
            await asyncio.gather(*(r.ws.close() for r in receivers), return_exceptions=True)
    for r in receivers:
        r.task.cancel()
    await asyncio.gather(*(r.task for r in receivers), return_exceptions=True)


def receiver_process(config: ReceiverConfig, conn: Connection) -> None:
    """Entry point of a fan-out client process (multiprocessing, spawn)."""
    run_client(_receiver_main, config, conn)
