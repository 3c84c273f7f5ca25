"""Chat users of the fault tests: each holds one socket subscribed to a room
and records every message, ack, error and close it gets."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from websockets.exceptions import ConnectionClosed

from tests.e2e.client import Tab, register


class Member:
    """One user with one socket subscribed to a room (the Lobby unless told),
    recording every message."""

    def __init__(self, name: str, tab: Tab, lobby: int) -> None:
        self.name = name
        self.tab = tab
        self.lobby = lobby
        self.seqs: list[int] = []
        self.acks: dict[str, int] = {}
        self.errors: list[dict[str, Any]] = []
        self.closed: int | None = None
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        try:
            while True:
                frame = await self.tab.recv(timeout=3600)
                if frame["type"] == "message":
                    self.seqs.append(frame["message"]["seq"])
                elif frame["type"] == "ack":
                    self.acks[frame["client_id"]] = frame["message"]["seq"]
                elif frame["type"] == "error":
                    self.errors.append(frame)
        except ConnectionClosed as exc:
            self.closed = exc.rcvd.code if exc.rcvd else 1006

    async def send(self, client_id: str) -> None:
        frame = {"type": "send", "room": self.lobby, "body": client_id, "client_id": client_id}
        await self.tab.send(frame)

    async def close(self) -> None:
        self.reader.cancel()
        with contextlib.suppress(BaseException):
            await self.tab.close()


async def members(
    base: str, names: list[str], *, room: int | None = None, spread_over: tuple[str, ...] = ()
) -> list[Member]:
    """Register ``names`` at ``base``; each opens a socket subscribed to
    ``room`` (else the Lobby), the n-th one on the n-th server of
    ``spread_over`` in turn (else on ``base``)."""
    sessions = [await register(base, name) for name in names]
    servers = spread_over or (base,)
    opened = []
    for index, (name, session) in enumerate(zip(names, sessions, strict=True)):
        tab = await Tab.open(servers[index % len(servers)], session)
        subscribed = room if room is not None else tab.hello["rooms"][0]["id"]
        await tab.subscribe(subscribed)
        opened.append(Member(name, tab, subscribed))
    return opened


async def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
