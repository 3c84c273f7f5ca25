"""A Redis Sentinel deployment of a test's own, on free loopback ports: one
master, one replica and three sentinels (``redis-server --sentinel``), all with
passwords, tuned to fail over within a few seconds of losing the master.

Every process is a ``RedisServer`` of ``procs``, tracked and ended by PID.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import redis

from tests.faults.procs import START_TIMEOUT, ProcessFailed, RedisServer

MASTER_NAME = "chat"
# The master is "subjectively down" for a sentinel after this long without an
# answer; two sentinels agreeing make it "objectively down" and one fails over.
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 4000


class RedisSentinel(RedisServer):
    """``redis-server CONFIG --sentinel``: a sentinel rewrites its config file
    as it learns the deployment, so each gets one of its own."""

    def __init__(self, workdir: Path, *, master_port: int, password: str, own_password: str):
        super().__init__(workdir)
        self.config = workdir / "sentinel.conf"
        self.config.write_text(
            "\n".join(
                [
                    f"port {self.port}",
                    "bind 127.0.0.1",
                    f"dir {workdir}",
                    f"requirepass {own_password}",
                    f"sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 2",
                    f"sentinel auth-pass {MASTER_NAME} {password}",
                    f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}",
                    f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}",
                    f"sentinel parallel-syncs {MASTER_NAME} 1",
                    "",
                ]
            )
        )

    def command(self) -> list[str]:
        return [self.binary, str(self.config), "--sentinel", "--daemonize", "no"]


class SentinelSet:
    def __init__(self, workdir: Path, *, password: str, sentinel_password: str) -> None:
        self.password = password
        self.sentinel_password = sentinel_password
        common = (
            "--requirepass", password,
            "--masterauth", password,
            # Without persistence a sync goes over the socket, at once.
            "--repl-diskless-sync", "yes",
            "--repl-diskless-sync-delay", "0",
        )  # fmt: skip
        self.master = RedisServer(workdir / "master", options=common)
        self.replica = RedisServer(
            workdir / "replica",
            options=(*common, "--replicaof", "127.0.0.1", str(self.master.port)),
        )
        self.sentinels = [
            RedisSentinel(
                workdir / f"sentinel{i}",
                master_port=self.master.port,
                password=password,
                own_password=sentinel_password,
            )
            for i in range(3)
        ]

    @property
    def servers(self) -> list[RedisServer]:
        return [self.master, self.replica, *self.sentinels]

    @property
    def sentinel_hosts(self) -> str:
        """The value of ``REDIS_SENTINELS``."""
        return ",".join(f"127.0.0.1:{sentinel.port}" for sentinel in self.sentinels)

    def start(self) -> None:
        for server in self.servers:
            server.start()
        self._wait(self._ready, "the replica to sync and the sentinels to find each other")

    def kill(self) -> None:
        for server in self.servers:
            server.kill()

    def client(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, password=self.password, socket_timeout=2)

    def _sentinel(self, sentinel: RedisSentinel) -> redis.Redis:
        return redis.Redis(port=sentinel.port, password=self.sentinel_password, socket_timeout=2)

    def master_port(self) -> int | None:
        """The master's port as a majority of the sentinels name it."""
        named: list[int] = []
        for sentinel in self.sentinels:
            try:
                found = self._sentinel(sentinel).sentinel_get_master_addr_by_name(MASTER_NAME)
            except redis.RedisError:
                continue
            if found:
                named.append(int(found[1]))
        for port in set(named):
            if named.count(port) >= 2:
                return port
        return None

    def wait_failover(self, old_port: int, timeout: float) -> int:
        """Wait until the sentinels name a new master that answers as one; its port."""
        new: list[int] = []

        def promoted() -> bool:
            port = self.master_port()
            if port is None or port == old_port:
                return False
            if self._role(port) != "master":
                return False
            new.append(port)
            return True

        self._wait(promoted, "the sentinels to promote the replica", timeout)
        return new[-1]

    def _role(self, port: int) -> str:
        try:
            info: dict[str, Any] = self.client(port).info("replication")
        except redis.RedisError:
            return ""
        return str(info.get("role", ""))

    def _ready(self) -> bool:
        try:
            info = self.client(self.replica.port).info("replication")
            if info.get("master_link_status") != "up":
                return False
            for sentinel in self.sentinels:
                state = self._sentinel(sentinel).sentinel_master(MASTER_NAME)
                if state.get("num-slaves") != 1 or state.get("num-other-sentinels") != 2:
                    return False
        except redis.RedisError:
            return False
        return True

    def _wait(self, check: Any, what: str, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise ProcessFailed(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(0.1)
