"""Redis carries live events for one database: servers on different databases
that share a Redis must not see each other's rooms, presence or limits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

from django.test import override_settings

from chatapp.realtime.presence import Presence


def _settings_of(database_url: str, redis_url: str) -> dict[str, str]:
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        "print(json.dumps([settings.REDIS_PREFIX, "
        "settings.CHANNEL_LAYERS['default']['CONFIG']['prefix']]))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "namespace-test-secret-key-0123456789abcdefghijklmnop",
    }
    env.pop("REDIS_PREFIX", None)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    prefix, layer_prefix = json.loads(out.stdout)
    return {"prefix": prefix, "layer": layer_prefix}


def test_the_redis_prefix_names_the_database_and_the_layer_uses_it(redis_url: str) -> None:
    a = _settings_of("postgres://u@127.0.0.1:5432/chat_a", redis_url)
    b = _settings_of("postgres://u@127.0.0.1:5432/chat_b", redis_url)
    assert a["prefix"] != b["prefix"]
    assert a["prefix"].endswith(":chat_a")
    assert a["layer"] == a["prefix"] and b["layer"] == b["prefix"]


async def test_presence_is_kept_apart_per_prefix(redis_url: str) -> None:
    room, user = 1, 42
    first, second = f"test-{uuid.uuid4().hex}", f"test-{uuid.uuid4().hex}"
    import redis.asyncio as redis

    with override_settings(REDIS_URL=redis_url, REDIS_PREFIX=first):
        here = Presence("worker-a", redis.Redis.from_url(redis_url))
        here.add(room, user)
        await here.flush()
    with override_settings(REDIS_URL=redis_url, REDIS_PREFIX=second):
        there = Presence("worker-b", redis.Redis.from_url(redis_url))
        assert await there.online(room) == 0
        assert not await there.is_online(room, user)
    with override_settings(REDIS_URL=redis_url, REDIS_PREFIX=first):
        other = Presence("worker-c", redis.Redis.from_url(redis_url))
        assert await other.online(room) == 1  # worker-a's entry, seen from another worker
        assert await other.is_online(room, user)
        here.remove(room, user)
        await here.flush()
        assert await other.online(room) == 0
    for presence in (here, there, other):
        await presence.redis.aclose()
