"""Closes sockets whose session ended (logout, expiry, deletion) within the
check interval: one query a second per worker for all its sockets.

While the database is away the check is skipped (one warning), never failing
a socket: sessions are checked again once it is back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from django.conf import settings

from chatapp.core.loops import PerLoop
from chatapp.core.outages import is_outage

logger = logging.getLogger(__name__)

LiveSessions = Callable[[list[str]], Awaitable[set[str]]]


class SessionSocket(Protocol):
    session_key: str

    async def session_ended(self) -> None: ...


class SessionWatcher:
    def __init__(self) -> None:
        self.sockets: set[SessionSocket] = set()
        self.live_sessions: LiveSessions | None = None
        self.task: asyncio.Task[None] | None = None
        self.failing = False

    def add(self, socket: SessionSocket, live_sessions: LiveSessions) -> None:
        self.sockets.add(socket)
        self.live_sessions = live_sessions
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._loop())

    def discard(self, socket: SessionSocket) -> None:
        self.sockets.discard(socket)

    async def _loop(self) -> None:
        while self.sockets:
            await asyncio.sleep(settings.SESSION_CHECK_INTERVAL)
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not is_outage(exc):
                    logger.exception("session check failed")
                elif not self.failing:
                    logger.warning("session check skipped while the database is away: %s", exc)
                self.failing = True
            else:
                self.failing = False

    async def check(self) -> None:
        if self.live_sessions is None:
            return
        sockets = list(self.sockets)
        live = await self.live_sessions(list({s.session_key for s in sockets}))
        for socket in sockets:
            if socket.session_key not in live:
                self.sockets.discard(socket)
                await socket.session_ended()


_watchers = PerLoop(SessionWatcher)


def watcher() -> SessionWatcher:
    return _watchers.get()
