"""Per-client-address throttles of login, registration and password reset,
over the JSON API and the pages."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from chatapp.core.redis_servers import MainRedis
from chatapp.core.throttle import Throttle, client_address, parse_rates

pytestmark = pytest.mark.django_db


def api(path: str) -> Callable[[Client, int], Any]:
    def send(client: Client, i: int) -> Any:
        body = {"login": f"nobody{i}", "password": "x"}
        if path == "/api/auth/register":
            body = {"username": f"user{i}", "email": f"user{i}@example.com", "password": "x"}
        return client.post(path, data=json.dumps(body), content_type="application/json")

    return send


def page(path: str) -> Callable[[Client, int], Any]:
    def send(client: Client, i: int) -> Any:
        forms = {
            "/accounts/login/": {"login": f"nobody{i}", "password": "x"},
            "/accounts/register/": {
                "username": f"user{i}",
                "email": f"user{i}@example.com",
                "password": "x",
            },
            "/accounts/password/reset/": {"email": f"someone{i}@example.com"},
        }
        return client.post(path, forms[path])

    return send


ENDPOINTS = {
    "api login": ("THROTTLE_LOGIN", api("/api/auth/login")),
    "page login": ("THROTTLE_LOGIN", page("/accounts/login/")),
    "api register": ("THROTTLE_REGISTER", api("/api/auth/register")),
    "page register": ("THROTTLE_REGISTER", page("/accounts/register/")),
    "page password reset": ("THROTTLE_PASSWORD_RESET", page("/accounts/password/reset/")),
}


def from_address(address: str) -> Client:
    return Client(REMOTE_ADDR=address)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_each_endpoint_is_throttled_per_client_address(settings, endpoint: str) -> None:
    setting, send = ENDPOINTS[endpoint]
    setattr(settings, setting, "3/minute")
    client = from_address("203.0.113.7")
    answers = [send(client, i) for i in range(4)]
    assert [a.status_code == 429 for a in answers] == [False, False, False, True]
    refused = answers[-1]
    assert 0 < int(refused["Retry-After"]) <= 60
    if endpoint.startswith("api"):
        error = refused.json()["error"]
        assert error["code"] == "rate_limited"
        assert "Try again in" in error["detail"]
    else:
        assert b"Too many attempts" in refused.content
        assert b"Try again in" in refused.content
    # Another address has a budget of its own.
    assert send(from_address("198.51.100.9"), 9).status_code != 429


def test_api_and_page_share_one_budget(settings) -> None:
    settings.THROTTLE_LOGIN = "3/minute"
    client = from_address("203.0.113.8")
    api("/api/auth/login")(client, 0)
    api("/api/auth/login")(client, 1)
    page("/accounts/login/")(client, 2)
    assert page("/accounts/login/")(client, 3).status_code == 429
    assert api("/api/auth/login")(client, 4).status_code == 429


def test_the_kinds_have_separate_budgets(settings) -> None:
    settings.THROTTLE_LOGIN = "1/minute"
    client = from_address("203.0.113.9")
    api("/api/auth/login")(client, 0)
    assert api("/api/auth/login")(client, 1).status_code == 429
    assert page("/accounts/password/reset/")(client, 2).status_code == 302


def test_form_pages_are_not_counted(settings) -> None:
    settings.THROTTLE_LOGIN = "1/minute"
    client = from_address("203.0.113.10")
    for _ in range(3):
        assert client.get("/accounts/login/").status_code == 200
    assert page("/accounts/login/")(client, 0).status_code != 429


def test_default_login_budget_is_on(db: None) -> None:
    client = from_address("203.0.113.11")
    statuses = [api("/api/auth/login")(client, i).status_code for i in range(21)]
    assert 429 not in statuses[:20]
    assert statuses[20] == 429


def test_off_turns_a_throttle_off(settings) -> None:
    settings.THROTTLE_LOGIN = "off"
    client = from_address("203.0.113.12")
    assert all(api("/api/auth/login")(client, i).status_code != 429 for i in range(25))


def test_without_redis_each_process_counts_alone(settings) -> None:
    settings.REDIS_URL = ""
    settings.THROTTLE_REGISTER = "2/minute"
    client = from_address("203.0.113.13")
    statuses = [api("/api/auth/register")(client, i).status_code for i in range(3)]
    assert statuses[-1] == 429


def test_redis_down_fails_open_to_a_count_per_process(
    settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    settings.THROTTLE_LOGIN = "2/minute"
    client = from_address("203.0.113.14")
    with caplog.at_level(logging.WARNING, logger="chatapp.core.throttle"):
        statuses = [api("/api/auth/login")(client, i).status_code for i in range(3)]
    assert statuses == [400, 400, 429]
    assert "counting per process" in caplog.text


def test_counts_are_shared_by_processes_through_redis(settings, redis_url: str) -> None:
    settings.THROTTLE_LOGIN = "3/minute"
    client = f"192.0.2.{uuid.uuid4().int % 250}"
    # Two throttles with their own connections, as two workers have.
    first, second = Throttle(MainRedis(url=redis_url)), Throttle(MainRedis(url=redis_url))
    assert first.hit("login", client) is None
    assert second.hit("login", client) is None
    assert first.hit("login", client) is None
    wait = second.hit("login", client)
    assert wait is not None and 0 < wait <= 60


@pytest.mark.parametrize(
    ("remote", "counted_as"),
    [
        ("203.0.113.5", "203.0.113.5"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.5", "203.0.113.5"),
        ("", "unknown"),
    ],
)
def test_client_address(remote: str, counted_as: str) -> None:
    from django.test import RequestFactory

    request = RequestFactory().post("/", REMOTE_ADDR=remote)
    assert client_address(request) == counted_as


def test_a_forwarded_for_header_is_not_the_address(settings) -> None:
    # Only uvicorn, for a proxy listed in FORWARDED_ALLOW_IPS, turns it into REMOTE_ADDR.
    settings.THROTTLE_LOGIN = "1/minute"
    client = from_address("203.0.113.15")
    api("/api/auth/login")(client, 0)
    spoofed = client.post(
        "/api/auth/login",
        data=json.dumps({"login": "x", "password": "y"}),
        content_type="application/json",
        HTTP_X_FORWARDED_FOR="198.51.100.77",
    )
    assert spoofed.status_code == 429


@pytest.mark.parametrize(
    ("value", "count"),
    [("20/minute", 1), ("20/minute;200/day", 2), ("5 per hour", 1), ("off", 0), ("OFF", 0)],
)
def test_parse_rates(value: str, count: int) -> None:
    assert len(parse_rates(value)) == count
