"""PostgreSQL goes away under a running server, twice (stopped, then killed),
and comes back on the same port.

While it is down every page and API path answers 503 with Retry-After (never
500, no traceback per request); once it is back the same server process
answers as before, without a restart.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from chatapp.core.outages import RETRY_AFTER_SECONDS
from tests.e2e.server import Server
from tests.faults.procs import PostgresCluster

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

PASSWORD = "correct horse battery staple"
RECOVERY_TIMEOUT = 30.0
# Requests per path while PostgreSQL is down, so that both workers answer some.
TRIES = 4
# How long each outage lasts at least: asyncpg's pool retries its connections
# meanwhile, and /healthz is polled as a balancer would.
OUTAGE_SECONDS = 3.0


@dataclass
class Probe:
    """One request of the test, sent by the logged-in user or by a visitor."""

    name: str
    send: Callable[[], httpx.Response]
    json: bool


def csrf_field(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


def register(client: httpx.Client, base: str) -> dict[str, object]:
    token = client.get("/api/csrf").json()["csrf_token"]
    body = {"username": "alice", "email": "alice@example.com", "password": PASSWORD}
    response = client.post(
        "/api/auth/register", json=body, headers={"X-CSRFToken": token, "Origin": base}
    )
    assert response.status_code == 201, response.text
    return dict(response.json()["user"])


def probes(member: httpx.Client, visitor: httpx.Client, base: str) -> list[Probe]:
    """The requests checked during and after each outage. The visitor's CSRF
    tokens come from before the outage, as a browser's would; the visitor's
    attempts fail (wrong password, name taken), so they answer the same each time."""
    api_token = visitor.get("/api/csrf").json()["csrf_token"]
    page_token = csrf_field(visitor.get("/accounts/login/").text)
    headers = {"X-CSRFToken": api_token, "Origin": base}
    login = {"login": "alice", "password": "not the password"}
    return [
        Probe("GET /api/me", lambda: member.get("/api/me"), json=True),
        Probe("GET /api/rooms", lambda: member.get("/api/rooms"), json=True),
        Probe("GET /", lambda: member.get("/"), json=False),
        Probe("GET /accounts/login/", lambda: member.get("/accounts/login/"), json=False),
        Probe("GET /chat/", lambda: member.get("/chat/"), json=False),
        Probe(
            "POST /api/auth/login",
            lambda: visitor.post("/api/auth/login", json=login, headers=headers),
            json=True,
        ),
        Probe(
            "POST /api/auth/register",
            lambda: visitor.post(
                "/api/auth/register",
                json={"username": "alice", "email": "alice2@example.com", "password": PASSWORD},
                headers=headers,
            ),
            json=True,
        ),
        Probe(
            "POST /accounts/login/",
            lambda: visitor.post(
                "/accounts/login/",
                data={"csrfmiddlewaretoken": page_token, "login": "alice", "password": "x"},
                headers={"Origin": base},
            ),
            json=False,
        ),
    ]


def assert_unavailable(probe: Probe) -> None:
    for _ in range(TRIES):
        response = probe.send()
        assert response.status_code == 503, f"{probe.name}: {response.status_code}"
        assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS), probe.name
        if probe.json:
            assert response.json()["error"]["code"] == "unavailable", probe.name
        else:
            assert "Briefly unavailable" in response.text, probe.name


def wait_until_answering(base: str, member: httpx.Client) -> None:
    """Until /healthz and the member's own requests work again, within RECOVERY_TIMEOUT."""
    deadline = time.monotonic() + RECOVERY_TIMEOUT
    while time.monotonic() < deadline:
        # Every worker must be back, so ask several times in a row.
        statuses = [httpx.get(f"{base}/healthz", timeout=5).status_code for _ in range(TRIES)]
        statuses += [member.get("/api/me").status_code for _ in range(TRIES)]
        statuses += [member.get("/api/rooms").status_code for _ in range(TRIES)]
        assert 500 not in statuses
        if set(statuses) == {200}:
            return
        time.sleep(0.2)
    raise AssertionError(f"not answering {RECOVERY_TIMEOUT:.0f} s after PostgreSQL came back")


def test_pages_and_api_answer_503_while_postgres_is_down_then_recover(
    chatapp_on_faults: Server, postgres_cluster: PostgresCluster
) -> None:
    server = chatapp_on_faults
    base = server.base
    with (
        httpx.Client(base_url=base, timeout=10) as member,
        httpx.Client(base_url=base, timeout=10) as visitor,
    ):
        user = register(member, base)
        checks = probes(member, visitor, base)
        expected = {probe.name: probe.send().status_code for probe in checks}
        assert expected["GET /api/me"] == 200
        assert expected["POST /api/auth/login"] in {400, 401}
        assert 500 not in expected.values(), expected

        # A clean stop (pg_ctl -m fast), then a crash (SIGKILL to every process).
        for outage, take_down in enumerate([postgres_cluster.stop, postgres_cluster.kill], 1):
            log_before = server.log_path.read_text()
            take_down()
            down_since = time.monotonic()
            for probe in checks:
                assert_unavailable(probe)
            while time.monotonic() - down_since < OUTAGE_SECONDS:
                health = httpx.get(f"{base}/healthz", timeout=5)
                assert health.status_code == 503
                assert health.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
                assert health.json() == {"status": "unavailable", "db": "down", "layer": "ok"}
                assert member.get("/api/rooms").status_code == 503
                time.sleep(0.25)

            postgres_cluster.start()
            wait_until_answering(base, member)
            assert member.get("/api/me").json() == user | {
                "show_read_receipts": True,
                "language": "en",
            }
            for probe in checks:
                assert probe.send().status_code == expected[probe.name], (outage, probe.name)
            outage_log = server.log_path.read_text()[len(log_before) :]
            assert server.process.poll() is None, "the server exited"
            assert "Started server process" not in outage_log, "a worker was restarted"
            assert '"status": 500' not in outage_log  # the access log (LOG_FORMAT=json)
            assert "Traceback" not in outage_log, outage_log
            assert "503 GET /api/me: a dependency is down" in outage_log
