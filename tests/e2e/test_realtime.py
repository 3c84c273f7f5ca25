"""The /ws/ contract against real `chatapp serve` processes, using only HTTP
and a WebSocket client: one server, two servers sharing Redis, and a worker
killed with SIGKILL while clients send through it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.e2e.client import Tab, register
from tests.e2e.server import Server, base_env, start_server, stop

pytestmark = pytest.mark.e2e


def server_env(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return base_env(
        DATABASE_URL=database_url,
        SECRET_KEY="e2e-" + uuid.uuid4().hex * 2,
        CHATAPP_DATA_DIR=str(tmp_path / "data"),
        **extra,
    )


@pytest.fixture
def servers(e2e_database_url: str, tmp_path: Path) -> Iterator[list[Server]]:
    """Started servers, stopped (by PID) at the end whatever happened."""
    started: list[Server] = []
    yield started
    for server in started:
        stop(server.process)


def lobby_id(database_url: str) -> int:
    with psycopg.connect(database_url.replace("postgres://", "postgresql://", 1)) as conn:
        row = conn.execute("SELECT id FROM chat_room WHERE title = 'Lobby'").fetchone()
        assert row
        return int(row[0])


async def test_socket_contract_on_a_real_server(
    servers: list[Server], e2e_database_url: str, tmp_path: Path
) -> None:
    env = server_env(e2e_database_url, tmp_path, CHAT_SEND_BURST="1000")
    servers.append(start_server(env=env, log_path=tmp_path / "a.log", args=("--migrate",)))
    base = servers[0].base
    lobby = lobby_id(e2e_database_url)
    alice_session, bob_session = await register(base, "alice"), await register(base, "bob")

    alice = await Tab.open(base, alice_session)
    bob = await Tab.open(base, bob_session)
    assert alice.hello["user"]["username"] == "alice"
    assert [room["title"] for room in alice.hello["rooms"]] == ["Lobby"]
    assert (await alice.subscribe(lobby))["last_seq"] == 0
    assert (await bob.subscribe(lobby))["online"] == 2

    await alice.send({"type": "send", "room": lobby, "body": "hello bob", "client_id": "a1"})
    ack = await alice.recv_type("ack")
    assert ack["message"]["seq"] == 1
    got = await bob.recv_type("message")
    assert got["message"] == ack["message"]

    await alice.send({"type": "typing", "room": lobby})
    assert (await bob.recv_type("typing"))["user"]["username"] == "alice"

    await bob.send({"type": "read", "room": lobby, "seq": 1})
    assert await bob.recv_type("unread") == {"type": "unread", "room": lobby, "count": 0}

    await bob.send({"type": "history", "room": lobby, "before_seq": None, "limit": 10})
    history = await bob.recv_type("history")
    assert [m["body"] for m in history["messages"]] == ["hello bob"]

    await bob.send({"type": "ping"})
    assert (await bob.recv_type("pong")) == {"type": "pong"}
    await bob.ws.send("not json")
    assert (await bob.recv_type("error"))["code"] == "invalid"

    # The same client_id after a reconnect: the same ack, nothing new stored.
    await alice.close()
    alice = await Tab.open(base, alice_session)
    await alice.send({"type": "send", "room": lobby, "body": "hello bob", "client_id": "a1"})
    assert (await alice.recv_type("ack"))["message"] == ack["message"]

    # A frame over 64 KiB closes the socket with 1009; the server stays up.
    big = await Tab.open(base, bob_session)
    await big.ws.send('{"type":"ping","pad":"' + "x" * 70_000 + '"}')
    with pytest.raises(ConnectionClosed) as closed:
        await big.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009

    # No session: the socket is closed with 4401 (a foreign Origin: see below).
    anonymous = await _open_raw(base, session=None)
    with pytest.raises(ConnectionClosed) as refused:
        await anonymous.recv()
    assert refused.value.rcvd is not None and refused.value.rcvd.code == 4401

    # Logout closes that session's sockets with 4401 within 2 seconds.
    async with httpx.AsyncClient(base_url=base, cookies={"sessionid": bob_session}) as http:
        token = (await http.get("/api/csrf")).json()["csrf_token"]
        logout = await http.post("/api/auth/logout", headers={"X-CSRFToken": token})
        assert logout.status_code == 204
    with pytest.raises(ConnectionClosed) as ended:
        await bob.recv_type("never", timeout=2.5)
    assert ended.value.rcvd is not None and ended.value.rcvd.code == 4401
    assert httpx.get(f"{base}/healthz").status_code == 200


async def _open_raw(base: str, session: str | None, origin: str | None = None):
    from websockets.asyncio.client import connect

    headers = {"Origin": origin or base}
    if session:
        headers["Cookie"] = f"sessionid={session}"
    return await connect(base.replace("http", "ws", 1) + "/ws/", additional_headers=headers)


def start_pair(servers: list[Server], env: dict[str, str], tmp_path: Path) -> tuple[Server, Server]:
    """Two server processes sharing one database and Redis; the first migrates."""
    servers.append(start_server(env=env, log_path=tmp_path / "a.log", args=("--migrate",)))
    servers.append(start_server(env=env, log_path=tmp_path / "b.log"))
    return servers[0], servers[1]


async def test_foreign_origin_is_refused(
    servers: list[Server], e2e_database_url: str, tmp_path: Path
) -> None:
    env = server_env(e2e_database_url, tmp_path)
    servers.append(start_server(env=env, log_path=tmp_path / "a.log", args=("--migrate",)))
    session = await register(servers[0].base, "alice")
    with pytest.raises(InvalidStatus):
        await _open_raw(servers[0].base, session, origin="http://evil.example")


async def test_message_crosses_workers_through_redis(
    servers: list[Server], e2e_database_url: str, tmp_path: Path, redis_url: str
) -> None:
    env = server_env(e2e_database_url, tmp_path, REDIS_URL=redis_url)
    a, b = (server.base for server in start_pair(servers, env, tmp_path))
    lobby = lobby_id(e2e_database_url)
    alice = await Tab.open(a, await register(a, "alice"))
    bob = await Tab.open(b, await register(b, "bob"))
    await alice.subscribe(lobby)
    subscribed = await bob.subscribe(lobby)
    assert subscribed["online"] == 2  # presence is shared by the workers
    for i in range(10):
        await alice.send({"type": "send", "room": lobby, "body": f"m{i}", "client_id": f"x{i}"})
    seqs = [(await bob.recv_type("message"))["message"]["seq"] for _ in range(10)]
    assert seqs == list(range(1, 11))


async def test_killed_worker_loses_no_acked_message(
    servers: list[Server], e2e_database_url: str, tmp_path: Path, redis_url: str
) -> None:
    env = server_env(e2e_database_url, tmp_path, REDIS_URL=redis_url, CHAT_SEND_BURST="1000")
    doomed, survivor = start_pair(servers, env, tmp_path)
    lobby = lobby_id(e2e_database_url)
    senders = [await register(survivor.base, f"sender{i}") for i in range(3)]
    watcher = await Tab.open(survivor.base, await register(survivor.base, "watcher"))
    await watcher.subscribe(lobby)

    acked: dict[str, int] = {}  # client_id -> message id
    planned = {s: [f"{s[:6]}-{n}" for n in range(40)] for s in senders}

    async def send_all(session: str, base: str, client_ids: list[str]) -> list[str]:
        """Send until the socket dies; returns the client_ids not yet acked."""
        tab = await Tab.open(base, session)
        pending = list(client_ids)
        try:
            for client_id in list(pending):
                await tab.send(
                    {"type": "send", "room": lobby, "body": client_id, "client_id": client_id}
                )
                ack = await tab.recv_type("ack")
                acked[ack["client_id"]] = ack["message"]["id"]
                pending.remove(ack["client_id"])
                await asyncio.sleep(0.01)
        except (ConnectionClosed, OSError, TimeoutError):
            pass
        return pending

    async def kill_soon() -> None:
        await asyncio.sleep(0.4)
        os.kill(doomed.process.pid, signal.SIGKILL)

    results = await asyncio.gather(
        *(send_all(s, doomed.base, planned[s]) for s in senders), kill_soon()
    )
    left = dict(zip(senders, results[:-1], strict=True))
    assert any(left.values()), "the worker died after every send; kill it sooner"
    # Reconnect to the surviving worker and resend everything unacked, with the same ids.
    for session, pending in left.items():
        # A send in flight when the worker died may have been stored: resend it too.
        assert not await send_all(session, survivor.base, pending + planned[session][-1:])

    # Every acked message is stored exactly once, seqs have no gap.
    with psycopg.connect(e2e_database_url.replace("postgres://", "postgresql://", 1)) as conn:
        rows = conn.execute(
            "SELECT client_id, seq FROM chat_message WHERE room_id = %s ORDER BY seq", (lobby,)
        ).fetchall()
    client_ids = [row[0] for row in rows]
    assert sorted(client_ids) == sorted(cid for ids in planned.values() for cid in ids)
    assert [row[1] for row in rows] == list(range(1, len(rows) + 1))

    # The watcher on the surviving worker saw every message, in order, no gap.
    seen: list[int] = []
    while len(seen) < len(rows):
        seen.append((await watcher.recv_type("message", timeout=10))["message"]["seq"])
    assert seen == list(range(1, len(rows) + 1))


async def test_slow_client_is_closed_with_4408_and_the_room_goes_on(
    servers: list[Server], e2e_database_url: str, tmp_path: Path
) -> None:
    env = server_env(
        e2e_database_url,
        tmp_path,
        CHAT_SEND_BURST="5000",
        WS_FRAME_BURST="5000",
        WS_OUTBOX_SIZE="20",
    )
    servers.append(start_server(env=env, log_path=tmp_path / "a.log", args=("--migrate",)))
    base = servers[0].base
    lobby = lobby_id(e2e_database_url)
    slow_session = await register(base, "slow")
    fast = await Tab.open(base, await register(base, "fast"), max_queue=None)
    await fast.subscribe(lobby)

    # A client that subscribes and then never reads, with a tiny receive buffer.
    from websockets.asyncio.client import connect

    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", int(base.rsplit(":", 1)[1])))
    slow = await connect(
        base.replace("http", "ws", 1) + "/ws/",
        sock=raw,
        additional_headers={"Cookie": f"sessionid={slow_session}", "Origin": base},
        max_queue=1,
    )
    await slow.send(json.dumps({"type": "subscribe", "room": lobby, "after_seq": None}))
    raw_transport = slow.transport
    raw_transport.pause_reading()

    # Enough to fill the kernel buffers of the loopback connection and then the outbox.
    body, COUNT = "y" * 3990, 1500

    async def read_all() -> list[int]:
        seqs: list[int] = []
        while len(seqs) < COUNT:
            frame = await fast.recv(timeout=20)
            if frame["type"] == "message":
                seqs.append(frame["message"]["seq"])
        return seqs

    reader = asyncio.create_task(read_all())
    for i in range(COUNT):
        await fast.send({"type": "send", "room": lobby, "body": body, "client_id": f"s{i}"})
    assert await reader == list(range(1, COUNT + 1))  # the room was never stalled

    raw_transport.resume_reading()
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(slow.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4408


async def test_presence_drops_the_users_of_a_killed_worker(
    servers: list[Server], e2e_database_url: str, tmp_path: Path, redis_url: str
) -> None:
    env = server_env(e2e_database_url, tmp_path, REDIS_URL=redis_url, PRESENCE_TTL="2")
    doomed, survivor = start_pair(servers, env, tmp_path)
    lobby = lobby_id(e2e_database_url)
    alice = await Tab.open(doomed.base, await register(doomed.base, "alice"))
    await alice.subscribe(lobby)
    bob = await Tab.open(survivor.base, await register(survivor.base, "bob"))
    assert (await bob.subscribe(lobby))["online"] == 2

    os.kill(doomed.process.pid, signal.SIGKILL)
    while (presence := await bob.recv_type("presence", timeout=10))["online"] != 1:
        assert presence["online"] == 2  # announced before the kill, debounced
    assert presence == {"type": "presence", "room": lobby, "online": 1}
