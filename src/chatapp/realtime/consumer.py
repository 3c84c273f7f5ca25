"""The /ws/ socket: one per browser tab, carrying every frame of PROTOCOL.md.

Thin: it parses frames (``protocol``), checks access through ``chat.sql``,
writes through ``chat.services`` and dispatches by a table. An outbound frame
is written straight to the server's transport when nothing is waiting before
it; once the server cannot take a frame at once, later ones wait in a bounded
queue that a writer task drains. A client that does not read fills that queue
and is closed with 4408 rather than stalling anyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator
from dataclasses import dataclass
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from chatapp.accounts.serializers import user_json
from chatapp.chat import selectors, services, sql
from chatapp.chat.serializers import message_json
from chatapp.realtime import events, protocol
from chatapp.realtime.hub import hub
from chatapp.realtime.limits import TokenBucket, limits
from chatapp.realtime.protocol import FrameError
from chatapp.realtime.sessions import watcher

logger = logging.getLogger(__name__)

CATCH_UP_PAGE = 200


@dataclass(slots=True)
class Subscription:
    """Delivery state of one room on one socket: ``last`` is the seq of the
    last message frame queued; None until the subscribe is answered."""

    last: int | None = None
    highest_seen: int = 0
    catching_up: bool = False


class _Resumed:
    """Awaits the rest of a coroutine that was started by hand and suspended on
    ``waiting``: the send that could not finish at once, handed to a task."""

    __slots__ = ("coro", "waiting")

    def __init__(self, coro: Coroutine[Any, Any, Any], waiting: Any) -> None:
        self.coro = coro
        self.waiting = waiting

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, waiting = self.coro, self.waiting
        while True:
            try:
                value = yield waiting
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # cancellation and the like: pass it on
                try:
                    waiting = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    waiting = coro.send(value)
                except StopIteration as stop:
                    return stop.value


# Frames and relayed events that reach the consumer use asyncpg, never the
# ORM: they skip Channels' per-message close_old_connections (a thread hop).
ORM_FREE_MESSAGES = frozenset({"websocket.receive", "user.frame"})


class ChatConsumer(AsyncWebsocketConsumer):
    user_id: int
    session_key: str

    async def connect(self) -> None:
        user = self.scope.get("user")
        session_key = self.scope.get("session_key")
        await self.accept()
        if user is None or not user.is_authenticated or not session_key:
            await self.close(code=protocol.CLOSE_UNAUTHENTICATED)
            return
        self.user = user
        self.user_id = user.pk
        self.session_key = session_key
        self.subscriptions: dict[int, Subscription] = {}
        self.open_outbox(settings.WS_OUTBOX_SIZE)
        self.frames = TokenBucket(settings.WS_FRAME_RATE, settings.WS_FRAME_BURST)
        rooms = await selectors.rooms_for_user(self.user_id)
        # hello is always the first frame; per-user events only follow it.
        self.push(
            {
                "type": "hello",
                "user": user_json(user),
                "rooms": rooms,
                "notifications_unread": await sql.notifications_unread(self.user_id),
            }
        )
        await self.channel_layer.group_add(events.user_group(self.user_id), self.channel_name)
        watcher().add(self)

    async def disconnect(self, code: int) -> None:
        if not hasattr(self, "subscriptions"):
            return
        self.closing = True
        watcher().discard(self)
        if self.writer is not None:
            self.writer.cancel()
        for task in self.tasks:
            task.cancel()
        the_hub = hub()
        for room_id in list(self.subscriptions):
            with contextlib.suppress(Exception):
                await the_hub.leave(room_id, self)
        self.subscriptions.clear()
        with contextlib.suppress(Exception):
            await self.channel_layer.group_discard(
                events.user_group(self.user_id), self.channel_name
            )

    # --- outbound ---------------------------------------------------------------

    def open_outbox(self, limit: int) -> None:
        self.outbox: deque[str] = deque()
        self.outbox_limit = limit
        self.writer: asyncio.Task[None] | None = None  # set while frames wait
        self.space_waiter: asyncio.Future[None] | None = None
        self.closing = False
        self.tasks: set[asyncio.Task[None]] = set()

    def push(self, frame: dict[str, Any]) -> None:
        self.push_text(protocol.encode(frame))

    def push_text(self, text: str) -> None:
        if self.closing:
            return
        if self.writer is None:
            self._write_now(text)
            return
        if len(self.outbox) >= self.outbox_limit:
            self._close_soon(protocol.CLOSE_TOO_SLOW)
            return
        self.outbox.append(text)

    def _write_now(self, text: str) -> None:
        """Hand the frame to the server at once, without a task: the server's send
        only suspends when its transport is full. If it does, a writer task
        finishes that send and then drains the frames queued behind it."""
        send = self.base_send({"type": "websocket.send", "text": text})
        if not isinstance(send, Coroutine):  # a server whose send is a future
            self.writer = asyncio.ensure_future(self._drain(send))
            return
        try:
            waiting = send.send(None)
        except StopIteration:
            return
        except Exception:
            self._lost()
            return
        self.writer = asyncio.ensure_future(self._drain(_Resumed(send, waiting)))

    async def _drain(self, pending: Awaitable[Any]) -> None:
        send = self.base_send
        outbox = self.outbox
        try:
            await pending
            while outbox:
                await send({"type": "websocket.send", "text": outbox.popleft()})
                waiter = self.space_waiter
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)
        except Exception:
            self._lost()
        finally:
            self.writer = None

    def _lost(self) -> None:
        """The server refused a frame: the client is gone; its disconnect follows."""
        self.closing = True
        self.outbox.clear()
        waiter = self.space_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _close_soon(self, code: int) -> None:
        if self.closing:
            return
        self.closing = True
        self._spawn(self.close(code=code))

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _queue_waiting(self, text: str) -> None:
        """Queue a frame, waiting for room rather than closing (catch-up only)."""
        while len(self.outbox) >= self.outbox_limit and not self.closing:
            self.space_waiter = asyncio.get_running_loop().create_future()
            await self.space_waiter
        self.space_waiter = None
        self.push_text(text)

    async def session_ended(self) -> None:
        self._close_soon(protocol.CLOSE_UNAUTHENTICATED)

    async def user_frame(self, event: dict[str, Any]) -> None:
        self.push_text(event["text"])

    # --- room delivery: in seq order, no gap, no duplicate -------------------------

    def room_frame(self, room_id: int, seq: int | None, text: str) -> None:
        sub = self.subscriptions.get(room_id)
        if sub is None:
            return
        if seq is None:  # presence, typing: not part of the sequence
            if sub.last is not None:
                self.push_text(text)
            return
        sub.highest_seen = max(sub.highest_seen, seq)
        if sub.last is None or sub.catching_up or seq <= sub.last:
            return  # not ready yet, being filled from the database, or a duplicate
        if seq == sub.last + 1:
            sub.last = seq
            self.push_text(text)
            return
        self._start_catch_up(room_id, sub)  # a gap: fill it from the database

    def _start_catch_up(self, room_id: int, sub: Subscription) -> None:
        if not sub.catching_up:
            sub.catching_up = True
            self._spawn(self._catch_up(room_id, sub))

    async def _catch_up(self, room_id: int, sub: Subscription) -> None:
        try:
            while sub.last is not None and self.subscriptions.get(room_id) is sub:
                rows = await sql.messages_after(room_id, sub.last, CATCH_UP_PAGE)
                if self.subscriptions.get(room_id) is not sub:
                    return
                for row in rows:
                    if row.seq == sub.last + 1:
                        sub.last = row.seq
                        await self._queue_waiting(
                            protocol.encode({"type": "message", "message": message_json(row)})
                        )
                if len(rows) < CATCH_UP_PAGE and sub.last >= sub.highest_seen:
                    return
        finally:
            sub.catching_up = False

    # --- inbound ----------------------------------------------------------------

    async def dispatch(self, message: dict[str, Any]) -> None:
        if message["type"] in ORM_FREE_MESSAGES:
            await getattr(self, message["type"].replace(".", "_"))(message)
        else:
            await super().dispatch(message)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closing:
            return
        if not self.frames.take():
            self.push(protocol.error(protocol.RATE_LIMITED, "Too many frames; slow down."))
            return
        try:
            frame = protocol.decode(text_data)
            handler = self.HANDLERS.get(frame["type"])
            if handler is None:
                raise FrameError(protocol.INVALID, f"Unknown frame type {frame['type'][:40]!r}.")
            await handler(self, frame)
        except FrameError as exc:
            self.push(protocol.error(exc.code, exc.detail, exc.ref))

    async def _room(self, frame: dict[str, Any]) -> tuple[int, int]:
        """The room named by the frame and its last_seq, if the user may use it."""
        room_id = protocol.field_room(frame)
        found = await sql.room_access(room_id, self.user_id)
        if found is None:
            raise FrameError(protocol.NOT_FOUND, "No such room.", protocol.ref_of(frame))
        return room_id, found[1]

    async def on_subscribe(self, frame: dict[str, Any]) -> None:
        after = protocol.field_int(frame, "after_seq", optional=True)
        if after is not None and after < 0:
            raise FrameError(protocol.INVALID, '"after_seq" must not be negative.')
        room_id, _ = await self._room(frame)
        the_hub = hub()
        old = self.subscriptions.get(room_id)
        sub = Subscription()
        self.subscriptions[room_id] = sub
        if old is None:
            await the_hub.join(room_id, self)
        # Joined first, then read: anything published from here on is seen live
        # or caught up below.
        found = await sql.room_access(room_id, self.user_id)
        last_seq = found[1] if found else 0
        online = await the_hub.online(room_id)
        self.push({"type": "subscribed", "room": room_id, "last_seq": last_seq, "online": online})
        sub.last = last_seq if after is None else min(after, last_seq)
        if sub.last < max(last_seq, sub.highest_seen):
            self._start_catch_up(room_id, sub)

    async def on_unsubscribe(self, frame: dict[str, Any]) -> None:
        room_id = protocol.field_room(frame)
        if self.subscriptions.pop(room_id, None) is not None:
            await hub().leave(room_id, self)
        self.push({"type": "unsubscribed", "room": room_id})

    async def on_send(self, frame: dict[str, Any]) -> None:
        send = protocol.parse_send(frame, max_body=settings.CHAT_MESSAGE_MAX_CHARS)
        room_id = protocol.field_room(frame)
        access = await sql.room_access(room_id, self.user_id)
        if access is None:
            raise FrameError(protocol.NOT_FOUND, "No such room.", send.client_id)
        if not await limits().allow_send(self.user_id):
            raise FrameError(protocol.RATE_LIMITED, "You are sending too fast.", send.client_id)
        row, _ = await services.message_send(
            room_id=room_id,
            room_kind=access[0],
            author_id=self.user_id,
            body=send.body,
            client_id=send.client_id,
        )
        self.push({"type": "ack", "client_id": send.client_id, "message": message_json(row)})

    async def on_history(self, frame: dict[str, Any]) -> None:
        before = protocol.field_int(frame, "before_seq", optional=True)
        limit = protocol.parse_history_limit(frame)
        room_id, _ = await self._room(frame)
        rows, has_more = await sql.messages_before(room_id, before, limit)
        self.push(
            {
                "type": "history",
                "room": room_id,
                "messages": [message_json(row) for row in rows],
                "has_more": has_more,
            }
        )

    async def on_typing(self, frame: dict[str, Any]) -> None:
        room_id, _ = await self._room(frame)
        if room_id in self.subscriptions and await limits().allow_typing(self.user_id, room_id):
            await events.typing(room_id, user_json(self.user))

    async def on_read(self, frame: dict[str, Any]) -> None:
        seq = protocol.field_int(frame, "seq")
        room_id, _ = await self._room(frame)
        await services.room_read(room_id=room_id, user_id=self.user_id, seq=seq or 0)

    async def on_ping(self, frame: dict[str, Any]) -> None:
        self.push({"type": "pong"})

    HANDLERS: dict[str, Callable[[ChatConsumer, dict[str, Any]], Awaitable[None]]] = {
        "subscribe": on_subscribe,
        "unsubscribe": on_unsubscribe,
        "send": on_send,
        "history": on_history,
        "typing": on_typing,
        "read": on_read,
        "ping": on_ping,
    }
