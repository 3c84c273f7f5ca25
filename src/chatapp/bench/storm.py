"""The connect storm's sockets, run inside a client process.

Each process reports ``armed`` once it is ready, waits for the bench's ``go``
(a wall-clock instant shared by every process), then starts every one of its
sockets at once, each through the real connect path: TCP connect, the
WebSocket handshake with the session cookie and this site's Origin, ``hello``,
``subscribe`` to the Lobby, ``subscribed``. A connect the server did not take
(refused, reset, dropped before the upgrade, a 5xx or 429 answer, closed with
1011/1012/1013) is tried again after a bounded, jittered backoff; an answer
that says no (403, 4401 …) is a failure at once. It reports ``subscribed``
with every socket's timings, keeps its sockets open and reading until the
bench has measured the server (``close``), then reports ``closed``.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from chatapp.bench.clients import command, describe, run_client
from chatapp.bench.procs import own_cpu_seconds, raise_fd_limit
from chatapp.bench.wsclient import (
    BENCH_SOCKET_OPTIONS,
    Address,
    Tab,
    open_tcp,
    resolve,
    subscribe_lobby,
)

BACKOFF_FIRST = 0.05  # s before the first retry; doubled each time up to --backoff-max
ARM_WAIT = 120.0  # s an armed process waits for the go
HOLD_WAIT = 3600.0  # s a process holds its subscribed sockets for the bench
CLOSE_LIMIT = 20.0  # s to close every socket
RETRIED_CLOSE_CODES = {1011, 1012, 1013}  # internal error, restarting, try again later


@dataclass
class StormConfig:
    base: str
    cookies: list[str]
    retries: int  # further attempts of a connect the server did not take
    backoff_max: float  # s, the longest wait between two attempts
    timeout: float  # s from the go until every socket must be subscribed


def refusal(exc: BaseException) -> str | None:
    """Why the server did not take a connect, if it did not (then it is retried);
    None for an answer that says no, or a broken protocol (a failure)."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError | ConnectionAbortedError | BrokenPipeError):
        return "connection reset"
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        return f"HTTP {status}" if status >= 500 or status == 429 else None
    if isinstance(exc, ConnectionClosed):
        code = exc.rcvd.code if exc.rcvd is not None else None
        if code is None or code in RETRIED_CLOSE_CODES:
            return f"closed {code or 1006} before subscribed"
        return None
    if isinstance(exc, InvalidHandshake | EOFError):
        return "dropped during the handshake"
    if isinstance(exc, OSError):  # no free port, a TCP connect timed out …
        return f"TCP: {exc.strerror or type(exc).__name__}"
    return None


def backoff_delay(attempt: int, cap: float, draw: float) -> float:
    """The wait before retry ``attempt`` (0 = the first retry): half of
    min(cap, BACKOFF_FIRST * 2**attempt), plus ``draw`` (0 to 1) of the other half,
    so retries spread out instead of coming back as one wave."""
    ceiling = min(cap, BACKOFF_FIRST * 2.0**attempt)
    return ceiling / 2 + draw * ceiling / 2


@dataclass
class Storm:
    config: StormConfig
    address: Address
    # Per subscribed socket, in seconds: from the start of its first TCP connect
    # to subscribed; the TCP connect of its last attempt; TCP up to hello; hello
    # to subscribed.
    latency: array.array[float] = field(default_factory=lambda: array.array("d"))
    tcp: array.array[float] = field(default_factory=lambda: array.array("d"))
    hello: array.array[float] = field(default_factory=lambda: array.array("d"))
    subscribe: array.array[float] = field(default_factory=lambda: array.array("d"))
    refusals: Counter[str] = field(default_factory=Counter)  # attempts not taken, by reason
    failures: Counter[str] = field(default_factory=Counter)  # sockets never subscribed
    retried: int = 0  # sockets subscribed after more than one attempt
    first_attempt: float = 0.0  # time.time() of the first TCP connect
    last_subscribed: float = 0.0
    tabs: list[Tab] = field(default_factory=list)
    readers: list[asyncio.Task[None]] = field(default_factory=list)
    frames: Counter[str] = field(default_factory=Counter)  # frames while idle, by type
    closes: Counter[str] = field(default_factory=Counter)  # sockets the server closed
    closing: bool = False

    async def connect(self, cookie: str) -> None:
        """One socket, retried while the server does not take it."""
        started = 0.0
        for attempt in range(self.config.retries + 1):
            began = time.time()
            started = started or began
            if not self.first_attempt or began < self.first_attempt:
                self.first_attempt = began
            try:
                tab, tcp_done, hello_done = await self._attempt(cookie)
            except Exception as exc:
                reason = refusal(exc)
                if reason is None:
                    self.failures[describe(exc)] += 1
                    return
                self.refusals[reason] += 1
                if attempt == self.config.retries:
                    self.failures[f"not taken after {attempt + 1} attempts ({reason})"] += 1
                    return
                jitter = random.random()  # noqa: S311 - spreads retries, guards nothing
                await asyncio.sleep(backoff_delay(attempt, self.config.backoff_max, jitter))
                continue
            done = time.time()
            self.latency.append(done - started)
            self.tcp.append(tcp_done - began)
            self.hello.append(hello_done - tcp_done)
            self.subscribe.append(done - hello_done)
            self.last_subscribed = max(self.last_subscribed, done)
            if attempt:
                self.retried += 1
            self.tabs.append(tab)
            self.readers.append(asyncio.create_task(self._read(tab)))
            return

    async def _attempt(self, cookie: str) -> tuple[Tab, float, float]:
        sock = await open_tcp(self.address)
        tcp_done = time.time()
        try:
            tab = await Tab.open(
                self.config.base, cookie, sock=sock, hello_timeout=None, **BENCH_SOCKET_OPTIONS
            )
        except BaseException:
            sock.close()
            raise
        hello_done = time.time()
        await subscribe_lobby(tab)
        return tab, tcp_done, hello_done

    async def _read(self, tab: Tab) -> None:
        """Read whatever comes while idle (presence …), so nothing backs up."""
        self.frames.update(tab.skipped)
        try:
            async for raw in tab.ws:
                kind = json.loads(raw).get("type")
                self.frames[str(kind)] += 1
        except ConnectionClosed:
            pass
        finally:
            if not self.closing:
                self.closes[str(tab.ws.close_code)] += 1

    def result(self, cpu_s: float, wall_s: float) -> dict[str, Any]:
        return {
            "sockets": len(self.config.cookies),
            "subscribed": len(self.tabs),
            "failed": sum(self.failures.values()),
            "failures": dict(self.failures.most_common(5)),
            "refused": sum(self.refusals.values()),
            "refusals": dict(self.refusals),
            "retried": self.retried,
            "first_attempt": self.first_attempt,
            "last_subscribed": self.last_subscribed,
            "latency": self.latency.tobytes(),
            "tcp": self.tcp.tobytes(),
            "hello": self.hello.tobytes(),
            "subscribe": self.subscribe.tobytes(),
            "cpu_s": cpu_s,
            "wall_s": wall_s,
        }

    async def close(self) -> None:
        self.closing = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_LIMIT):
                await asyncio.gather(*(tab.close() for tab in self.tabs), return_exceptions=True)
        for reader in self.readers:
            reader.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)


async def _storm_main(config: StormConfig, conn: Connection) -> None:
    raise_fd_limit(len(config.cookies) + 256)
    storm = Storm(config, await resolve(config.base))
    conn.send(("armed", {}))
    order = await command(conn, ARM_WAIT)
    if order is None or order[0] != "go":
        return
    await asyncio.sleep(max(0.0, float(order[1]) - time.time()))
    cpu_go, wall_go = own_cpu_seconds(), time.monotonic()
    connecting = [asyncio.create_task(storm.connect(cookie)) for cookie in config.cookies]
    _, late = await asyncio.wait(connecting, timeout=config.timeout)
    for task in late:
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    if late:
        storm.failures[f"not subscribed within --timeout {config.timeout:g} s"] += len(late)
    conn.send(("subscribed", storm.result(own_cpu_seconds() - cpu_go, time.monotonic() - wall_go)))
    await command(conn, HOLD_WAIT)  # "close", or the bench went away
    await storm.close()
    conn.send(("closed", {"frames": dict(storm.frames), "closes": dict(storm.closes)}))


def storm_process(config: StormConfig, conn: Connection) -> None:
    """Entry point of a connect-storm client process (multiprocessing, spawn)."""
    run_client(_storm_main, config, conn)
