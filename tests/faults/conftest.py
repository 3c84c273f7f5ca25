"""Fixtures of the fault tests: a Redis and a PostgreSQL of the test's own,
which it may stop, kill and start again, and ``chatapp serve`` on them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import e2e_database_url  # noqa: F401 - used by the storm test
from tests.e2e.server import Server, stop
from tests.faults.procs import PostgresCluster, RedisServer, start_chatapp


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def postgres_cluster() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    try:
        cluster.start()
        cluster.create_database()
        yield cluster
    finally:
        cluster.cleanup()


@pytest.fixture
def chatapp_on_faults(
    postgres_cluster: PostgresCluster, redis_server: RedisServer, tmp_path: Path
) -> Iterator[Server]:
    """``chatapp serve --migrate`` with two workers on the two servers above."""
    server = start_chatapp(
        postgres=postgres_cluster, redis_url=redis_server.url, workdir=tmp_path, workers=2
    )
    try:
        yield server
    finally:
        stop(server.process)
