"""Who is online in a room: users, not sockets, across all workers.

Each worker counts its own sockets per (room, user). With Redis, it also keeps
``user:worker`` entries in a sorted set per room, scored by expiry and
refreshed while the worker lives, so a dead worker's users drop out by
themselves. Writes to Redis are batched: a storm of subscribes costs one
pipeline per flush, not one round trip each.

When Redis is unreachable, counts fall back to this worker's own sockets (an
undercount across workers, never an error); the hub flushes everything again
once Redis is back.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from django.conf import settings


class Presence:
    def __init__(self, worker_id: str, redis: Any | None) -> None:
        self.worker_id = worker_id
        self.redis = redis
        self.local: dict[int, Counter[int]] = {}  # room -> user -> local sockets
        self.dirty: dict[tuple[int, int], bool] = {}  # (room, user) -> shown now?

    def _key(self, room_id: int) -> str:
        return f"{settings.REDIS_PREFIX}:presence:{room_id}"

    def _member(self, user_id: int) -> str:
        return f"{user_id}:{self.worker_id}"

    def add(self, room_id: int, user_id: int) -> bool:
        """Count one more local socket; True if this worker now shows the user."""
        users = self.local.get(room_id)
        if users is None:
            users = self.local[room_id] = Counter()
        users[user_id] += 1
        if users[user_id] > 1:
            return False
        self.dirty[(room_id, user_id)] = True
        return True

    def remove(self, room_id: int, user_id: int) -> bool:
        """Count one local socket less; True if this worker no longer shows the user."""
        users = self.local.get(room_id)
        count = users.get(user_id, 0) if users else 0
        if users is None or count <= 0:
            return False
        if count > 1:
            users[user_id] = count - 1
            return False
        del users[user_id]
        if not users:
            del self.local[room_id]
        self.dirty[(room_id, user_id)] = False
        return True

    async def flush(self, *, everything: bool = False) -> None:
        """Write the changes since the last flush (or every local entry) to Redis.
        Raises when Redis is unreachable; the changes are kept for the next try."""
        if self.redis is None:
            self.dirty.clear()
            return
        if everything:
            changes = {(room, user): True for room, users in self.local.items() for user in users}
            changes.update({key: False for key, shown in self.dirty.items() if not shown})
        else:
            changes = dict(self.dirty)
        if not changes:
            return
        expires = time.time() + settings.PRESENCE_TTL
        async with self.redis.pipeline(transaction=False) as pipe:
            for (room_id, user_id), shown in changes.items():
                if shown:
                    pipe.zadd(self._key(room_id), {self._member(user_id): expires})
                else:
                    pipe.zrem(self._key(room_id), self._member(user_id))
            await pipe.execute()
        for key, shown in changes.items():
            if self.dirty.get(key) is shown:
                del self.dirty[key]

    def local_online(self, room_id: int) -> int:
        return len(self.local.get(room_id, ()))

    async def online(self, room_id: int) -> int:
        """Users online in the room on every worker. Raises when Redis is unreachable."""
        if self.redis is None:
            return self.local_online(room_id)
        key = self._key(room_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(key, "-inf", time.time())
            pipe.zrange(key, 0, -1)
            _, members = await pipe.execute()
        users = {member.split(b":", 1)[0] for member in members}
        # Entries not flushed yet are still this worker's truth.
        users.update(str(user).encode() for user in self.local.get(room_id, ()))
        return len(users)

    async def is_online(self, room_id: int, user_id: int) -> bool:
        """Whether the user has a socket subscribed to the room on any worker.
        Raises when Redis is unreachable."""
        if user_id in self.local.get(room_id, ()):
            return True
        if self.redis is None:
            return False
        prefix = f"{user_id}:".encode()
        members = await self.redis.zrangebyscore(self._key(room_id), time.time(), "+inf")
        return any(member.startswith(prefix) for member in members)
