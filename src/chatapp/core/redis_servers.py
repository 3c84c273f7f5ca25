"""The one Redis server of the app's own clients, from the settings.

Presence, the socket cap, the socket's rate limits, the HTTP throttles and the
hub's markers all use the main server: ``REDIS_URL``, or with
``REDIS_SENTINELS`` the master the sentinels name for
``REDIS_SENTINEL_MASTER``. A sentinel-managed client asks the sentinels for the
master on every new connection, and drops a connection to a master that was
demoted (redis-py turns its READONLY answer into a connection error), so after
a failover the next call reaches the new master.

Only the channel layer can be sharded (``REDIS_LAYER_URLS``, see
``CHANNEL_LAYERS`` in the settings): its groups and channels spread by hash.
The keys of the clients here are read and written together (a room's presence,
a user's bucket), so they stay on one server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings


@dataclass(frozen=True)
class MainRedis:
    url: str = ""
    sentinels: tuple[tuple[str, int], ...] = ()
    master: str = ""
    password: str = ""
    sentinel_password: str = ""

    @classmethod
    def from_settings(cls) -> MainRedis | None:
        """The configured main server, or None without Redis."""
        if settings.REDIS_SENTINELS:
            return cls(
                sentinels=tuple(settings.REDIS_SENTINELS),
                master=settings.REDIS_SENTINEL_MASTER,
                password=settings.REDIS_PASSWORD,
                sentinel_password=settings.REDIS_SENTINEL_PASSWORD,
            )
        if settings.REDIS_URL:
            return cls(url=settings.REDIS_URL, password=settings.REDIS_PASSWORD)
        return None

    def sentinel_options(self, timeout: float) -> dict[str, Any]:
        """Connection options of the sentinels themselves."""
        return {
            "password": self.sentinel_password or None,
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
        }

    def async_client(self, **options: Any) -> Any:
        """A ``redis.asyncio.Redis`` on the main server (a password in the URL
        wins over ``REDIS_PASSWORD``)."""
        options["password"] = self.password or None
        if self.sentinels:
            from redis.asyncio.sentinel import Sentinel

            timeout = float(options.get("socket_connect_timeout") or 2.0)
            sentinel = Sentinel(self.sentinels, sentinel_kwargs=self.sentinel_options(timeout))
            return sentinel.master_for(self.master, **options)
        import redis.asyncio as redis

        return redis.Redis.from_url(self.url, **options)
