"""At most ``MAX_SOCKETS_PER_USER`` sockets per user, across workers. A socket
that goes over the cap is kept and the user's oldest ones are closed with 4409:
the tab opened last wins.

Each worker knows its own sockets of each user in connect order, and a new
one that puts it over the cap closes its oldest there and then. That is the
whole cap while Redis is away (then per worker, like the rate limits and
presence), and never wrong with Redis: a worker's socket with ``cap`` newer
ones beside it on the same worker is beyond the cap across workers too.

With Redis, every socket is an entry of a sorted set per user. Its member
names it by age (``<connect ms>:<worker>:<n>``, so members sort oldest
first); its score is when it expires. The hub rewrites its workers' entries
with presence (every ``PRESENCE_TTL`` / 3), so the sockets of a worker that
died stop counting within ``PRESENCE_TTL``; a socket that ends, however it
ends, is removed. Writes are batched like presence: a burst of connects costs
a few pipelines, not a round trip each, and a connect never waits for one.
Each new entry is written with one pipeline that also drops the expired
entries and reads the others; the sockets it puts beyond the cap are closed by
the hub, on whichever worker holds them.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from django.conf import settings


class SocketCap:
    def __init__(self, worker_id: str, redis: Any | None) -> None:
        self.worker_id = worker_id
        self.redis = redis
        self.ids = itertools.count()
        self.local: dict[int, dict[str, None]] = {}  # user -> socket ids, oldest first
        self.added: dict[str, int] = {}  # socket id -> user: not written to Redis yet
        self.removed: dict[str, int] = {}  # socket id -> user: still in Redis

    def _key(self, user_id: int) -> str:
        return f"{settings.REDIS_PREFIX}:user-sockets:{user_id}"

    def new_id(self) -> str:
        return f"{int(time.time() * 1000):013d}:{self.worker_id}:{next(self.ids)}"

    def is_local(self, socket_id: str) -> bool:
        return socket_id.split(":", 2)[1:2] == [self.worker_id]

    def add(self, user_id: int, socket_id: str) -> list[str]:
        """Count a new socket; returns this worker's sockets of the user now
        beyond the cap, oldest first."""
        sockets = self.local.get(user_id)
        if sockets is None:
            sockets = self.local[user_id] = {}
        sockets[socket_id] = None
        if self.redis is not None:
            self.added[socket_id] = user_id
        excess = len(sockets) - settings.MAX_SOCKETS_PER_USER
        return list(itertools.islice(sockets, excess)) if excess > 0 else []

    def remove(self, user_id: int, socket_id: str) -> None:
        sockets = self.local.get(user_id)
        if sockets is None or socket_id not in sockets:
            return
        del sockets[socket_id]
        if not sockets:
            del self.local[user_id]
        if self.redis is not None and self.added.pop(socket_id, None) is None:
            self.removed[socket_id] = user_id

    @property
    def pending(self) -> bool:
        return bool(self.added or self.removed)

    async def flush(self, *, everything: bool = False) -> dict[int, list[str]]:
        """Write the changes since the last flush (and, with ``everything``,
        rewrite every local entry) to Redis. Returns, per user, the sockets
        that the new entries put beyond the cap, oldest first, on any worker.
        Raises when Redis is unreachable; the changes are kept for the next try."""
        if self.redis is None:
            return {}
        added, self.added = self.added, {}
        removed, self.removed = self.removed, {}
        now = time.time()
        expires = now + settings.PRESENCE_TTL
        ttl_ms = int(settings.PRESENCE_TTL * 1000)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for socket_id, user_id in removed.items():
                    pipe.zrem(self._key(user_id), socket_id)
                if everything:
                    for user_id, sockets in self.local.items():
                        kept = {
                            socket_id: expires for socket_id in sockets if socket_id not in added
                        }
                        if kept:
                            pipe.zadd(self._key(user_id), kept)
                            pipe.pexpire(self._key(user_id), ttl_ms)
                for socket_id, user_id in added.items():
                    key = self._key(user_id)
                    pipe.zremrangebyscore(key, "-inf", now)
                    pipe.zadd(key, {socket_id: expires})
                    pipe.pexpire(key, ttl_ms)
                    pipe.zrange(key, 0, -1)
                results = await pipe.execute()
        except BaseException:
            # Not written: try again next time, except what ended meanwhile.
            for socket_id, user_id in added.items():
                if self.removed.pop(socket_id, None) is None:
                    self.added.setdefault(socket_id, user_id)
            for socket_id, user_id in removed.items():
                self.removed.setdefault(socket_id, user_id)
            raise
        over: dict[int, set[str]] = {}
        cap = settings.MAX_SOCKETS_PER_USER
        readings = results[len(results) - 4 * len(added) + 3 :: 4] if added else []
        for user_id, members in zip(added.values(), readings, strict=True):
            ids = sorted(member.decode() for member in members)
            if len(ids) > cap:
                over.setdefault(user_id, set()).update(ids[:-cap])
        return {user_id: sorted(ids) for user_id, ids in over.items()}
