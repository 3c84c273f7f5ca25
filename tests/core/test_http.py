from __future__ import annotations

from unittest import mock

import pytest
from django.test import Client

from chatapp.core.outages import RETRY_AFTER_SECONDS

pytestmark = pytest.mark.django_db


def test_healthz_ok() -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "db": "ok", "layer": "ok"}


def test_healthz_503_when_database_is_down() -> None:
    with mock.patch("chatapp.core.views._database_ok", side_effect=OSError("connection refused")):
        response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "db": "down", "layer": "ok"}
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)


def test_healthz_503_when_channel_layer_is_down() -> None:
    broken = mock.Mock()
    broken.group_send = mock.AsyncMock(side_effect=ConnectionError("redis is gone"))
    with mock.patch("chatapp.core.views.get_channel_layer", return_value=broken):
        response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "db": "ok", "layer": "down"}
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)


def test_security_headers_on_pages() -> None:
    response = Client().get("/accounts/login/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_static_files_are_served_by_the_app() -> None:
    response = Client().get("/static/chatapp/app.css")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")


@pytest.mark.parametrize(
    "path",
    [
        "/api/me",
        "/api/users?q=a",
        "/api/rooms",
        "/api/friends",
        "/api/friend-requests",
        "/api/notifications",
        "/api/csrf",
        "/api/rooms/999999/messages",
    ],
)
def test_api_answers_are_never_cached(make_user, path: str) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(make_user("alice"))
    response = client.get(path)
    assert response.status_code in (200, 404)
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_api_errors_are_never_cached_either() -> None:
    response = Client().get("/api/me")
    assert response.status_code == 401
    assert "no-store" in response["Cache-Control"]


def test_static_files_carry_no_cors_and_a_file_policy() -> None:
    response = Client().get("/static/chatapp/app.css")
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response
    assert "sandbox" in response["Content-Security-Policy"]
    assert "default-src 'none'" in response["Content-Security-Policy"]
