"""The Redis client of presence, limits and the hub's restart marker."""

from __future__ import annotations

from typing import Any

from django.conf import settings


def fail_fast_client() -> Any | None:
    """A client for REDIS_URL (None without one) that gives up at once while
    Redis is away: the callers fall back and the hub recovers on its own,
    rather than every frame waiting out redis-py's retries."""
    if not settings.REDIS_URL:
        return None
    import redis.asyncio as redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(
        settings.REDIS_URL,
        socket_timeout=2.0,
        socket_connect_timeout=2.0,
        retry=Retry(NoBackoff(), 1),
    )
