"""Closes the sockets of sessions that ended: logged out, expired or deleted,
or no longer good for their user (a new password, "log out everywhere", the
account deactivated or deleted).

- ``recheck``: at once, for the sockets of one user, when a per-user event
  says their sessions may have ended (``events.recheck_sessions``, through
  the hub, so on every worker). Everything is checked; rechecks that arrive
  together share a query.
- every ``SESSION_CHECK_INTERVAL``, every socket of the worker in one query:
  that its session still exists (logout, expiry: nobody announces those).
- the backstop for the per-user event: the same query also checks the users'
  credentials on every tick while the layer is down (the event cannot cross
  workers) and once after it is back, and every ``CREDENTIAL_CHECK_EVERY``
  ticks otherwise, for an event the at-most-once layer lost or a change that
  sent none (a bulk ``UPDATE``). Not on every tick: for 10,000 sockets the
  credential check measured 50-60 ms of PostgreSQL against 11-18 ms for
  existence alone.

What "still good" means is the endpoint's (``Endpoint.valid_sessions``): the
transport only keeps, per socket, the session key, the user and an opaque
credential stamp the endpoint took at the handshake.

While the database is away the check is skipped (one warning), never failing
a socket: sessions are checked again once it is back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable
from typing import NamedTuple, Protocol

from django.conf import settings

from chatapp.core.loops import PerLoop
from chatapp.core.outages import is_outage

logger = logging.getLogger(__name__)


class SessionRef(NamedTuple):
    """The session a socket was opened with."""

    key: str
    user_id: int
    credential: str  # what the endpoint saw of the user's credentials at the handshake


class ValidSessions(Protocol):
    def __call__(
        self, sessions: list[SessionRef], *, credentials: bool
    ) -> Awaitable[set[SessionRef]]: ...


# Ticks between two credential checks of every socket while the layer is up.
CREDENTIAL_CHECK_EVERY = 30


class SessionSocket(Protocol):
    session: SessionRef

    async def session_ended(self) -> None: ...


class SessionWatcher:
    def __init__(self) -> None:
        self.sockets: set[SessionSocket] = set()
        self.valid_sessions: ValidSessions | None = None
        self.task: asyncio.Task[None] | None = None
        self.due: set[SessionSocket] = set()  # to recheck now
        self.rechecker: asyncio.Task[None] | None = None
        self.failing = False
        self.events_down = False  # per-user events may not reach this worker
        self.credentials_due = False

    def add(self, socket: SessionSocket, valid_sessions: ValidSessions) -> None:
        self.sockets.add(socket)
        self.valid_sessions = valid_sessions
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._loop())

    def discard(self, socket: SessionSocket) -> None:
        self.sockets.discard(socket)
        self.due.discard(socket)

    def set_events_down(self, down: bool) -> None:
        """The layer that carries per-user events is down (or back: then the
        credentials are checked once more, for what was missed meanwhile)."""
        self.events_down = down
        self.credentials_due = True

    def recheck(self, sockets: Iterable[SessionSocket]) -> None:
        """Check these sockets' sessions now, not at the next interval."""
        self.due.update(socket for socket in sockets if socket in self.sockets)
        if self.due and (self.rechecker is None or self.rechecker.done()):
            self.rechecker = asyncio.create_task(self._recheck_due())

    async def _recheck_due(self) -> None:
        while self.due:
            sockets, self.due = self.due, set()
            if not await self._guarded(sockets, credentials=True):
                self.credentials_due = True  # the database was away: the next tick

    async def _loop(self) -> None:
        ticks = 0
        while self.sockets:
            await asyncio.sleep(settings.SESSION_CHECK_INTERVAL)
            ticks += 1
            due = self.events_down or self.credentials_due or ticks % CREDENTIAL_CHECK_EVERY == 0
            self.credentials_due = False
            if not await self._guarded(None, credentials=due) and due:
                self.credentials_due = True  # the database was away: the next tick

    async def _guarded(self, sockets: Iterable[SessionSocket] | None, *, credentials: bool) -> bool:
        """Check; whether the check was made."""
        try:
            await self.check(sockets, credentials=credentials)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not is_outage(exc):
                logger.exception("session check failed")
            elif not self.failing:
                logger.warning("session check skipped while the database is away: %s", exc)
            self.failing = True
            return False
        self.failing = False
        return True

    async def check(
        self, sockets: Iterable[SessionSocket] | None = None, *, credentials: bool = True
    ) -> None:
        """Close the sockets (by default all of them) whose session ended."""
        if self.valid_sessions is None:
            return
        checked = list(self.sockets if sockets is None else sockets)
        if not checked:
            return
        sessions = list({socket.session for socket in checked})
        valid = await self.valid_sessions(sessions, credentials=credentials)
        for socket in checked:
            if socket.session not in valid and socket in self.sockets:
                self.discard(socket)
                await socket.session_ended()


_watchers = PerLoop(SessionWatcher)


def watcher() -> SessionWatcher:
    return _watchers.get()
