"""The cap on sockets per user (``realtime.socketcap``): per worker, across
workers through Redis, and on the real socket in process."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from django.test import override_settings

from chatapp.realtime.socketcap import SocketCap
from tests.realtime.test_socket import _scope


@override_settings(MAX_SOCKETS_PER_USER=2)
def test_a_worker_closes_its_oldest_sockets_beyond_the_cap() -> None:
    cap = SocketCap("w1", redis=None)
    ids = [cap.new_id() for _ in range(4)]
    assert ids == sorted(ids)  # ids sort oldest first
    assert cap.add(7, ids[0]) == []
    assert cap.add(7, ids[1]) == []
    assert cap.add(8, ids[2]) == []  # another user
    assert cap.add(7, ids[3]) == [ids[0]]
    cap.remove(7, ids[0])  # closed
    assert list(cap.local[7]) == [ids[1], ids[3]]
    assert not cap.pending  # nothing for Redis without Redis
    assert cap.is_local(ids[0]) and not cap.is_local("0000000000001:w2:0")


@pytest.fixture
async def redis_client(redis_url: str, settings: Any) -> AsyncIterator[Any]:
    import redis.asyncio as redis

    settings.REDIS_PREFIX = f"chatapp-test-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(redis_url)
    yield client
    keys = [key async for key in client.scan_iter(match=f"{settings.REDIS_PREFIX}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def _members(client: Any, user_id: int) -> list[str]:
    from django.conf import settings

    found = await client.zrange(f"{settings.REDIS_PREFIX}:user-sockets:{user_id}", 0, -1)
    return sorted(member.decode() for member in found)


@override_settings(MAX_SOCKETS_PER_USER=2, PRESENCE_TTL=30)
async def test_the_cap_holds_across_workers_and_a_socket_that_ends_stops_counting(
    redis_client: Any,
) -> None:
    a, b = SocketCap("wa", redis_client), SocketCap("wb", redis_client)
    a1, a2 = a.new_id(), a.new_id()
    a.add(7, a1)
    a.add(7, a2)
    assert await a.flush() == {}
    b1 = b.new_id()
    assert b.add(7, b1) == []  # one on this worker
    assert await b.flush() == {7: [a1]}  # the oldest, on the other worker
    a.remove(7, a1)  # which closes it
    assert await a.flush() == {}
    assert await _members(redis_client, 7) == [a2, b1]
    # A socket that ends before it was written is never written.
    b2 = b.new_id()
    b.add(7, b2)
    b.remove(7, b2)
    assert not b.pending
    assert await _members(redis_client, 7) == [a2, b1]


@override_settings(MAX_SOCKETS_PER_USER=2, PRESENCE_TTL=0.5)
async def test_the_sockets_of_a_worker_that_died_stop_counting(redis_client: Any) -> None:
    dead, alive = SocketCap("dead", redis_client), SocketCap("alive", redis_client)
    oldest = alive.new_id()
    alive.add(7, oldest)
    await alive.flush()
    dead.add(7, dead.new_id())
    await dead.flush()  # and never again: its worker was killed
    await asyncio.sleep(0.3)
    await alive.flush(everything=True)  # what the hub does every PRESENCE_TTL / 3
    await asyncio.sleep(0.3)
    newest = alive.new_id()
    alive.add(7, newest)
    assert await alive.flush() == {}  # not [oldest]: the dead worker's socket expired
    assert await _members(redis_client, 7) == [oldest, newest]


async def test_changes_that_could_not_be_written_are_kept_for_the_next_try(
    redis_client: Any,
) -> None:
    import redis.asyncio as redis

    unreachable = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    cap = SocketCap("w", unreachable)
    first, second = cap.new_id(), cap.new_id()
    cap.add(7, first)
    cap.add(7, second)
    with pytest.raises(redis.ConnectionError):
        await cap.flush()
    cap.remove(7, first)  # ended while Redis was away: never written
    await unreachable.aclose()
    cap.redis = redis_client  # Redis is back
    assert await cap.flush() == {}
    assert await _members(redis_client, 7) == [second]


# --- on the real socket -----------------------------------------------------------

pytest_db = pytest.mark.django_db(transaction=True, serialized_rollback=True)


async def _wait_for(condition: Any, timeout: float = 3) -> None:
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.05)


@pytest_db
@override_settings(MAX_SOCKETS_PER_USER=2)
async def test_the_newest_sockets_win_and_the_oldest_closes_with_4409(
    connect, session_for, redis_url
) -> None:
    import redis.asyncio as redis
    from django.conf import settings

    from chatapp.accounts.models import User

    alice = await session_for("alice")
    bob = await connect(await session_for("bob"))
    assert (await bob.recv())["type"] == "hello"
    sockets = []
    for _ in range(3):
        socket = await connect(alice)
        assert (await socket.recv())["type"] == "hello"
        sockets.append(socket)
    oldest = sockets[0]
    closed = await oldest.comm.receive_output(timeout=2)
    assert closed == {"type": "websocket.close", "code": 4409, "reason": ""}
    for socket in [*sockets[1:], bob]:
        await socket.send({"type": "ping"})
        assert await socket.recv_type("pong") == {"type": "pong"}
    await oldest.close()

    alice_id = (await User.objects.aget(username="alice")).pk
    client = redis.Redis.from_url(redis_url)
    key = f"{settings.REDIS_PREFIX}:user-sockets:{alice_id}"
    try:
        await _wait_for(lambda: _count_is(client, key, 2))
        for socket in sockets[1:]:
            await socket.close()
        await _wait_for(lambda: _count_is(client, key, 0))
    finally:
        await client.aclose()


async def _count_is(client: Any, key: str, count: int) -> bool:
    return bool(await client.zcard(key) == count)


@pytest_db
async def test_a_socket_that_crashes_stops_counting(connect, session_for, redis_url) -> None:
    import redis.asyncio as redis
    from django.conf import settings

    from chatapp.accounts.models import User
    from config.asgi import application

    key = await session_for("alice")
    await connect(None)  # the fixture's clean-up, for the hub this test makes
    incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    greeted = asyncio.Event()

    async def receive() -> dict[str, Any]:
        message = await incoming.get()
        if message["type"] == "crash":
            raise RuntimeError("the server lost the connection")
        return message

    async def send(message: dict[str, Any]) -> None:
        if message.get("text") and json.loads(message["text"])["type"] == "hello":
            greeted.set()

    task = asyncio.ensure_future(application(_scope(key), receive, send))
    await incoming.put({"type": "websocket.connect"})
    await asyncio.wait_for(greeted.wait(), 3)
    alice_id = (await User.objects.aget(username="alice")).pk
    client = redis.Redis.from_url(redis_url)
    user_key = f"{settings.REDIS_PREFIX}:user-sockets:{alice_id}"
    try:
        await _wait_for(lambda: _count_is(client, user_key, 1))
        await incoming.put({"type": "crash"})
        with pytest.raises(RuntimeError):
            await asyncio.wait_for(task, 3)
        await _wait_for(lambda: _count_is(client, user_key, 0))
    finally:
        await client.aclose()
