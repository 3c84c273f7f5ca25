"""The /ws/ endpoint: a plain ASGI application that moves encoded frames.

It knows no domain. The application hands it an ``Endpoint``: how to
authenticate a handshake (and build the ``hello`` frame), the handler of each
client frame type, and where to read a room's messages to fill a gap. This
module owns what every socket needs whatever it carries:

- the handshake: refused with an HTTP 503 and ``Retry-After`` while the worker
  drains or a dependency is down; closed with 4401 when not logged in;
- the receive loop: every frame is rate-limited, decoded and dispatched by a
  table; a frame never kills the socket (``protocol``), a dependency that is
  down becomes an ``unavailable`` error frame;
- room delivery along each room's chain of revisions (``hub.Order``), with no
  gap and no duplicate, gaps filled from the database;
- the bounded outbox (``outbox``);
- cleanup that runs however the socket ends, crash included;
- its metrics (``chatapp.core.metrics``) and one log line when it ends
  (logger ``chatapp.ws``: user id, duration, close code, frames in and out).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from asgiref.typing import ASGIReceiveCallable, ASGISendCallable, WebSocketScope
from django.conf import settings

from chatapp import wire
from chatapp.core import metrics
from chatapp.core.logs import REQUEST_ID, REQUEST_ID_HEADER
from chatapp.core.outages import RETRY_AFTER_SECONDS, is_outage
from chatapp.realtime import protocol
from chatapp.realtime.hub import CATCH_UP_PAGE, Order, RoomSource, hub
from chatapp.realtime.limits import TokenBucket
from chatapp.realtime.origins import origin_allowed, origin_needed
from chatapp.realtime.outbox import Outbox
from chatapp.realtime.protocol import FrameError
from chatapp.realtime.sessions import SessionRef, watcher

logger = logging.getLogger(__name__)
lifetimes = logging.getLogger("chatapp.ws")

# RFC 6455: "the server is terminating the connection because it is restarting"
# is 1012; "try again later" is 1013; 1006, never sent, names a connection
# that ended without a close frame.
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_ABNORMAL = 1006


@dataclass(slots=True)
class Identity:
    """Who a handshake authenticated, and the ``hello`` frame to greet them with."""

    user_id: int
    session_key: str
    user: wire.User  # for frames that name the sender
    hello: str
    # The user's credentials as the endpoint saw them: ``valid_sessions`` tells
    # whether they still hold (the transport only compares it).
    credential: str = ""


# Each handler takes the client frame type it is registered for.
Handler = Callable[["Socket", Any], Awaitable[None]]


class Endpoint(Protocol):
    """What the application plugs into the transport."""

    handlers: Mapping[type[wire.ClientFrame], Handler]
    source: RoomSource

    async def authenticate(self, scope: WebSocketScope) -> Identity | None: ...

    async def valid_sessions(
        self, sessions: list[SessionRef], *, credentials: bool
    ) -> set[SessionRef]:
        """Those of ``sessions`` that still exist (with ``credentials``: and still
        hold for their user); the sockets of the others are closed."""


@dataclass(slots=True)
class Subscription:
    """Delivery state of one room on one socket: ``last`` is the revision the
    frames queued so far bring the client to; None until the subscribe is
    answered. ``following``: the start of the chain those frames came from."""

    last: int | None = None
    highest_seen: int = 0
    catching_up: bool = False
    shown: bool = False  # counted in the room's presence
    following: int | None = None


# What a subscribe sends before the live frames: pages of encoded frames.
Backlog = AsyncIterator[list[str]]


class Socket:
    """One client's socket: what handlers see of it."""

    __slots__ = (
        "close_after_frame",
        "close_code",
        "closing",
        "endpoint",
        "frames",
        "frames_in",
        "frames_out",
        "handling",
        "opened",
        "outbox",
        "send",
        "session",
        "socket_id",
        "subscriptions",
        "tasks",
        "user",
        "user_id",
    )

    def __init__(self, endpoint: Endpoint, identity: Identity, send: ASGISendCallable) -> None:
        self.endpoint = endpoint
        self.user_id = identity.user_id
        self.user = identity.user
        self.session = SessionRef(identity.session_key, identity.user_id, identity.credential)
        self.socket_id = ""  # given by the hub (``add_user_socket``)
        self.send = send
        self.outbox = Outbox(send, settings.WS_OUTBOX_SIZE, self._too_slow)
        self.frames = TokenBucket(settings.WS_FRAME_RATE, settings.WS_FRAME_BURST)
        self.subscriptions: dict[int, Subscription] = {}
        self.tasks: set[asyncio.Task[Any]] | None = None
        self.closing = False
        self.handling = False  # a client frame is being handled
        self.close_after_frame: int | None = None
        # For the socket's log line: plain ints, the hot path's only cost.
        self.opened = time.monotonic()
        self.frames_in = 0
        self.frames_out = 0
        self.close_code: int | None = None  # the code this server closed with

    # --- outbound -------------------------------------------------------------------

    def push(self, frame: wire.ServerFrame) -> None:
        self.push_text(wire.encode_text(frame))

    def push_text(self, text: str) -> None:
        if self._write(text):
            metrics.WS_FRAMES_OUT.inc()

    def _write(self, text: str) -> bool:
        """Queue a frame; whether it was (not once closing). Uncounted in the
        metrics: the room fan-out counts its writes once per message."""
        if self.closing:
            return False
        self.frames_out += 1
        self.outbox.push(text)
        return True

    def user_frame(self, text: str) -> None:
        self.push_text(text)

    def close_soon(self, code: int) -> None:
        """Close with ``code`` (once); frames not yet written are dropped."""
        if self.closing:
            return
        if code == protocol.CLOSE_RESTARTING and self.handling:
            # Draining: the frame in hand (a send, say) is finished and answered
            # first, so its client has its ack before reconnecting.
            self.close_after_frame = code
            return
        self.closing = True
        self.close_code = code
        self.outbox.close()
        self.spawn(self._close(code))

    async def _close(self, code: int) -> None:
        with contextlib.suppress(Exception):  # the client may be gone already
            await self.send({"type": "websocket.close", "code": code, "reason": ""})

    def _too_slow(self) -> None:
        metrics.OUTBOX_OVERFLOWS.inc()
        self.close_soon(protocol.CLOSE_TOO_SLOW)

    async def session_ended(self) -> None:
        self.close_soon(protocol.CLOSE_UNAUTHENTICATED)

    def session_changed(self) -> None:
        """The user's sessions may have ended: check this socket's now."""
        watcher().recheck((self,))

    def spawn(self, coro: Awaitable[Any]) -> None:
        if self.tasks is None:
            self.tasks = set()
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # --- rooms: in seq order, no gap, no duplicate ---------------------------------------

    async def join(self, room_id: int) -> Subscription:
        """Start receiving the room's events; answer with ``start_delivery``
        once the room's last seq has been read (after joining: nothing
        published from here on is missed)."""
        old = self.subscriptions.get(room_id)
        sub = Subscription(shown=old is not None and old.shown)
        self.subscriptions[room_id] = sub
        if old is None:
            metrics.WS_SUBSCRIPTIONS.inc()
            await hub().join(room_id, self)
        return sub

    async def leave(self, room_id: int) -> None:
        sub = self.subscriptions.pop(room_id, None)
        if sub is not None:
            metrics.WS_SUBSCRIPTIONS.dec()
            await hub().leave(room_id, self, shown=sub.shown)

    async def show(self, room_id: int, sub: Subscription) -> None:
        """Count the user online in the room (once access is known)."""
        if not sub.shown and sub is self.subscriptions.get(room_id):
            sub.shown = True
            await hub().show(room_id, self.user_id)

    def start_delivery(
        self, room_id: int, sub: Subscription, position: int, backlog: Backlog | None = None
    ) -> None:
        """Send ``backlog`` (stored frames the client asked for), then the room's
        changes after revision ``position``: live, or from the database."""
        if sub is not self.subscriptions.get(room_id):
            return
        hub().note_rev(room_id, position)
        if backlog is not None:
            sub.catching_up = True
            self.spawn(self._catch_up(room_id, sub, backlog, position))
            return
        sub.last = position
        if position < sub.highest_seen:
            self._start_catch_up(room_id, sub)

    def room_frame(self, room_id: int, order: Order | None, text: str) -> bool:
        """Pass on a frame of the room; whether it was written (the hub counts)."""
        sub = self.subscriptions.get(room_id)
        if sub is None:
            return False
        if order is None:  # presence, typing: not part of the chain
            return sub.last is not None and self._write(text)
        prev, pos, start = order
        if pos > sub.highest_seen:
            sub.highest_seen = pos
        if sub.last is None or sub.catching_up or pos <= sub.last:
            return False  # not ready yet, being filled from the database, or a duplicate
        if prev == sub.last and (start == prev or start == sub.following):
            sub.last = pos
            sub.following = start
            return self._write(text)
        metrics.GAP_FILLS.inc()
        self._start_catch_up(room_id, sub)  # a gap: fill it from the database
        return False

    def _start_catch_up(self, room_id: int, sub: Subscription) -> None:
        if not sub.catching_up:
            sub.catching_up = True
            self.spawn(self._catch_up(room_id, sub))

    async def _catch_up(
        self,
        room_id: int,
        sub: Subscription,
        backlog: Backlog | None = None,
        position: int | None = None,
    ) -> None:
        source = self.endpoint.source
        try:
            if backlog is not None:
                async for page in backlog:
                    if self.subscriptions.get(room_id) is not sub:
                        return
                    for text in page:
                        await self.outbox.push_waiting(text)
                    self.frames_out += len(page)
                    metrics.DELIVERIES.inc(len(page))
                    metrics.WS_FRAMES_OUT.inc(len(page))
                sub.last = position
            while sub.last is not None and self.subscriptions.get(room_id) is sub:
                if sub.last >= sub.highest_seen:
                    return
                try:
                    frames, complete = await source.chain_after(room_id, sub.last, CATCH_UP_PAGE)
                except Exception as exc:
                    if not is_outage(exc):
                        raise
                    # The database is away: the hub catches the room up once it is back.
                    return
                if self.subscriptions.get(room_id) is not sub:
                    return
                written = 0
                for prev, pos, text in frames:
                    if prev == sub.last:
                        sub.last = pos
                        sub.following = None
                        await self.outbox.push_waiting(text)
                        written += 1
                if written:
                    self.frames_out += written
                    metrics.DELIVERIES.inc(written)
                    metrics.WS_FRAMES_OUT.inc(written)
                if complete and sub.last >= sub.highest_seen:
                    return
                if not frames:
                    return
        finally:
            sub.catching_up = False

    # --- inbound -------------------------------------------------------------------

    async def receive_text(self, text: str | None) -> None:
        if self.closing:
            return
        ref = None
        self.handling = True
        self.frames_in += 1
        try:
            if not self.frames.take():
                metrics.frame_in(None, over_limit=True)
                raise FrameError(wire.codes.RATE_LIMITED, "Too many frames; slow down.")
            try:
                frame = wire.decode_frame(text)
            except wire.WireError as exc:
                metrics.frame_in(None)
                raise FrameError(wire.codes.INVALID, exc.detail, wire.ref_of_text(text)) from None
            metrics.frame_in(type(frame))
            ref = wire.frame_ref(frame)
            handler = self.endpoint.handlers.get(type(frame))
            if handler is None:
                raise FrameError(wire.codes.INVALID, "This server does not take that frame.", ref)
            await handler(self, frame)
        except FrameError as exc:
            self.push(exc.frame())
        except Exception as exc:
            if is_outage(exc):
                logger.warning("socket: a frame failed, a dependency is down: %s", exc)
                detail = "The service is briefly unavailable; nothing was stored. Retry soon."
                self.push(wire.ErrorFrame(code=wire.codes.UNAVAILABLE, detail=detail, ref=ref))
            else:
                logger.exception("socket: a frame handler failed")
                detail = "Something went wrong on our side."
                self.push(wire.ErrorFrame(code=wire.codes.SERVER_ERROR, detail=detail, ref=ref))
        finally:
            self.handling = False
            if self.close_after_frame is not None:
                self.close_soon(self.close_after_frame)

    async def cleanup(self) -> None:
        """Forget the socket everywhere; runs however the socket ended."""
        self.closing = True
        self.outbox.close()
        watcher().discard(self)
        the_hub = hub()
        if self.subscriptions:
            metrics.WS_SUBSCRIPTIONS.dec(len(self.subscriptions))
        for room_id, sub in list(self.subscriptions.items()):
            with contextlib.suppress(Exception):
                await the_hub.leave(room_id, self, shown=sub.shown)
        self.subscriptions.clear()
        with contextlib.suppress(Exception):
            await the_hub.remove_user_socket(self)
        for task in list(self.tasks or ()):
            task.cancel()


class SocketApp:
    """The ASGI application of /ws/."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    async def __call__(
        self, scope: WebSocketScope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        if origin_needed(scope) and not origin_allowed(scope):
            # Refused before accepting: the client sees HTTP 403.
            await send({"type": "websocket.close", "code": protocol.CLOSE_FORBIDDEN, "reason": ""})
            return
        if hub().draining:
            await _refuse(scope, send, "This worker is restarting; connect again.")
            return
        try:
            identity = await self.endpoint.authenticate(scope)
        except Exception as exc:
            if is_outage(exc):
                logger.warning("socket: handshake refused, a dependency is down: %s", exc)
            else:
                logger.exception("socket: the handshake failed")
            await _refuse(scope, send, "The service is briefly unavailable; connect again soon.")
            return
        request_id = REQUEST_ID.get()
        headers = [(REQUEST_ID_HEADER, request_id.encode("ascii"))] if request_id else []
        await send({"type": "websocket.accept", "subprotocol": None, "headers": headers})
        if identity is None:
            await send(
                {"type": "websocket.close", "code": protocol.CLOSE_UNAUTHENTICATED, "reason": ""}
            )
            return
        socket = Socket(self.endpoint, identity, send)
        metrics.WS_CONNECTS.inc()
        metrics.WS_CONNECTIONS.inc()
        client_code = CLOSE_ABNORMAL
        try:
            socket.push_text(identity.hello)  # always the first frame
            await hub().add_user_socket(socket)
            watcher().add(socket, self.endpoint.valid_sessions)
            while True:
                message = await receive()
                if message["type"] == "websocket.receive":
                    await socket.receive_text(message.get("text"))
                elif message["type"] == "websocket.disconnect":
                    client_code = message.get("code", CLOSE_ABNORMAL)
                    return
        finally:
            await socket.cleanup()
            _ended(socket, client_code)


def _ended(socket: Socket, client_code: int) -> None:
    """Count the socket out and write its one log line: never its frames' content."""
    code = socket.close_code if socket.close_code is not None else client_code
    seconds = time.monotonic() - socket.opened
    metrics.WS_CONNECTIONS.dec()
    metrics.disconnected(code)
    lifetimes.info(
        "socket of user %d closed with %d after %.1f s, %d frames in, %d out",
        socket.user_id,
        code,
        seconds,
        socket.frames_in,
        socket.frames_out,
        extra={
            "event": "socket_closed",
            "user_id": socket.user_id,
            "close_code": code,
            "duration_s": round(seconds, 3),
            "frames_in": socket.frames_in,
            "frames_out": socket.frames_out,
        },
    )


async def _refuse(scope: WebSocketScope, send: ASGISendCallable, detail: str) -> None:
    """Refuse a handshake with 503 and Retry-After where the server can say so."""
    if "websocket.http.response" in (scope.get("extensions") or {}):
        body = wire.encode(wire.Error(wire.ErrorDetail(code=wire.codes.UNAVAILABLE, detail=detail)))
        await send(
            {
                "type": "websocket.http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
                ],
            }
        )
        await send({"type": "websocket.http.response.body", "body": body, "more_body": False})
    else:
        await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER, "reason": ""})
