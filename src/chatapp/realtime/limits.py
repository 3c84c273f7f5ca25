"""Rate limits of the socket: a user's sends (a token bucket shared by all
workers through Redis when it is configured) and typing relays.

While Redis is unreachable each worker limits on its own (the same bucket per
worker): a user connected to several workers may then send a little faster,
and nobody is refused for want of Redis."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings

from chatapp.core.loops import PerLoop
from chatapp.core.outages import is_outage
from chatapp.realtime.redis_client import fail_fast_client

logger = logging.getLogger(__name__)

# KEYS[1] bucket; ARGV: rate per second, burst, now (s). Returns 1 if allowed.
_BUCKET_LUA = """
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return allowed
"""


class TokenBucket:
    """A burst of ``burst``, refilled at ``rate`` per second (local, one worker)."""

    __slots__ = ("burst", "rate", "tokens", "ts")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.ts = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.ts) * self.rate)
        self.ts = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class Limits:
    def __init__(self) -> None:
        self.redis: Any = None
        self.script: Any = None
        self.redis = fail_fast_client()
        if self.redis is not None:
            self.script = self.redis.register_script(_BUCKET_LUA)
        self.local_buckets: dict[int, TokenBucket] = {}
        self.redis_down = False
        self.typing_seen: dict[tuple[int, int], float] = {}

    async def allow_send(self, user_id: int) -> bool:
        rate, burst = settings.CHAT_SEND_RATE, settings.CHAT_SEND_BURST
        if self.script is not None:
            try:
                allowed = await self.script(
                    keys=[f"{settings.REDIS_PREFIX}:send-bucket:{user_id}"],
                    args=[rate, burst, time.time()],
                )
            except Exception as exc:
                self._redis_failed(exc)
            else:
                self._redis_ok()
                return bool(allowed)
        bucket = self.local_buckets.get(user_id)
        if bucket is None:
            bucket = self.local_buckets[user_id] = TokenBucket(rate, burst)
        return bucket.take()

    async def allow_typing(self, user_id: int, room_id: int) -> bool:
        interval = settings.CHAT_TYPING_INTERVAL
        if self.redis is not None:
            name = f"{settings.REDIS_PREFIX}:typing:{room_id}:{user_id}"
            try:
                return bool(await self.redis.set(name, 1, nx=True, px=int(interval * 1000)))
            except Exception as exc:
                self._redis_failed(exc)
        now = time.monotonic()
        seen = self.typing_seen.get((room_id, user_id))
        if seen is not None and now - seen < interval:
            return False
        self.typing_seen[(room_id, user_id)] = now
        if len(self.typing_seen) > 10_000:
            self.typing_seen = {k: t for k, t in self.typing_seen.items() if now - t < interval}
        return True

    def _redis_failed(self, exc: Exception) -> None:
        if not is_outage(exc):
            raise exc
        if not self.redis_down:
            self.redis_down = True
            logger.warning("limits: Redis is unreachable (%s); limiting per worker", exc)

    def _redis_ok(self) -> None:
        if self.redis_down:
            self.redis_down = False
            logger.info("limits: Redis is back; limits are shared by the workers again")


_limits = PerLoop(Limits)


def limits() -> Limits:
    return _limits.get()
