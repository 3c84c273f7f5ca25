"""Per-client-address throttles of the anonymous endpoints that cost the
server: a login or a registration hashes a password (about 0.5 s of CPU), a
password reset sends a mail. Unthrottled, guessing is a denial of service as
much as a guessing attack; the login lock (django-axes) protects accounts,
this protects the server, whatever logins an address tries.

Each endpoint kind has its own budget per client address, in the ``limits``
library's moving window ("N attempts in any minute"), the same over the JSON
API and the pages. Counts live in Redis, shared by every worker. While Redis
does not answer (and without Redis, which means one worker) each process
counts on its own, in memory: a client spread over N workers then gets up to
N times its budget, and nobody is refused, nor answered 500, for want of Redis.

The client address is ``REMOTE_ADDR`` as ``chatapp.core.clients`` reads it:
behind nginx or a PaaS router, the address from ``X-Forwarded-For`` only when
the connection comes from a proxy listed in ``FORWARDED_ALLOW_IPS``; a client
cannot choose its address by sending the header itself. An IPv6 client counts
per /64 network, since one host commonly has a whole /64 to pick addresses from.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
import time
from collections.abc import Callable, Coroutine
from functools import wraps
from typing import Any

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisSentinelStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from chatapp.core.clients import client_ip
from chatapp.core.errors import error_response, wants_json
from chatapp.core.logs import outage_summary
from chatapp.core.redis_servers import MainRedis

logger = logging.getLogger(__name__)

# Each throttled kind of request and the setting that holds its rates.
RATE_SETTINGS = {
    "login": "THROTTLE_LOGIN",
    "register": "THROTTLE_REGISTER",
    "password_reset": "THROTTLE_PASSWORD_RESET",
    "email_change": "THROTTLE_EMAIL_CHANGE",  # per account, not per address
}
WHAT = {
    "login": "login attempts from your network",
    "register": "registrations from your network",
    "password_reset": "password reset requests from your network",
    "email_change": "changes of your email address",
}
OFF = {"off", "none", "no", "false", "0", ""}

View = Callable[..., Any]
AsyncView = Callable[..., Coroutine[Any, Any, HttpResponseBase]]


def parse_rates(value: str) -> list[RateLimitItem]:
    """``20/minute``, several joined by ``;`` (``20/minute;200/day``), or ``off``."""
    if value.strip().lower() in OFF:
        return []
    return list(parse_many(value))


def client_address(request: HttpRequest) -> str:
    """What one client is counted under: its IPv4 address or its IPv6 /64."""
    raw = str(request.META.get("REMOTE_ADDR") or "")
    address = client_ip(raw)
    if address is None:
        return raw[:64] or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class Throttle:
    """The budgets of one process: shared through Redis when it answers, else
    kept in this process's memory."""

    def __init__(self, redis: MainRedis | None) -> None:
        self.shared: MovingWindowRateLimiter | None = None
        if redis is not None:
            self.shared = MovingWindowRateLimiter(_redis_storage(redis))
        self.local = MovingWindowRateLimiter(MemoryStorage())
        self.redis_down = False
        self.lock = threading.Lock()

    def hit(self, kind: str, client: str) -> int | None:
        """Count one attempt of ``client`` (an address, or another key the
        budget is kept per); None when it is allowed, else the seconds until
        the client may try again."""
        identifiers = (settings.THROTTLE_PREFIX, kind, client)
        for item in parse_rates(getattr(settings, RATE_SETTINGS[kind])):
            limiter = self._limiter()
            try:
                allowed = limiter.hit(item, *identifiers)
                reset_at = None if allowed else limiter.get_window_stats(item, *identifiers)[0]
            except StorageError as exc:
                self._redis_failed(exc)
                limiter = self.local
                allowed = limiter.hit(item, *identifiers)
                reset_at = None if allowed else limiter.get_window_stats(item, *identifiers)[0]
            else:
                if limiter is self.shared:
                    self._redis_ok()
            if not allowed:
                return max(1, math.ceil((reset_at or 0) - time.time()))
        return None

    def _limiter(self) -> MovingWindowRateLimiter:
        return self.shared if self.shared is not None else self.local

    def _redis_failed(self, exc: StorageError) -> None:
        with self.lock:
            if self.redis_down:
                return
            self.redis_down = True
        cause = exc.storage_error
        logger.warning(
            "throttle: Redis does not answer (%s); counting per process",
            outage_summary(cause),
        )

    def _redis_ok(self) -> None:
        with self.lock:
            if not self.redis_down:
                return
            self.redis_down = False
        logger.info("throttle: Redis is back; counts are shared by the workers again")


def _redis_storage(redis: MainRedis) -> Storage:
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # Give up at once while Redis is away: the process counts alone meanwhile.
    options: dict[str, Any] = {
        "socket_timeout": 2.0,
        "socket_connect_timeout": 2.0,
        "retry": Retry(NoBackoff(), 1),
        "password": redis.password or None,
    }
    if redis.sentinels:
        hosts = ",".join(
            f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            for host, port in redis.sentinels
        )
        return RedisSentinelStorage(
            f"redis+sentinel://{hosts}/{redis.master}",
            # The master only: a replica lags, and counts read there run behind.
            use_replicas=False,
            sentinel_kwargs=redis.sentinel_options(2.0),
            wrap_exceptions=True,
            key_prefix=settings.REDIS_PREFIX,
            **options,
        )
    from redis import ConnectionPool

    password = options.pop("password")
    return RedisStorage(
        # limits spells redis-py's unix:// as redis+unix://.
        "redis+" + redis.url if redis.url.startswith("unix:") else redis.url,
        connection_pool=ConnectionPool.from_url(redis.url, password=password, **options),
        wrap_exceptions=True,
        key_prefix=settings.REDIS_PREFIX,
    )


_throttles: dict[MainRedis | None, Throttle] = {}
_throttles_lock = threading.Lock()


def throttle() -> Throttle:
    """This process's throttle for the main Redis (one per process, thread-safe:
    redis-py's pool and the memory storage both are)."""
    redis = MainRedis.from_settings()
    with _throttles_lock:
        found = _throttles.get(redis)
        if found is None:
            found = _throttles[redis] = Throttle(redis)
        return found


def throttled(kind: str) -> Callable[[View], AsyncView]:
    """Count each POST to the view against the client address's ``kind``
    budget; past it, answer 429 with ``Retry-After`` instead of the view."""
    if kind not in RATE_SETTINGS:
        raise ValueError(f"unknown throttle {kind!r}")

    def decorator(view: View) -> AsyncView:
        run = view if iscoroutinefunction(view) else sync_to_async(view)

        @wraps(view)
        async def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.method == "POST":
                wait = await sync_to_async(throttle().hit)(kind, client_address(request))
                if wait is not None:
                    return throttled_response(request, kind, wait)
            response: HttpResponseBase = await run(request, *args, **kwargs)
            return response

        vars(wrapper)["throttle_kind"] = kind  # the OpenAPI document lists its 429
        return wrapper

    return decorator


def throttled_response(request: HttpRequest, kind: str, seconds: int) -> HttpResponse:
    wait = f"{seconds} seconds" if seconds < 120 else f"{math.ceil(seconds / 60)} minutes"
    detail = f"Too many {WHAT[kind]}. Try again in {wait}."
    headers = {"Retry-After": str(seconds)}
    if wants_json(request):
        return error_response("rate_limited", detail, headers=headers)
    response = render(request, "errors/429.html", {"detail": detail}, status=429)
    response["Retry-After"] = str(seconds)
    return response
