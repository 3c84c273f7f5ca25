"""The Redis client of presence, limits and the hub's restart marker."""

from __future__ import annotations

from typing import Any

from chatapp.core.redis_servers import MainRedis


def fail_fast_client() -> Any | None:
    """A client for the main Redis (None without one) that gives up at once
    while Redis is away: the callers fall back and the hub recovers on its own,
    rather than every frame waiting out redis-py's retries. Through sentinels
    it finds the master again on its next connection after a failover."""
    redis = MainRedis.from_settings()
    if redis is None:
        return None
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.async_client(
        socket_timeout=2.0,
        socket_connect_timeout=2.0,
        retry=Retry(NoBackoff(), 1),
    )
