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
