"""The fan-out's sender: one socket of its own user, subscribed to the Lobby,
that sends M messages at R a second. Each body is the ``time.time()`` of its
send, so every receiver computes its latency; the sender times the acks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from typing import Any

from websockets.exceptions import ConnectionClosed

from chatapp.bench.receivers import OPEN_LIMIT
from chatapp.bench.report import ms, percentile
from chatapp.bench.wsclient import BENCH_SOCKET_OPTIONS, Tab, encode, open_lobby

ACK_LIMIT = 30.0  # s after the last send for the acks


class Sender:
    """One socket of its own user that sends M messages at R a second."""

    def __init__(self, tab: Tab, lobby: int) -> None:
        self.ws = tab.ws
        self.lobby = lobby
        self.tag = ""
        self.expected = 0
        self.sent_at: dict[int, float] = {}
        self.ack_latencies: list[float] = []
        self.errors: Counter[str] = Counter()
        self.answered = asyncio.Event()
        self.closed_code: int | None = None
        self.task = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, base: str, cookie: str) -> Sender:
        async with asyncio.timeout(OPEN_LIMIT):
            tab, lobby = await open_lobby(base, cookie, **BENCH_SOCKET_OPTIONS)
        return cls(tab, lobby)

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                now = time.time()
                frame = json.loads(raw)
                kind = frame.get("type")
                ref = frame.get("client_id") if kind == "ack" else frame.get("ref")
                if not self.tag or not isinstance(ref, str) or not ref.startswith(self.tag):
                    continue
                index = int(ref[len(self.tag) :])
                if kind == "ack":
                    self.ack_latencies.append(now - self.sent_at.get(index, now))
                else:
                    self.errors[str(frame.get("code"))] += 1
                if len(self.ack_latencies) + sum(self.errors.values()) >= self.expected:
                    self.answered.set()
        except ConnectionClosed:
            self.closed_code = self.ws.close_code
            self.answered.set()

    async def send_all(self, count: int, rate: float, tag: str) -> dict[str, Any]:
        self.tag, self.expected = tag, count
        started = time.monotonic()
        first = 0.0
        for index in range(count):
            delay = started + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.time()
            first = first or now
            self.sent_at[index] = now
            frame = {"type": "send", "room": self.lobby, "body": f"{now:.6f}"}
            frame["client_id"] = f"{tag}{index}"
            await self.ws.send(encode(frame))
        last = time.time()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(ACK_LIMIT):
                await self.answered.wait()
        acks = sorted(self.ack_latencies)
        return {
            "sent": count,
            "first_send": first,
            "last_send": last,
            "send_s": last - first,
            "acks": len(acks),
            "errors": dict(self.errors),
            "closed_code": self.closed_code,
            "ack_p50_ms": ms(percentile(acks, 0.50)),
            "ack_p99_ms": ms(percentile(acks, 0.99)),
        }

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(10):
                await self.ws.close()
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
