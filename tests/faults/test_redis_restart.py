"""Redis goes away under a running server and comes back on the same port.

HTTP needs Redis only for the channel layer, so pages and the API keep
answering; /healthz says the layer is down (503 with Retry-After) and healthy
again once Redis is back, on the same server process.
"""

from __future__ import annotations

import time

import httpx
import pytest

from chatapp.core.outages import RETRY_AFTER_SECONDS
from tests.e2e.server import Server
from tests.faults.procs import RedisServer

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

PASSWORD = "correct horse battery staple"
RECOVERY_TIMEOUT = 30.0


def healthz(base: str) -> httpx.Response:
    return httpx.get(f"{base}/healthz", timeout=10)


def test_http_keeps_answering_while_redis_restarts(
    chatapp_on_faults: Server, redis_server: RedisServer
) -> None:
    server = chatapp_on_faults
    base = server.base
    with httpx.Client(base_url=base, timeout=10) as member:
        token = member.get("/api/csrf").json()["csrf_token"]
        body = {"username": "alice", "email": "alice@example.com", "password": PASSWORD}
        assert member.post(
            "/api/auth/register", json=body, headers={"X-CSRFToken": token}
        ).is_success

        for take_down in (redis_server.kill, redis_server.stop):
            log_before = server.log_path.read_text()
            take_down()
            # Both workers: each keeps its own connections to the layer.
            for _ in range(4):
                health = healthz(base)
                assert health.status_code == 503
                assert health.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
                assert health.json() == {"status": "unavailable", "db": "ok", "layer": "down"}
                assert member.get("/api/me").status_code == 200
                assert member.get("/api/rooms").status_code == 200
                assert member.get("/").status_code == 200

            redis_server.start()
            deadline = time.monotonic() + RECOVERY_TIMEOUT
            while {healthz(base).status_code for _ in range(4)} != {200}:
                assert time.monotonic() < deadline, "the layer did not come back"
                time.sleep(0.2)
            assert server.process.poll() is None

            outage_log = server.log_path.read_text()[len(log_before) :]
            assert '"status": 500' not in outage_log  # the access log (LOG_FORMAT=json)
            assert "Traceback" not in outage_log, outage_log


def test_a_write_whose_live_event_is_lost_is_still_answered_as_stored(
    chatapp_on_faults: Server, redis_server: RedisServer
) -> None:
    """PostgreSQL is the truth: with Redis down a write is stored and answered
    as such; only its live event is lost (clients catch up when they reconnect)."""
    base = chatapp_on_faults.base
    clients, users = [], []
    try:
        for name in ("alice", "bob"):
            client = httpx.Client(base_url=base, timeout=10)
            clients.append(client)
            token = client.get("/api/csrf").json()["csrf_token"]
            body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
            registered = client.post(
                "/api/auth/register", json=body, headers={"X-CSRFToken": token}
            )
            assert registered.status_code == 201, registered.text
            users.append(registered.json()["user"])
        alice, bob = clients
        redis_server.kill()
        sent = alice.post(
            "/api/friend-requests",
            json={"to": users[1]["id"]},
            headers={"X-CSRFToken": alice.cookies["csrftoken"]},
        )
        incoming = bob.get("/api/friend-requests").json()["incoming"]
        assert [request["from"]["username"] for request in incoming] == ["alice"]
        assert sent.status_code == 201, sent.text
    finally:
        for client in clients:
            client.close()
