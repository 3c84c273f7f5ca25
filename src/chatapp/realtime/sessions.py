"""Closes sockets whose session ended (logout, expiry, deletion) within the
check interval: one query a second per worker for all its sockets."""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from django.conf import settings

from chatapp.chat import sql
from chatapp.core.loops import PerLoop

logger = logging.getLogger(__name__)


class SessionSocket(Protocol):
    session_key: str

    async def session_ended(self) -> None: ...


class SessionWatcher:
    def __init__(self) -> None:
        self.sockets: set[SessionSocket] = set()
        self.task: asyncio.Task[None] | None = None

    def add(self, socket: SessionSocket) -> None:
        self.sockets.add(socket)
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
            except Exception:
                logger.exception("session check failed")

    async def check(self) -> None:
        sockets = list(self.sockets)
        live = await sql.live_session_keys(list({s.session_key for s in sockets}))
        for socket in sockets:
            if socket.session_key not in live:
                self.sockets.discard(socket)
                await socket.session_ended()


_watchers = PerLoop(SessionWatcher)


def watcher() -> SessionWatcher:
    return _watchers.get()
