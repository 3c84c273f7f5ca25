"""More than one host, for real: two hosts (network namespaces with their own
addresses) each run ``chatapp serve --workers 2``, sharing one PostgreSQL, one
Redis and one S3-compatible bucket on the host side of their network, behind
one nginx (tests/hosts/cluster.py).

A message sent through one host reaches the sockets on the other; an avatar
uploaded through one host is served by the other; and when every process of
one host is killed at once, no acked message is lost: each is in the database
once, and every socket of the surviving host has it, live or on resume."""

from __future__ import annotations

import asyncio
import io
import statistics
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from PIL import Image
from websockets.exceptions import ConnectionClosed

from tests.e2e.client import Tab, register
from tests.hosts.cluster import BUCKET, WORKERS, Cluster, HostServer, two_hosts

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

MESSAGES = 20  # timed one at a time across the hosts
KILL_AFTER_ACKS = 30  # host A dies once this many sends through it are acked
SEND_LIMIT = 400  # each sender's sends, at most (the kill ends them sooner)
DELIVERY_TIMEOUT = 15.0  # s for everything acked to reach a socket


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with two_hosts(tmp_path_factory.mktemp("hosts")) as built:
        yield built
        logs = built.logs()
    assert "Traceback" not in logs


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def lobby_tab(base: str, session: str, **options: Any) -> Tab:
    tab = await Tab.open(base, session, **options)
    assert tab.lobby is not None
    await tab.subscribe(tab.lobby)
    return tab


async def test_a_message_sent_through_one_host_reaches_sockets_on_the_other(
    cluster: Cluster,
) -> None:
    a, b = cluster.servers
    names = [f"x{uuid.uuid4().hex[:8]}" for _ in range(4)]
    sessions = [await register(a.base, name) for name in names]
    sender = await lobby_tab(a.base, sessions[0])
    near = await lobby_tab(a.base, sessions[1])  # the sender's host
    far = [await lobby_tab(b.base, session) for session in sessions[2:]]  # the other host
    lobby = sender.lobby
    same_host: list[float] = []
    cross_host: list[float] = []

    async def arrival(tab: Tab, client_id: str, sent_at: float) -> tuple[float, dict[str, Any]]:
        while True:
            frame = await tab.recv_type("message")
            if frame["message"]["client_id"] == client_id:
                return time.perf_counter() - sent_at, frame["message"]

    try:
        for i in range(MESSAGES):
            client_id = uuid.uuid4().hex
            sent_at = time.perf_counter()
            await sender.send(
                {"type": "send", "room": lobby, "body": f"across {i}", "client_id": client_id}
            )
            ack = await sender.recv_type("ack")
            assert ack["client_id"] == client_id
            seq = ack["message"]["seq"]
            arrivals = await asyncio.gather(
                *(arrival(tab, client_id, sent_at) for tab in [near, *far])
            )
            for _, message in arrivals:
                assert (message["seq"], message["body"]) == (seq, f"across {i}")
            same_host.append(arrivals[0][0])
            cross_host += [latency for latency, _ in arrivals[1:]]
    finally:
        for tab in [sender, near, *far]:
            await tab.close()

    assert len(cross_host) == MESSAGES * len(far)
    ms = 1000
    print(
        f"\nsend -> delivery, {MESSAGES} messages: same host p50 "
        f"{statistics.median(same_host) * ms:.1f} ms, max {max(same_host) * ms:.1f} ms; "
        f"other host p50 {statistics.median(cross_host) * ms:.1f} ms, "
        f"p90 {percentile(cross_host, 0.9) * ms:.1f} ms, max {max(cross_host) * ms:.1f} ms"
    )


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 200), color=(40, 160, 90)).save(out, format="PNG")
    return out.getvalue()


async def upload_avatar(server: HostServer, session: str) -> None:
    """The profile page's form, as a browser posts it, straight to one host."""
    async with httpx.AsyncClient(base_url=server.base, cookies={"sessionid": session}) as client:
        page = await client.get("/accounts/profile/")
        assert page.status_code == 200
        me = (await client.get("/api/me")).json()
        answer = await client.post(
            "/accounts/profile/",
            data={
                "csrfmiddlewaretoken": client.cookies["csrftoken"],
                "email": me.get("email") or f"{me['username']}@example.com",
                "hide_email": "",
            },
            files={"avatar": ("me.png", png(), "image/png")},
        )
        assert answer.status_code == 302, answer.text[-2000:]


def files_under(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()] if folder.exists() else []


async def test_an_avatar_uploaded_through_one_host_is_served_by_the_other(
    cluster: Cluster,
) -> None:
    a, b = cluster.servers
    session = await register(a.base, f"av{uuid.uuid4().hex[:8]}")
    await upload_avatar(a, session)

    async with httpx.AsyncClient(base_url=b.base, cookies={"sessionid": session}) as on_b:
        avatar = (await on_b.get("/api/me")).json()["avatar"]
        assert avatar.startswith("/media/avatars/") and avatar.endswith(".webp")
        direct = await on_b.get(avatar)
    key = avatar.removeprefix("/media/")
    stored = cluster.s3.read(BUCKET, key)
    assert direct.status_code == 200
    assert direct.headers["content-type"] == "image/webp"
    assert direct.content == stored

    async with httpx.AsyncClient(
        base_url=cluster.nginx.base, verify=cluster.nginx.ssl_context()
    ) as through_nginx:
        proxied = await through_nginx.get(avatar)
    assert proxied.status_code == 200
    assert proxied.content == stored
    assert "sandbox" in proxied.headers["content-security-policy"]

    # In the bucket only: neither host has it on its own disk.
    assert files_under(a.media_root) == [] and files_under(b.media_root) == []
    cluster.notes["avatar"] = avatar


class Watcher:
    """A socket that records the seq of every Lobby message it is given."""

    def __init__(self, tab: Tab) -> None:
        self.tab = tab
        self.seqs: set[int] = set()
        self.closed = False

    async def run(self) -> None:
        try:
            while True:
                frame = await self.tab.recv(timeout=None)
                if frame.get("type") == "message":
                    self.seqs.add(frame["message"]["seq"])
        except ConnectionClosed:
            self.closed = True

    def resume_point(self, first: int) -> int:
        """The last seq it holds with every seq from ``first`` up to it."""
        seq = first - 1
        while seq + 1 in self.seqs:
            seq += 1
        return seq


class Sender:
    """A socket that sends messages one at a time, recording acked and pending ones."""

    def __init__(self, tab: Tab, lobby: int, name: str) -> None:
        self.tab = tab
        self.lobby = lobby
        self.name = name
        self.acked: dict[str, int] = {}  # client_id -> seq
        self.pending: dict[str, str] = {}  # client_id -> body, sent and not acked

    async def run(self) -> None:
        try:
            for i in range(SEND_LIMIT):
                client_id = uuid.uuid4().hex
                body = f"{self.name} {i}"
                self.pending[client_id] = body
                await self.tab.send(
                    {"type": "send", "room": self.lobby, "body": body, "client_id": client_id}
                )
                self.acked[client_id] = await self.ack(client_id)
                del self.pending[client_id]
        except (ConnectionClosed, TimeoutError):
            pass  # its host died

    async def ack(self, client_id: str) -> int:
        while True:
            frame = await self.tab.recv()
            if frame.get("type") == "ack" and frame["client_id"] == client_id:
                return int(frame["message"]["seq"])
            assert frame.get("type") != "error", frame


async def wait_until(check: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def test_killing_one_host_loses_no_acked_message(cluster: Cluster) -> None:
    a, b = cluster.servers
    names = [f"k{uuid.uuid4().hex[:8]}" for _ in range(6)]
    sessions = dict(zip(names, [await register(b.base, name) for name in names], strict=True))
    nginx_ssl = {"ssl": cluster.nginx.ssl_context()}
    sender_tabs = [await lobby_tab(a.base, sessions[name]) for name in names[:3]]
    lobby = sender_tabs[0].lobby
    assert lobby is not None
    on_a = Watcher(await lobby_tab(a.base, sessions[names[3]]))
    on_b = [Watcher(await lobby_tab(b.base, sessions[name])) for name in names[4:]]
    first_seq = int((await on_b[0].tab.subscribe(lobby))["last_seq"]) + 1
    senders = [Sender(tab, lobby, name) for tab, name in zip(sender_tabs, names, strict=False)]
    watching = [asyncio.create_task(w.run()) for w in [on_a, *on_b]]
    sending = [asyncio.create_task(s.run()) for s in senders]
    reopened: list[Tab] = []
    try:
        acked_count = lambda: sum(len(s.acked) for s in senders)  # noqa: E731
        assert await wait_until(lambda: acked_count() >= KILL_AFTER_ACKS, 60), "too few acks"
        killed = a.kill()
        assert len(killed) >= 1 + WORKERS, killed  # uvicorn's master and its workers
        assert a.host.pids() == []
        await asyncio.wait_for(asyncio.gather(*sending), 30)
        assert await wait_until(lambda: on_a.closed, 30), "host A's socket outlived its host"

        # In-flight sends are sent again with their client_id, as clients do,
        # through nginx: host A is gone, so host B takes them.
        in_flight = 0
        for sender in senders:
            if not sender.pending:
                continue
            tab = await Tab.open(cluster.nginx.base, sessions[sender.name], **nginx_ssl)
            reopened.append(tab)
            sender.tab = tab
            for client_id, body in sender.pending.items():
                in_flight += 1
                await tab.send(
                    {"type": "send", "room": lobby, "body": body, "client_id": client_id}
                )
                sender.acked[client_id] = await sender.ack(client_id)
            sender.pending.clear()

        acked = {cid: seq for sender in senders for cid, seq in sender.acked.items()}
        expected = set(acked.values())
        assert len(expected) == len(acked), "two sends acked with one seq"

        # Every acked message is stored, once, with the seq its ack gave.
        with psycopg.connect(cluster.postgres.url.replace("postgres://", "postgresql://")) as db:
            rows = db.execute(
                "SELECT client_id, seq FROM chat_message"
                " WHERE room_id = %s AND client_id = ANY(%s)",
                (lobby, list(acked)),
            ).fetchall()
        assert sorted(rows) == sorted(acked.items())

        # The surviving host's sockets got every one of them live.
        for watcher in on_b:
            delivered = await wait_until(lambda w=watcher: expected <= w.seqs, DELIVERY_TIMEOUT)
            assert delivered, f"missing on host B: {sorted(expected - watcher.seqs)[:20]}"

        # The socket that died with host A resumes through nginx on host B from
        # the last seq it held, and is given exactly what it missed.
        resume_from = on_a.resume_point(first_seq)
        tab = await Tab.open(cluster.nginx.base, sessions[names[3]], **nginx_ssl)
        reopened.append(tab)
        subscribed = await tab.subscribe(lobby, after_seq=resume_from)
        missed = {seq for seq in expected if seq > resume_from}
        caught_up: set[int] = set()
        while len(caught_up) < int(subscribed["last_seq"]) - resume_from:
            frame = await tab.recv_type("message")
            caught_up.add(frame["message"]["seq"])
        assert missed <= caught_up
        assert expected <= on_a.seqs | caught_up

        # A socket of host B that reconnects and resumes from before the kill
        # is given the whole run from the database, in order.
        tab = await Tab.open(cluster.nginx.base, sessions[names[4]], **nginx_ssl)
        reopened.append(tab)
        subscribed = await tab.subscribe(lobby, after_seq=first_seq - 1)
        resumed = [(await tab.recv_type("message"))["message"]["seq"] for _ in expected]
        assert resumed == sorted(expected)
    finally:
        for task in [*sending, *watching]:
            task.cancel()
        await asyncio.gather(*sending, *watching, return_exceptions=True)
        for tab in [*reopened, *sender_tabs, on_a.tab, *(w.tab for w in on_b)]:
            await tab.close()

    # nginx now sends everything to host B; the avatar uploaded through host A
    # before it died is still there.
    async with httpx.AsyncClient(
        base_url=cluster.nginx.base, verify=cluster.nginx.ssl_context()
    ) as client:
        assert (await client.get("/healthz")).status_code == 200
        if "avatar" in cluster.notes:
            assert (await client.get(cluster.notes["avatar"])).status_code == 200
    print(
        f"\nhost A killed ({len(killed)} processes) after {len(acked) - in_flight} acks; "
        f"{in_flight} in-flight sends acked on host B; {len(expected)} messages, none lost"
    )
