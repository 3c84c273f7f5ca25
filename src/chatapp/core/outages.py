"""Which failures mean "a dependency is down", as opposed to a bug.

PostgreSQL, Redis and the shared media bucket restart in production. While one is gone, HTTP answers
503 with ``Retry-After`` and a socket frame gets the ``unavailable`` error:
nothing is half-stored, and the client retries. Everything else that goes
wrong is still a bug and is logged as one.
"""

from __future__ import annotations

import asyncpg
import botocore.exceptions
import django.db
import redis.exceptions

# What clients are told to wait before retrying (seconds): about how long a
# PostgreSQL restart or a Redis failover takes.
RETRY_AFTER_SECONDS = 5

_OUTAGES: tuple[type[BaseException], ...] = (
    # Django's own backend (psycopg), wrapped by Django.
    django.db.OperationalError,
    django.db.InterfaceError,
    # asyncpg: refused, dropped, shutting down, starting up, pool closed.
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    asyncpg.InterfaceError,
    # Redis (rate limits, presence, the channel layer).
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    # The shared media bucket (MEDIA_STORAGE_URL): refused, unreachable, timed out.
    botocore.exceptions.ConnectionError,
    botocore.exceptions.HTTPClientError,
    # Sockets and timeouts below any client library.
    ConnectionError,
    TimeoutError,
)


class Unavailable(Exception):
    """A dependency is down; the caller answers 503 or ``unavailable``."""

    def __init__(self, detail: str = "The service is briefly unavailable; retry in a moment."):
        super().__init__(detail)
        self.detail = detail


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` (or what it was raised from) means a dependency is down."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, (Unavailable, *_OUTAGES)):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
