"""Per-process fan-out of live events, and recovery from channel-layer faults.

A worker process joins a group once per room that has a socket here, and one
group for all per-user events, through one channel of its own; one loop
receives from that channel and hands each already-encoded frame to the local
sockets. A message
then costs one layer delivery per process plus one write per socket, not one
layer delivery per member. Events published here reach this worker's sockets
at once, without the layer hop; other workers get them through the layer.

The channel layer is at-most-once and forgets every group when Redis
restarts. The hub owns recovery, and nothing else in the code knows Redis
went away:

- a failed layer or Redis call marks the layer down (one warning per worker),
  and never reaches a socket: sockets stay open, sends are still stored;
- while it is down the hub catches its rooms up from the database about once a
  second (``RoomSource``), so messages still reach every socket;
- a marker key of this worker, refreshed every second on the main Redis and
  on each shard of the layer, tells a restart that went unnoticed (redis-py
  reconnects by itself);
- a Sentinel failover is a restart like any other: the calls to the lost
  master fail, and redis-py's sentinel-managed connections find the new
  master by themselves (a demoted master's READONLY answer drops the
  connection), so the same rejoin covers it;
- when the layer is back (one info line), the hub rejoins every group at once,
  rewrites its presence entries and catches every room up once more.

The hub also holds each user to ``MAX_SOCKETS_PER_USER`` sockets across
workers (``socketcap``), closing the oldest wherever they are through the same
per-user event path as user frames.

With the in-memory layer there is one process holding every socket: events
go straight from ``publish_*`` to the local sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from channels.layers import BaseChannelLayer, InMemoryChannelLayer, get_channel_layer
from django.conf import settings

from chatapp import wire
from chatapp.core import metrics
from chatapp.core.loops import PerLoop
from chatapp.realtime import protocol
from chatapp.realtime.presence import Presence
from chatapp.realtime.redis_client import fail_fast_client
from chatapp.realtime.sessions import watcher as session_watcher
from chatapp.realtime.socketcap import SocketCap

logger = logging.getLogger(__name__)

T = TypeVar("T")

CATCH_UP_PAGE = 200
# How often the hub checks the layer, and catches rooms up while it is down.
LAYER_CHECK_INTERVAL = 1.0
# Catch-up from the database while the layer is up: a safety net for events the
# at-most-once layer dropped (a message nobody would otherwise notice missing).
POLL_INTERVAL_WHEN_UP = 10.0
# Group memberships expire in channels-redis after a day; renew them hourly.
REJOIN_INTERVAL = 3600.0
CLOSE_TIMEOUT = 2.0
# A worker's marker key outlives this many missed checks before it expires.
MARKER_TTL_CHECKS = 10


# Where a room frame sits in the room's chain of revisions: the revision it
# follows (prev), the one it brings its socket to (pos), and the revision its
# chain started from (start; a live change is a chain of one: start == prev).
# Frames outside the chain (presence, typing) have none.
Order = tuple[int, int, int]


class LocalSocket(Protocol):
    user_id: int
    socket_id: str  # set by ``Hub.add_user_socket``

    def room_frame(self, room_id: int, order: Order | None, text: str) -> bool: ...

    def user_frame(self, text: str) -> None: ...

    def close_soon(self, code: int) -> None: ...

    def session_changed(self) -> None: ...


class RoomSource(Protocol):
    """Where the hub and the sockets read what the layer may have dropped: the database."""

    async def last_revs(self, room_ids: list[int]) -> dict[int, int]:
        """The current revision of each room."""

    async def chain_after(
        self, room_id: int, after: int, limit: int
    ) -> tuple[list[tuple[int, int, str]], bool]:
        """Up to ``limit`` frames (prev, pos, text) that bring a socket from
        revision ``after`` towards the room's current one, the first with
        prev == after, each following the one before; and whether they reach it."""


_source: RoomSource | None = None


def use_source(source: RoomSource) -> None:
    """Set where catch-up reads rooms from (the ASGI app does, at import)."""
    global _source
    _source = source


def room_group(room_id: int) -> str:
    return f"room.{room_id}"


# Every worker joins this one group for per-user events and keeps those of the
# users it has sockets of. A group per user cost a Redis round trip on every
# connect and every disconnect (measured: 15 % of the server's CPU in a connect
# storm); a per-user event is rare next to those, and workers are few.
USERS_GROUP = "users"


class Hub:
    def __init__(self, layer: BaseChannelLayer) -> None:
        self.layer = layer
        self.worker_id = uuid.uuid4().hex[:12]
        self.local_only = isinstance(layer, InMemoryChannelLayer)
        self.redis = None if self.local_only else fail_fast_client()
        self.presence = Presence(self.worker_id, self.redis)
        self.cap = SocketCap(self.worker_id, self.redis)
        self.cap_writer: asyncio.Task[None] | None = None
        self.cap_lock = asyncio.Lock()
        self.rooms: dict[int, set[LocalSocket]] = {}
        self.users: dict[int, set[LocalSocket]] = {}
        self.room_rev: dict[int, int] = {}  # highest revision this worker has passed on
        self.online_shown: dict[int, int] = {}
        self.online_known: dict[int, float] = {}  # when online_shown was computed
        self.presence_refreshed = 0.0
        self.flush_requested = self.flush_completed = 0
        self.flush_done = asyncio.Condition()
        self.flusher: asyncio.Task[None] | None = None
        self.announce_due: set[int] = set()
        self.announcer: asyncio.TimerHandle | None = None
        self.layer_up = True
        self.draining = False  # set on SIGTERM: /readyz answers 503, new sockets are refused
        self.drain_task: asyncio.Task[None] | None = None
        self.channel: str | None = None
        self.tasks: list[asyncio.Task[Any]] = []
        self.spawned: set[asyncio.Task[Any]] = set()

    # --- start and stop ----------------------------------------------------------

    async def start(self) -> None:
        if self.tasks:
            return
        self.tasks.append(asyncio.create_task(self._watch_loop()))
        if not self.local_only:
            self.tasks.append(asyncio.create_task(self._receive_loop()))
            await self._group_add(USERS_GROUP)

    async def close(self) -> None:
        if self.announcer is not None:
            self.announcer.cancel()
        tasks = [*self.tasks, *self.spawned]
        tasks += [task for task in (self.flusher, self.cap_writer) if task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            # Bounded: a receive cancelled inside channels-redis can stay
            # "cancelling" for good, and a worker that never finishes its
            # shutdown never finishes a rolling restart either.
            await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT)
        self.tasks = []
        if self.redis is not None:
            with contextlib.suppress(Exception):
                await self.redis.aclose()

    # --- layer calls that never reach a socket ----------------------------------------

    async def _layer(self, call: Callable[[], Awaitable[Any]]) -> bool:
        """Run a layer or Redis call; a failure marks the layer down, never raises."""
        if not self.layer_up:
            return False
        try:
            await call()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._layer_lost(exc)
            return False
        return True

    def _layer_lost(self, exc: BaseException) -> None:
        metrics.LAYER_ERRORS.inc()
        if self.layer_up:
            self.layer_up = False
            metrics.LAYER_DOWN.set(1)
            session_watcher().set_events_down(True)  # per-user rechecks cannot arrive
            logger.warning(
                "hub: the channel layer is unreachable (%s: %s); sockets stay open, "
                "rooms are caught up from the database until it is back",
                type(exc).__name__,
                exc,
            )

    async def _channel(self) -> str:
        if self.channel is None:
            # The default prefix on purpose: channels-redis reads all of a process's
            # channels from one Redis key per prefix, and only the default one is
            # read while other receives hold its lock.
            self.channel = await self.layer.new_channel()
        return self.channel

    async def _group_add(self, group: str) -> None:
        if not self.local_only:
            channel = await self._channel()
            await self._layer(lambda: self.layer.group_add(group, channel))

    async def _group_discard(self, group: str) -> None:
        if not self.local_only and self.channel is not None:
            channel = self.channel
            await self._layer(lambda: self.layer.group_discard(group, channel))

    # --- local sockets ---------------------------------------------------------------

    async def add_user_socket(self, socket: LocalSocket) -> None:
        """Deliver the user's events to ``socket``, and hold the user to
        MAX_SOCKETS_PER_USER: the oldest sockets beyond it are closed."""
        await self.start()
        socket.socket_id = self.cap.new_id()
        sockets = self.users.get(socket.user_id)
        if sockets is None:
            sockets = self.users[socket.user_id] = set()
        sockets.add(socket)
        over = self.cap.add(socket.user_id, socket.socket_id)
        if over:
            self.dispatch_close(socket.user_id, over, protocol.CLOSE_TOO_MANY_SOCKETS)
        self._write_cap_soon()

    async def remove_user_socket(self, socket: LocalSocket) -> None:
        sockets = self.users.get(socket.user_id)
        if sockets is None or socket not in sockets:
            return
        sockets.discard(socket)
        if not sockets:
            del self.users[socket.user_id]
        self.cap.remove(socket.user_id, socket.socket_id)
        self._write_cap_soon()

    def _write_cap_soon(self) -> None:
        """Write the socket cap's changes to Redis in the background: the
        connects and disconnects meanwhile share the next pipeline."""
        if not self.cap.pending or not self.layer_up:
            return
        if self.cap_writer is None or self.cap_writer.done():
            self.cap_writer = asyncio.create_task(self._write_cap_loop())

    async def _write_cap_loop(self) -> None:
        while self.cap.pending and await self._layer(self._write_cap):
            pass

    async def _write_cap(self, *, everything: bool = False) -> None:
        """Write the socket cap to Redis (raises when it is unreachable), and
        close the sockets that new ones put beyond it, wherever they are."""
        async with self.cap_lock:
            over = await self.cap.flush(everything=everything)
        for user_id, socket_ids in over.items():
            await self.close_user_sockets(user_id, socket_ids, protocol.CLOSE_TOO_MANY_SOCKETS)

    async def join(self, room_id: int, socket: LocalSocket) -> None:
        """Deliver the room's events to ``socket`` (presence is separate: ``show``)."""
        await self.start()
        members = self.rooms.get(room_id)
        if members is None:
            members = self.rooms[room_id] = set()
            await self._group_add(room_group(room_id))
        members.add(socket)

    async def leave(self, room_id: int, socket: LocalSocket, *, shown: bool = True) -> None:
        members = self.rooms.get(room_id)
        if members is None or socket not in members:
            return
        members.discard(socket)
        if not members:
            del self.rooms[room_id]
            self.online_shown.pop(room_id, None)
            self.online_known.pop(room_id, None)
            self.room_rev.pop(room_id, None)
            await self._group_discard(room_group(room_id))
        if shown and self.presence.remove(room_id, socket.user_id):
            self._announce_soon(room_id)

    async def show(self, room_id: int, user_id: int) -> None:
        """Count the user online in the room (a subscribed socket), on every
        worker by the time this returns."""
        if self.presence.add(room_id, user_id):
            self._announce_soon(room_id)
            await self.flush_presence()

    async def flush_presence(self) -> None:
        """Write this worker's presence changes to Redis. Callers that come while
        a write is under way share the next one: a thousand subscribes at once
        make a few pipelines, not a thousand round trips."""
        if self.redis is None or not self.layer_up:
            return
        self.flush_requested += 1
        wanted = self.flush_requested
        async with self.flush_done:
            if self.flusher is None or self.flusher.done():
                self.flusher = asyncio.create_task(self._flush_loop())
            await self.flush_done.wait_for(lambda: self.flush_completed >= wanted)

    async def _flush_loop(self) -> None:
        while self.flush_completed < self.flush_requested:
            target = self.flush_requested
            await self._layer(self.presence.flush)
            async with self.flush_done:
                self.flush_completed = target
                self.flush_done.notify_all()

    def note_rev(self, room_id: int, rev: int) -> None:
        """The room is known to be at ``rev`` (read when a socket subscribed)."""
        if rev > self.room_rev.get(room_id, 0) and room_id in self.rooms:
            self.room_rev[room_id] = rev

    # --- presence ------------------------------------------------------------------

    async def online(self, room_id: int) -> int:
        """Users online in the room. A count computed within the debounce
        interval is reused: a thousand subscribes at once make one query."""
        known = self.online_known.get(room_id)
        if known is not None and time.monotonic() - known < settings.PRESENCE_DEBOUNCE:
            return max(self.online_shown[room_id], self.presence.local_online(room_id))
        online = await self._count_online(room_id)
        self.online_known[room_id] = time.monotonic()
        self.online_shown.setdefault(room_id, online)
        return online

    async def _count_online(self, room_id: int) -> int:
        return await self._presence_read(
            lambda: self.presence.online(room_id), self.presence.local_online(room_id)
        )

    async def is_online(self, room_id: int, user_id: int) -> bool:
        return await self._presence_read(
            lambda: self.presence.is_online(room_id, user_id),
            user_id in self.presence.local.get(room_id, ()),
        )

    async def _presence_read(self, read: Callable[[], Awaitable[T]], local: T) -> T:
        """Presence across workers from Redis, or this worker's own while it is away."""
        if self.layer_up:
            try:
                return await read()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._layer_lost(exc)
        return local

    def _announce_soon(self, room_id: int) -> None:
        """Announce the room's count soon. Joins and leaves within the debounce
        interval make one frame and one Redis pipeline, not one each: a thousand
        sockets subscribing at once would otherwise cost a million frames."""
        self.announce_due.add(room_id)
        if self.announcer is None:
            loop = asyncio.get_running_loop()
            self.announcer = loop.call_later(settings.PRESENCE_DEBOUNCE, self._announce_now)

    def _announce_now(self) -> None:
        self.announcer = None
        rooms, self.announce_due = self.announce_due, set()
        self._spawn(self._announce(rooms))

    async def _announce(self, rooms: set[int]) -> None:
        await self.flush_presence()
        for room_id in rooms:
            if room_id not in self.rooms and self.layer_up is False:
                continue
            online = await self._count_online(room_id)
            self.online_known[room_id] = time.monotonic()
            if self.online_shown.get(room_id) != online or room_id not in self.rooms:
                self.online_shown[room_id] = online
                await self.publish_room(
                    room_id, wire.encode_text(wire.PresenceFrame(room=room_id, online=online))
                )

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self.spawned.add(task)
        task.add_done_callback(self._spawn_done)

    def _spawn_done(self, task: asyncio.Task[Any]) -> None:
        self.spawned.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("hub: background task failed", exc_info=task.exception())

    # --- publish and dispatch ----------------------------------------------------------

    async def publish_room(
        self,
        room_id: int,
        text: str,
        *,
        order: Order | None = None,
        skip_user: int | None = None,
    ) -> None:
        """Deliver an encoded room frame to every worker's subscribed sockets."""
        self.dispatch_room(room_id, order, text, skip_user)
        if not self.local_only:
            event = {
                "type": "room.frame",
                "room": room_id,
                "order": order,
                "text": text,
                "skip_user": skip_user,
                "origin": self.worker_id,
            }
            await self._layer(lambda: self.layer.group_send(room_group(room_id), event))

    async def publish_user(self, user_id: int, text: str) -> None:
        """Deliver an encoded frame to every socket of the user, on every worker."""
        self.dispatch_user(user_id, text)
        if not self.local_only:
            event = {"type": "user.frame", "user": user_id, "text": text, "origin": self.worker_id}
            await self._layer(lambda: self.layer.group_send(USERS_GROUP, event))

    async def close_user_sockets(self, user_id: int, socket_ids: list[str], code: int) -> None:
        """Close these sockets of the user (``socket_id``) on whichever worker holds them."""
        self.dispatch_close(user_id, socket_ids, code)
        if not self.local_only and not all(map(self.cap.is_local, socket_ids)):
            event = {
                "type": "user.close",
                "user": user_id,
                "sockets": socket_ids,
                "code": code,
                "origin": self.worker_id,
            }
            await self._layer(lambda: self.layer.group_send(USERS_GROUP, event))

    async def publish_session_check(self, user_id: int) -> None:
        """Have every socket of the user, on every worker, check its session now."""
        self.dispatch_session_check(user_id)
        if not self.local_only:
            event = {"type": "user.sessions", "user": user_id, "origin": self.worker_id}
            await self._layer(lambda: self.layer.group_send(USERS_GROUP, event))

    def dispatch_room(
        self, room_id: int, order: Order | None, text: str, skip_user: int | None
    ) -> None:
        if order is not None and room_id in self.rooms and order[1] > self.room_rev.get(room_id, 0):
            self.room_rev[room_id] = order[1]
        # Counted here in a plain int, and into the metrics once per frame, not
        # once per socket (each ``inc`` takes a lock and writes a mapped file).
        written = 0
        for socket in tuple(self.rooms.get(room_id, ())):
            if socket.user_id != skip_user and socket.room_frame(room_id, order, text):
                written += 1
        if written:
            metrics.WS_FRAMES_OUT.inc(written)
            if order is not None:
                metrics.DELIVERIES.inc(written)

    def dispatch_user(self, user_id: int, text: str) -> None:
        for socket in tuple(self.users.get(user_id, ())):
            socket.user_frame(text)

    def dispatch_session_check(self, user_id: int) -> None:
        for socket in tuple(self.users.get(user_id, ())):
            socket.session_changed()

    def dispatch_close(self, user_id: int, socket_ids: list[str], code: int) -> None:
        wanted = set(socket_ids)
        for socket in tuple(self.users.get(user_id, ())):
            if socket.socket_id in wanted:
                socket.close_soon(code)

    def _dispatch_event(self, event: dict[str, Any]) -> None:
        if event.get("origin") == self.worker_id:
            return  # delivered here when it was published
        kind = event.get("type")
        if kind == "room.frame":
            room_id, order, skip_user = event["room"], event.get("order"), event.get("skip_user")
            if order is not None:
                order = (order[0], order[1], order[2])  # msgpack brings a list
            self.dispatch_room(room_id, order, event["text"], skip_user)
        elif kind == "user.frame":
            self.dispatch_user(event["user"], event["text"])  # a no-op without its sockets
        elif kind == "user.sessions":
            self.dispatch_session_check(event["user"])
        elif kind == "user.close":
            self.dispatch_close(event["user"], event["sockets"], event["code"])

    async def _receive_loop(self) -> None:
        while True:
            if not self.layer_up:
                await asyncio.sleep(LAYER_CHECK_INTERVAL)
                continue
            try:
                event = await self.layer.receive(await self._channel())
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._layer_lost(exc)
                continue
            try:
                self._dispatch_event(event)
            except Exception:
                logger.exception("hub: a layer event could not be delivered: %.200r", event)

    # --- watching the layer, catching up from the database ------------------------------

    async def _watch_loop(self) -> None:
        last_poll = last_rejoin = time.monotonic()
        if self.redis is not None:
            await self._layer(self._set_marker)
        while True:
            await asyncio.sleep(LAYER_CHECK_INTERVAL)
            try:
                now = time.monotonic()
                if not self.local_only:
                    if self.layer_up and not await self._marker_held():
                        # Redis came back empty (restarted) without a failed call here.
                        self._layer_lost(ConnectionError("Redis restarted"))
                    if not self.layer_up and await self._rejoin():
                        last_rejoin = now
                        logger.info("hub: the channel layer is back; groups rejoined")
                        await self.catch_up_rooms()
                        last_poll = now
                        continue
                    renew = self.layer_up and now - last_rejoin > REJOIN_INTERVAL
                    if renew and await self._rejoin():
                        last_rejoin = now
                if not self.layer_up or now - last_poll >= POLL_INTERVAL_WHEN_UP:
                    last_poll = now
                    await self.catch_up_rooms()
                await self._refresh_presence()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("hub: upkeep failed; retrying", exc_info=True)

    def _marker_key(self) -> str:
        return f"{settings.REDIS_PREFIX}:worker:{self.worker_id}"

    def _marker_servers(self) -> list[Any]:
        """Clients of every Redis whose restart must be noticed: the main one
        and, when the layer is sharded, each shard (through the layer's own
        connections, so a shard is checked where the layer keeps its groups)."""
        servers = [self.redis]
        if settings.REDIS_LAYER_URLS:
            connection = getattr(self.layer, "connection", None)
            ring = getattr(self.layer, "ring_size", 0)
            if connection is not None:
                servers += [connection(index) for index in range(ring)]
        return servers

    async def _set_marker(self, *, only_refresh: bool = False) -> bool:
        """Set this worker's marker key on each server (with ``only_refresh``:
        only where Redis still has it); whether it is set on all of them."""
        assert self.redis is not None  # noqa: S101 - only called with Redis
        ttl = int(LAYER_CHECK_INTERVAL * MARKER_TTL_CHECKS * 1000)
        held = True
        for server in self._marker_servers():
            held &= bool(await server.set(self._marker_key(), 1, xx=only_refresh, px=ttl))
        return held

    async def _marker_held(self) -> bool:
        """Refresh this worker's marker; False if Redis had lost it (restarted)."""
        if self.redis is None:
            return True
        held = True

        async def refresh() -> None:
            nonlocal held
            held = await self._set_marker(only_refresh=True)

        if not await self._layer(refresh):
            return True  # already marked down by the failure
        return held

    async def _rejoin(self) -> bool:
        """Join every group of this worker again and rewrite its presence; True
        if Redis answered all of it."""
        try:
            channel = await self._channel()
            if self.redis is not None:
                await self._set_marker()
            for room_id in list(self.rooms):
                await self.layer.group_add(room_group(room_id), channel)
            await self.layer.group_add(USERS_GROUP, channel)
            await self.presence.flush(everything=True)
            await self._write_cap(everything=True)
        except asyncio.CancelledError:
            raise
        except Exception:
            return False
        self.layer_up = True
        metrics.LAYER_DOWN.set(0)
        session_watcher().set_events_down(False)
        return True

    async def _refresh_presence(self) -> None:
        """Keep this worker's presence entries from expiring, and announce counts
        that changed because another worker's entries expired."""
        if self.local_only or not self.layer_up:
            return
        now = time.monotonic()
        if now - self.presence_refreshed < settings.PRESENCE_TTL / 3:
            return
        self.presence_refreshed = now
        if await self._layer(lambda: self.presence.flush(everything=True)):
            for room_id in list(self.rooms):
                self.announce_due.add(room_id)
            if self.announce_due and self.announcer is None:
                self._announce_now()
        await self._layer(lambda: self._write_cap(everything=True))

    async def catch_up_rooms(self) -> None:
        """Pass on every change stored after the last revision this worker passed
        on, for every room it has sockets in: one query for all rooms, then one
        per room that moved. Sockets at that revision take the chain; the others
        see a gap and fill it themselves."""
        if _source is None or not self.rooms:
            return
        rooms = list(self.rooms)
        last = await _source.last_revs(rooms)
        for room_id in rooms:
            known = self.room_rev.get(room_id)
            if known is None or room_id not in self.rooms:
                continue
            start = known
            while last.get(room_id, 0) > known:
                frames, complete = await _source.chain_after(room_id, known, CATCH_UP_PAGE)
                if not frames:
                    break
                for prev, pos, text in frames:
                    self.dispatch_room(room_id, (prev, pos, start), text, None)
                    known = pos
                if complete:
                    break
                start = known


def _new_hub() -> Hub:
    layer = get_channel_layer()
    assert layer is not None  # noqa: S101 - CHANNEL_LAYERS always has a default
    return Hub(layer)


_hubs = PerLoop(_new_hub)


def hub() -> Hub:
    """This worker's hub."""
    return _hubs.get()


async def close_hub() -> None:
    found = _hubs.pop()
    if found is not None:
        await found.close()
