"""The cap on sockets per user across two `chatapp serve` processes sharing one
database and Redis: the newest sockets win, wherever the oldest are, and the
sockets of a killed worker stop counting."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from tests.e2e.client import Tab, register
from tests.e2e.server import Server
from tests.e2e.test_realtime import server_env, servers, start_pair

__all__ = ["servers"]  # the fixture, shared with test_realtime

pytestmark = pytest.mark.e2e


async def closed_code(tab: Tab, within: float = 2.0) -> int | None:
    with pytest.raises(ConnectionClosed) as closed:
        await tab.recv_type("never", timeout=within)
    return closed.value.rcvd.code if closed.value.rcvd else None


async def still_open(tab: Tab) -> None:
    await tab.send({"type": "ping"})
    assert await tab.recv_type("pong") == {"type": "pong"}


async def test_the_newest_sockets_of_a_user_win_across_workers(
    servers: list[Server], e2e_database_url: str, tmp_path: Path, redis_url: str
) -> None:
    env = server_env(
        e2e_database_url, tmp_path, REDIS_URL=redis_url, MAX_SOCKETS_PER_USER="2", PRESENCE_TTL="2"
    )
    doomed, survivor = start_pair(servers, env, tmp_path)
    a, b = doomed.base, survivor.base
    alice = await register(a, "alice")
    bob = await Tab.open(b, await register(b, "bob"))

    a1 = await Tab.open(a, alice)
    await asyncio.sleep(0.2)  # written to Redis (batched, in the background)
    b1 = await Tab.open(b, alice)
    await asyncio.sleep(0.2)
    b2 = await Tab.open(b, alice)
    assert await closed_code(a1) == 4409  # the oldest, on the other worker
    await still_open(b1)
    a2 = await Tab.open(a, alice)
    assert await closed_code(b1) == 4409  # and the other way round
    await still_open(b2)
    await still_open(a2)
    await still_open(bob)  # another user's socket never counts

    # A killed worker's sockets stop counting once their entries expire.
    os.kill(doomed.process.pid, signal.SIGKILL)
    await asyncio.sleep(3)  # PRESENCE_TTL, and a margin
    b3 = await Tab.open(b, alice)
    await asyncio.sleep(0.5)
    await still_open(b2)  # not closed for a socket of the dead worker
    await still_open(b3)
    b4 = await Tab.open(b, alice)
    assert await closed_code(b2) == 4409
    await still_open(b3)
    await still_open(b4)
