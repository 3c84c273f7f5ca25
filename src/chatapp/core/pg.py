"""The asyncpg pool of the hot path: one per worker process (per event loop).

The ORM from async code runs every query on one shared thread per process; these
queries run on the event loop instead. The pool opens at ASGI lifespan startup
(``open_pool``) and closes at shutdown; code running outside a lifespan (tests,
management commands), or a worker that started while PostgreSQL was down, gets
one opened on first use, per event loop.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
from django.conf import settings

from chatapp.core.outages import is_outage

logger = logging.getLogger(__name__)

# Seconds to wait for a new connection, as Django's connect_timeout.
CONNECT_TIMEOUT = 5

_pools: dict[asyncio.AbstractEventLoop, asyncpg.Pool] = {}
_lock_by_loop: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}


def _connect_kwargs() -> dict[str, Any]:
    db = settings.DATABASES["default"]
    options = db.get("OPTIONS", {})
    return {
        "host": db.get("HOST") or options.get("host") or None,
        "port": int(db.get("PORT") or options.get("port") or 5432),
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "database": db.get("NAME"),
    }


async def open_pool() -> None:
    """Open this event loop's pool at startup, so the first requests find it warm.

    PostgreSQL being down then does not stop the worker: it starts, answers 503
    meanwhile, and ``pool()`` opens the pool on first use once PostgreSQL is back.
    """
    try:
        await pool()
    except Exception as exc:
        if not is_outage(exc):
            raise
        logger.warning("asyncpg pool not opened at startup (%r); it opens on first use", exc)


async def close_pool() -> None:
    loop = asyncio.get_running_loop()
    pool = _pools.pop(loop, None)
    _lock_by_loop.pop(loop, None)
    if pool is not None:
        await pool.close()


async def pool() -> asyncpg.Pool:
    """This event loop's pool, opened now if it is not open yet.

    A pool that failed to open is not kept (asyncpg closes it), so every call
    while PostgreSQL is down raises an outage, and the first call after it is
    back opens the pool. Once open, the pool replaces connections that
    PostgreSQL dropped by itself, on their next use.
    """
    loop = asyncio.get_running_loop()
    found = _pools.get(loop)
    if found is not None:
        return found
    async with _lock_by_loop.setdefault(loop, asyncio.Lock()):
        found = _pools.get(loop)
        if found is None:
            found = await asyncpg.create_pool(
                **_connect_kwargs(),
                min_size=settings.CHAT_DB_POOL_MIN,
                max_size=settings.CHAT_DB_POOL_MAX,
                command_timeout=30,
                # asyncpg's default waits 60 s for a host that does not answer.
                timeout=CONNECT_TIMEOUT,
                reset=_keep_session,
            )
            _pools[loop] = found
        return found


async def _keep_session(connection: asyncpg.Connection) -> None:
    """What a connection needs on its way back to the pool, beyond the rollback
    of an open transaction that asyncpg always does: nothing. These queries
    set no session state (no SET, LISTEN, cursors or advisory locks), and
    asyncpg's default reset costs one more round trip for every query."""
