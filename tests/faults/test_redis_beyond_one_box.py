"""Redis beyond one box, against real processes this test owns (free loopback
ports; its own PostgreSQL cluster):

- Sentinel: a master, a replica and three sentinels, all with passwords, and
  two ``chatapp serve`` configured through the sentinels only. The master is
  killed (SIGKILL) while clients on both servers chat; after the failover every
  acknowledged message is stored once, every socket got every message in
  order, none closed, and both servers rejoined their groups on the new master,
  so what is sent afterwards travels through the layer again.
- Shards: the channel layer spread over two Redis servers; a room whose group
  lives on each shard carries messages between clients of two servers.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import redis
from channels_redis.core import RedisChannelLayer

from tests.e2e.server import Server, stop
from tests.faults.chatters import Member, members, wait_until
from tests.faults.procs import PostgresCluster, RedisServer, start_chatapp
from tests.faults.sentinel import MASTER_NAME, SentinelSet

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

PREFIX = "chatapp-test"  # REDIS_PREFIX of the servers, so the test can read their keys
# Beyond this a message may have come from the database poll (10 s while the
# layer is up), not through the layer: the bound tells the two paths apart.
THROUGH_THE_LAYER = 5.0


@pytest.fixture
def sentinels(tmp_path: Path) -> Iterator[SentinelSet]:
    group = SentinelSet(
        tmp_path / "redis",
        password="redis-" + uuid.uuid4().hex,
        sentinel_password="s-" + uuid.uuid4().hex,
    )
    try:
        group.start()
        yield group
    finally:
        group.kill()


@contextmanager
def two_servers(postgres: PostgresCluster, tmp_path: Path, **env: str) -> Iterator[list[Server]]:
    """Two ``chatapp serve`` of one worker each on one database and one Redis
    setup: a socket on one and a socket on the other are on two workers."""
    env = {"SECRET_KEY": "faults-" + uuid.uuid4().hex * 2, "REDIS_PREFIX": PREFIX, **env}
    redis_url = env.pop("REDIS_URL", "")
    servers: list[Server] = []
    try:
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            servers.append(
                start_chatapp(
                    postgres=postgres,
                    redis_url=redis_url,
                    workdir=tmp_path / name,
                    migrate=not servers,
                    **env,
                )
            )
        yield servers
    finally:
        for server in servers:
            stop(server.process)


def stored(postgres: PostgresCluster, room: int) -> dict[str, list[int]]:
    """client_id -> the seqs of the messages stored with it in the room."""
    found: dict[str, list[int]] = {}
    with psycopg.connect(postgres.url) as connection:
        rows = connection.execute(
            "SELECT client_id, seq FROM chat_message WHERE room_id = %s", (room,)
        ).fetchall()
    for client_id, seq in rows:
        found.setdefault(client_id, []).append(seq)
    return found


def group_channels(client: redis.Redis, room: int) -> int:
    """How many worker channels the room's layer group holds on this server."""
    return int(client.zcard(f"{PREFIX}:group:room.{room}"))


def assert_delivered_everything(group: list[Member], sent: list[str]) -> None:
    total = len(sent)
    for member in group:
        assert member.closed is None, f"{member.name}'s socket closed with {member.closed}"
        assert member.seqs == list(range(1, total + 1)), member.name
        assert not member.errors, member.errors
    acked = {client_id: seq for m in group for client_id, seq in m.acks.items()}
    assert set(acked) == set(sent)


async def test_sentinel_failover_under_two_servers_loses_nothing(
    postgres_cluster: PostgresCluster, sentinels: SentinelSet, tmp_path: Path
) -> None:
    with two_servers(
        postgres_cluster,
        tmp_path,
        REDIS_SENTINELS=sentinels.sentinel_hosts,
        REDIS_SENTINEL_MASTER=MASTER_NAME,
        REDIS_PASSWORD=sentinels.password,
        REDIS_SENTINEL_PASSWORD=sentinels.sentinel_password,
    ) as servers:
        bases = tuple(server.base for server in servers)
        group = await members(bases[0], [f"user{i}" for i in range(8)], spread_over=bases)
        senders = group[:4]  # two on each server
        lobby = group[0].lobby
        sent: list[str] = []

        async def send_round(label: str) -> None:
            for sender in senders:
                client_id = f"{sender.name}-{label}"
                sent.append(client_id)
                await sender.send(client_id)

        try:
            old_master = sentinels.master.port
            assert group_channels(sentinels.client(old_master), lobby) == 2
            for i in range(5):
                await send_round(f"before{i}")
                await asyncio.sleep(0.1)

            failover = asyncio.ensure_future(
                asyncio.to_thread(sentinels.wait_failover, old_master, 60)
            )
            sentinels.master.kill()
            rounds = 0
            while not failover.done():  # clients chat on through the failover
                await send_round(f"during{rounds}")
                rounds += 1
                await asyncio.sleep(0.2)
            new_master = await failover
            assert new_master == sentinels.replica.port
            assert rounds >= 5  # the failover took a while: sends went on meanwhile

            # Both servers rejoin their groups on the new master (within a few
            # checks of the layer, one a second).
            promoted = sentinels.client(new_master)
            await wait_until(lambda: group_channels(promoted, lobby) == 2, 15, "the rejoin")
            await asyncio.sleep(1.5)  # each hub catches its rooms up after rejoining
            after_from = len(sent)
            for i in range(5):
                await send_round(f"after{i}")
                await asyncio.sleep(0.1)
            # What is sent now arrives through the layer, on both servers.
            await wait_until(
                lambda: all(len(m.seqs) >= len(sent) for m in group),
                THROUGH_THE_LAYER,
                f"live delivery of the {len(sent) - after_from} messages sent after the failover",
            )
            await asyncio.sleep(0.5)  # nothing more (no duplicate) arrives
            assert_delivered_everything(group, sent)
        finally:
            for member in group:
                await member.close()

        rows = stored(postgres_cluster, lobby)
        assert sorted(rows) == sorted(sent)
        assert all(len(seqs) == 1 for seqs in rows.values()), "a message was stored twice"
        acked = {client_id: seq for m in group for client_id, seq in m.acks.items()}
        assert {client_id: seqs[0] for client_id, seqs in rows.items()} == acked

        for server in servers:
            log = server.log_path.read_text()
            assert "Traceback" not in log, log[-3000:]
            assert "Exception in ASGI application" not in log
            assert log.count("the channel layer is unreachable") == 1
            assert log.count("the channel layer is back") == 1


async def test_the_layer_sharded_over_two_redis_carries_rooms_of_both_shards(
    postgres_cluster: PostgresCluster, redis_server: RedisServer, tmp_path: Path
) -> None:
    second = RedisServer(tmp_path / "redis2")
    second.start()
    shards = [redis_server, second]
    try:
        layer_urls = ",".join(shard.url for shard in shards)
        with two_servers(
            postgres_cluster, tmp_path, REDIS_URL=redis_server.url, REDIS_LAYER_URLS=layer_urls
        ) as servers:
            bases = tuple(server.base for server in servers)
            ring = RedisChannelLayer(hosts=[shard.url for shard in shards])
            lobby_group = await members(
                bases[0], ["lobby0", "lobby1", "lobby2", "lobby3"], spread_over=bases
            )
            lobby = lobby_group[0].lobby
            lobby_shard = ring.consistent_hash(f"room.{lobby}")
            # A public room whose group lands on the other shard.
            other = next(
                room
                for room in range(1000, 2000)
                if ring.consistent_hash(f"room.{room}") != lobby_shard
            )
            with psycopg.connect(postgres_cluster.url) as connection:
                connection.execute(
                    "INSERT INTO chat_room (id, kind, title, last_seq, last_rev, created_at,"
                    " closed) VALUES (%s, 'public', 'Second shard', 0, 0, now(), false)",
                    (other,),
                )
            other_group = await members(
                bases[0], ["other0", "other1", "other2", "other3"], room=other, spread_over=bases
            )
            try:
                for room, holder in ((lobby, lobby_shard), (other, 1 - lobby_shard)):
                    clients = [redis.Redis(port=shard.port) for shard in shards]
                    assert group_channels(clients[holder], room) == 2  # one per server
                    assert group_channels(clients[1 - holder], room) == 0
                # Each server's restart marker is on both shards: a shard that
                # restarts empty is noticed and its groups rejoined.
                for client in clients:
                    assert len(client.keys(f"{PREFIX}:worker:*")) == 2

                sent: dict[int, list[str]] = {lobby: [], other: []}
                for i in range(5):
                    for room_members in (lobby_group, other_group):
                        for sender in room_members[:2]:  # one on each server
                            client_id = f"{sender.name}-{i}"
                            sent[sender.lobby].append(client_id)
                            await sender.send(client_id)
                    await asyncio.sleep(0.05)
                everyone = lobby_group + other_group
                await wait_until(
                    lambda: all(len(m.seqs) >= len(sent[m.lobby]) for m in everyone),
                    THROUGH_THE_LAYER,
                    "delivery across the servers",
                )
                await asyncio.sleep(0.5)
                assert_delivered_everything(lobby_group, sent[lobby])
                assert_delivered_everything(other_group, sent[other])
            finally:
                for member in lobby_group + other_group:
                    await member.close()
            for room in (lobby, other):
                rows = stored(postgres_cluster, room)
                assert sorted(rows) == sorted(sent[room])
            for server in servers:
                assert "Traceback" not in server.log_path.read_text()
    finally:
        second.kill()
