"""Per-process fan-out of room events, and presence.

A worker process joins a room's group once, through one channel of its own,
when its first local socket subscribes, and leaves when the last one goes. One
loop receives from that channel and hands each already-encoded frame to the
local sockets of the room. The cost of a message is then one layer delivery per
process plus one write per socket, not one layer delivery per member.

With the in-memory layer there is one process, holding every socket: room
events go straight from ``publish`` to the local sockets, with no layer hop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter
from typing import Any, Protocol

from channels.layers import BaseChannelLayer, InMemoryChannelLayer, get_channel_layer
from django.conf import settings

from chatapp.core.loops import PerLoop
from chatapp.realtime import events

logger = logging.getLogger(__name__)


class LocalSocket(Protocol):
    user_id: int

    def room_frame(self, room_id: int, seq: int | None, text: str) -> None: ...


class Presence:
    """Who is online in a room: users, not sockets, across all workers.

    With Redis each worker keeps ``user:worker`` entries in a sorted set per
    room, scored by expiry and refreshed while the worker lives, so a dead
    worker's users drop out by themselves. Without Redis there is one worker,
    and its own counts are the truth.
    """

    def __init__(self, worker_id: str) -> None:
        self.worker_id = worker_id
        self.local: Counter[tuple[int, int]] = Counter()  # (room, user) -> local sockets
        self.redis: Any = None
        if settings.REDIS_URL:
            import redis.asyncio as redis

            self.redis = redis.Redis.from_url(settings.REDIS_URL)

    def _key(self, room_id: int) -> str:
        return f"{settings.REDIS_PREFIX}:presence:{room_id}"

    async def add(self, room_id: int, user_id: int) -> bool:
        """Count one more local socket; True if this worker now shows the user."""
        self.local[(room_id, user_id)] += 1
        if self.local[(room_id, user_id)] > 1:
            return False
        if self.redis is not None:
            expires = time.time() + settings.PRESENCE_TTL
            await self.redis.zadd(self._key(room_id), {f"{user_id}:{self.worker_id}": expires})
        return True

    async def remove(self, room_id: int, user_id: int) -> bool:
        """Count one local socket less; True if this worker no longer shows the user."""
        key = (room_id, user_id)
        if self.local[key] <= 0:
            return False
        self.local[key] -= 1
        if self.local[key] > 0:
            return False
        del self.local[key]
        if self.redis is not None:
            await self.redis.zrem(self._key(room_id), f"{user_id}:{self.worker_id}")
        return True

    async def online(self, room_id: int) -> int:
        if self.redis is None:
            return len({user for (room, user) in self.local if room == room_id})
        key = self._key(room_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(key, "-inf", time.time())
            pipe.zrange(key, 0, -1)
            _, members = await pipe.execute()
        return len({member.split(b":", 1)[0] for member in members})

    async def is_online(self, room_id: int, user_id: int) -> bool:
        """Whether the user has a socket subscribed to the room on any worker."""
        if (room_id, user_id) in self.local:
            return True
        if self.redis is None:
            return False
        prefix = f"{user_id}:".encode()
        members = await self.redis.zrangebyscore(self._key(room_id), time.time(), "+inf")
        return any(member.startswith(prefix) for member in members)

    async def refresh(self) -> None:
        if self.redis is None or not self.local:
            return
        expires = time.time() + settings.PRESENCE_TTL
        async with self.redis.pipeline(transaction=False) as pipe:
            for room_id, user_id in list(self.local):
                pipe.zadd(self._key(room_id), {f"{user_id}:{self.worker_id}": expires})
            await pipe.execute()


class RoomHub:
    def __init__(self, layer: BaseChannelLayer) -> None:
        self.layer = layer
        self.worker_id = uuid.uuid4().hex[:12]
        self.rooms: dict[int, set[LocalSocket]] = {}
        self.presence = Presence(self.worker_id)
        self.online_shown: dict[int, int] = {}
        self.announcing: set[int] = set()
        self.announce_tasks: set[asyncio.Task[None]] = set()
        self.local_only = isinstance(layer, InMemoryChannelLayer)
        self.channel: str | None = None
        self.tasks: list[asyncio.Task[None]] = []

    async def _start(self) -> None:
        if self.tasks:
            return
        # The default prefix on purpose: channels-redis reads all of a process's
        # channels from one Redis key per prefix, and only the default one is
        # read while the consumers' own receives hold its lock.
        channel = None if self.local_only else await self.layer.new_channel()
        if self.tasks:  # another join started the hub meanwhile
            return
        self.channel = channel
        self.tasks = [asyncio.create_task(self._upkeep_loop())]
        if channel is not None:
            self.tasks.append(asyncio.create_task(self._receive_loop(channel)))

    async def publish(self, event: dict[str, Any]) -> None:
        """Deliver a room event (``events`` builds it) to every worker's sockets."""
        if self.local_only:
            self.dispatch(event)
        else:
            await self.layer.group_send(events.room_group(event["room"]), event)

    async def join(self, room_id: int, socket: LocalSocket) -> None:
        members = self.rooms.get(room_id)
        if members is None:
            members = self.rooms[room_id] = set()
            await self._start()
            if self.channel is not None:
                await self.layer.group_add(events.room_group(room_id), self.channel)
        members.add(socket)
        if await self.presence.add(room_id, socket.user_id):
            await self._announce(room_id)

    async def leave(self, room_id: int, socket: LocalSocket) -> None:
        members = self.rooms.get(room_id)
        if members is None or socket not in members:
            return
        members.discard(socket)
        if not members:
            del self.rooms[room_id]
            self.online_shown.pop(room_id, None)
            if self.channel is not None:
                await self.layer.group_discard(events.room_group(room_id), self.channel)
        if await self.presence.remove(room_id, socket.user_id):
            await self._announce(room_id)

    async def online(self, room_id: int) -> int:
        return await self.presence.online(room_id)

    async def _announce(self, room_id: int) -> None:
        """Announce the room's count soon. Joins and leaves within the debounce
        interval make one frame, not one each: a thousand sockets subscribing
        at once would otherwise cost a million presence frames."""
        if room_id in self.announcing:
            return
        self.announcing.add(room_id)
        task = asyncio.create_task(self._announce_later(room_id))
        self.announce_tasks.add(task)
        task.add_done_callback(self.announce_tasks.discard)

    async def _announce_later(self, room_id: int) -> None:
        await asyncio.sleep(settings.PRESENCE_DEBOUNCE)
        self.announcing.discard(room_id)
        try:
            online = await self.presence.online(room_id)
            if self.online_shown.get(room_id) != online:
                self.online_shown[room_id] = online
                await events.presence_changed(room_id, online)
        except Exception:
            logger.exception("hub: presence announcement failed")

    def dispatch(self, event: dict[str, Any]) -> None:
        room_id = event.get("room")
        if not isinstance(room_id, int):
            return
        text = event["text"]
        seq = event.get("seq")
        skip_user = event.get("skip_user")
        for socket in tuple(self.rooms.get(room_id, ())):
            if socket.user_id != skip_user:
                socket.room_frame(room_id, seq, text)

    async def _receive_loop(self, channel: str) -> None:
        while True:
            try:
                event = await self.layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("hub: receive failed; retrying")
                await asyncio.sleep(0.5)
                continue
            if event.get("type") == "room.frame":
                self.dispatch(event)

    async def _upkeep_loop(self) -> None:
        """Keep group memberships and presence entries from expiring, and
        announce counts that changed because another worker's entries expired."""
        interval = max(1.0, settings.PRESENCE_TTL / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.presence.refresh()
                for room_id in list(self.rooms):
                    if self.channel is not None:
                        await self.layer.group_add(events.room_group(room_id), self.channel)
                    online = await self.presence.online(room_id)
                    if self.online_shown.get(room_id) != online:
                        self.online_shown[room_id] = online
                        await events.presence_changed(room_id, online)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("hub: upkeep failed")

    async def close(self) -> None:
        self.tasks.extend(self.announce_tasks)
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.tasks = []


def _new_hub() -> RoomHub:
    layer = get_channel_layer()
    assert layer is not None  # noqa: S101 - CHANNEL_LAYERS always has a default
    return RoomHub(layer)


_hubs = PerLoop(_new_hub)


def hub() -> RoomHub:
    """This worker's hub."""
    return _hubs.get()


async def close_hub() -> None:
    found = _hubs.pop()
    if found is not None:
        await found.close()
