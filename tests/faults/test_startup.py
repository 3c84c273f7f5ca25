"""A worker that starts while PostgreSQL is down still starts, and serves once
PostgreSQL is back, without a restart."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import stop
from tests.faults.procs import PostgresCluster, RedisServer, start_chatapp

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

PASSWORD = "correct horse battery staple"
WORKERS = 2
STARTUP_TIMEOUT = 60.0


class StartWhenWorkersStarted(threading.Thread):
    """Starts PostgreSQL once every worker has finished its startup (seen in the
    server log past ``offset``), so that they all ran it with PostgreSQL down."""

    def __init__(self, cluster: PostgresCluster, log_path: Path, offset: int) -> None:
        super().__init__(daemon=True)
        self.cluster, self.log_path, self.offset = cluster, log_path, offset
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while time.monotonic() < deadline:
                started = self.log_path.read_text()[self.offset :]
                if started.count("Application startup complete.") >= WORKERS:
                    break
                time.sleep(0.1)
            self.cluster.start()
        except BaseException as exc:
            self.error = exc


def test_workers_started_without_postgres_serve_once_it_is_back(
    postgres_cluster: PostgresCluster, redis_server: RedisServer, tmp_path: Path
) -> None:
    # Migrate with a first server, then take PostgreSQL away before the second.
    first = start_chatapp(postgres=postgres_cluster, redis_url=redis_server.url, workdir=tmp_path)
    stop(first.process)
    postgres_cluster.stop()
    log_path = tmp_path / "server.log"
    first_run = len(log_path.read_text())

    comes_back = StartWhenWorkersStarted(postgres_cluster, log_path, first_run)
    comes_back.start()
    try:
        # start_server returns once /healthz answers 200, i.e. after PostgreSQL is back.
        server = start_chatapp(
            postgres=postgres_cluster,
            redis_url=redis_server.url,
            workdir=tmp_path,
            workers=WORKERS,
            migrate=False,
        )
    finally:
        comes_back.join(STARTUP_TIMEOUT + 30)
    try:
        assert comes_back.error is None, comes_back.error
        second_run = log_path.read_text()[first_run:]
        assert second_run.count("asyncpg pool not opened at startup") == WORKERS, second_run
        with httpx.Client(base_url=server.base, timeout=10) as client:
            token = client.get("/api/csrf").json()["csrf_token"]
            body = {"username": "alice", "email": "alice@example.com", "password": PASSWORD}
            registered = client.post(
                "/api/auth/register", json=body, headers={"X-CSRFToken": token}
            )
            assert registered.status_code == 201, registered.text
            # /api/rooms reads through the asyncpg pool, opened on this first use.
            for _ in range(4):
                rooms = client.get("/api/rooms")
                assert rooms.status_code == 200, rooms.text
                assert [room["title"] for room in rooms.json()["results"]] == ["Lobby"]
        assert "Traceback" not in log_path.read_text()[first_run:]
    finally:
        stop(server.process)
