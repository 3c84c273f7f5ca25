"""Sockets through the restarts of their dependencies and of the workers
themselves, against real processes this test owns (its own Redis and
PostgreSQL on free ports, ``chatapp serve`` on them).

- Redis killed and restarted under two workers, with sockets subscribed and
  clients sending: no socket closes, every message reaches every socket in
  order, and none is silent afterwards.
- PostgreSQL stopped: a send gets ``unavailable``, the socket stays open, and
  the same send is acknowledged once PostgreSQL is back.
- SIGTERM: every socket gets 1012, spread over the drain window, and
  ``/readyz`` answers 503 meanwhile.
- SIGHUP to two workers: two new workers and no old one; nothing lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from chatapp.bench.procs import children_of
from tests.e2e.client import Tab, register
from tests.e2e.server import Server, stop
from tests.faults.chatters import Member, members, wait_until
from tests.faults.procs import PostgresCluster, RedisServer, start_chatapp

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


async def test_redis_killed_and_restarted_under_two_workers_closes_no_socket(
    chatapp_on_faults: Server, redis_server: RedisServer
) -> None:
    server = chatapp_on_faults
    group = await members(server.base, [f"user{i}" for i in range(8)])
    senders = group[:3]
    sent: list[str] = []
    try:

        async def send_round(label: str) -> None:
            for sender in senders:
                client_id = f"{sender.name}-{label}"
                sent.append(client_id)
                await sender.send(client_id)

        for i in range(5):
            await send_round(f"before{i}")
            await asyncio.sleep(0.1)
        redis_server.kill()
        for i in range(15):  # about 3 s without Redis
            await send_round(f"during{i}")
            await asyncio.sleep(0.2)
        redis_server.start()
        await asyncio.sleep(3)  # both workers notice and rejoin their groups
        for i in range(5):
            await send_round(f"after{i}")
            await asyncio.sleep(0.1)

        total = len(sent)
        try:
            await wait_until(lambda: all(len(m.seqs) >= total for m in group), 15, "delivery")
        except AssertionError:
            missing = {m.name: sorted(set(range(1, total + 1)) - set(m.seqs)) for m in group}
            raise AssertionError(f"not delivered: {missing}") from None
        await asyncio.sleep(0.5)  # nothing more (no duplicate) arrives
        for member in group:
            assert member.closed is None, f"{member.name}'s socket closed with {member.closed}"
            assert member.seqs == list(range(1, total + 1)), member.name
        acked = {client_id for s in senders for client_id in s.acks}
        assert acked == set(sent)  # every send stored and acknowledged, Redis or not
        assert not [e for m in group for e in m.errors]
    finally:
        for member in group:
            await member.close()
    log = server.log_path.read_text()
    assert "Exception in ASGI application" not in log
    assert "Traceback" not in log
    # One warning per worker when the layer went, one line when it was back.
    assert 1 <= log.count("the channel layer is unreachable") <= 2
    assert 1 <= log.count("the channel layer is back") <= 2


async def test_postgres_stopped_sends_get_unavailable_and_succeed_once_it_is_back(
    chatapp_on_faults: Server, postgres_cluster: PostgresCluster
) -> None:
    server = chatapp_on_faults
    (alice, bob) = await members(server.base, ["alice", "bob"])
    try:
        await alice.send("first")
        await wait_until(lambda: "first" in alice.acks, 5, "the first ack")
        postgres_cluster.stop()
        await alice.send("while-down")
        await wait_until(lambda: alice.errors, 10, "an error frame")
        assert alice.errors[0]["code"] == "unavailable"
        assert alice.errors[0]["ref"] == "while-down"
        # A new socket is refused cleanly (HTTP 503), not with a crash.
        with pytest.raises(Exception) as refused:
            await Tab.open(server.base, "no-such-session")
        assert "503" in str(refused.value)
        postgres_cluster.start()
        deadline = time.monotonic() + 30
        while "while-down" not in alice.acks:  # the client retries, as socket.js does
            assert time.monotonic() < deadline, "the send was never acknowledged"
            await alice.send("while-down")
            await asyncio.sleep(0.5)
        await wait_until(lambda: len(bob.seqs) >= 2, 5, "bob to see both messages")
        assert bob.seqs == [1, 2]
        assert alice.closed is None and bob.closed is None
    finally:
        await alice.close()
        await bob.close()
    assert "Exception in ASGI application" not in server.log_path.read_text()


async def test_sigterm_closes_sockets_with_1012_spread_over_the_drain_window(
    postgres_cluster: PostgresCluster, redis_server: RedisServer, tmp_path: Path
) -> None:
    server = start_chatapp(
        postgres=postgres_cluster,
        redis_url=redis_server.url,
        workdir=tmp_path,
        DRAIN_SECONDS="2",
        GRACEFUL_TIMEOUT="8",
    )
    group: list[Member] = []
    try:
        group = await members(server.base, [f"user{i}" for i in range(20)])
        closed_at: dict[str, float] = {}

        async def watch(member: Member) -> None:
            await member.reader
            closed_at[member.name] = time.monotonic()

        watchers = [asyncio.ensure_future(watch(m)) for m in group]
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.3)
        ready = httpx.get(f"{server.base}/readyz", timeout=5)
        assert ready.status_code == 503
        await asyncio.wait_for(asyncio.gather(*watchers), 10)
        assert {m.closed for m in group} == {1012}
        offsets = sorted(t - started for t in closed_at.values())
        assert offsets[-1] - offsets[0] >= 1.0  # spread, not all in one instant
        assert offsets[-1] < 4.0  # within the drain window (2 s) and a margin
        server.process.wait(10)  # the worker exits well within GRACEFUL_TIMEOUT
    finally:
        for member in group:
            await member.close()
        stop(server.process)


def _workers(pid: int) -> set[int]:
    """uvicorn's worker processes (its children that are not multiprocessing helpers)."""
    workers = set()
    for child in children_of().get(pid, []):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"resource_tracker" not in cmdline:
            workers.add(child)
    return workers


async def test_sighup_replaces_both_workers_and_loses_nothing(
    chatapp_on_faults: Server,
) -> None:
    server = chatapp_on_faults
    old = _workers(server.process.pid)
    assert len(old) == 2
    base = server.base
    session = await register(base, "sender")
    reader = (await members(base, ["reader"]))[0]
    lobby = reader.lobby
    acked: dict[str, int] = {}
    client_ids = [f"m{i}" for i in range(60)]

    async def send_all() -> None:
        """Send every message once acknowledged, reconnecting like a browser tab."""
        pending = list(client_ids)
        tab = await Tab.open(base, session)
        while pending:
            try:
                frame = {"type": "send", "room": lobby, "body": pending[0], "client_id": pending[0]}
                await tab.send(frame)
                reply = await tab.recv_type("ack", timeout=5)
                acked[reply["client_id"]] = reply["message"]["seq"]
                pending.remove(reply["client_id"])
                await asyncio.sleep(0.1)
            except (ConnectionClosed, TimeoutError, OSError):
                await asyncio.sleep(0.3)
                with contextlib.suppress(Exception):
                    tab = await Tab.open(base, session)
        await tab.close()

    sending = asyncio.ensure_future(send_all())
    await asyncio.sleep(1)
    server.process.send_signal(signal.SIGHUP)
    await asyncio.wait_for(sending, 60)
    deadline = time.monotonic() + 60
    while True:
        now = _workers(server.process.pid)
        if len(now) == 2 and not now & old:
            break
        assert time.monotonic() < deadline, f"old workers {old & now} still there"
        await asyncio.sleep(0.2)
    assert all(not Path(f"/proc/{pid}").exists() for pid in old)
    assert set(acked) == set(client_ids)
    assert sorted(acked.values()) == list(range(1, len(client_ids) + 1))  # once each
    # The reader was closed with 1012 by its draining worker (or kept, if it was
    # on the second one when the sends ended); either way the server is healthy.
    assert reader.closed in (None, 1012)
    await reader.close()
    assert httpx.get(f"{base}/readyz", timeout=5).status_code == 200
