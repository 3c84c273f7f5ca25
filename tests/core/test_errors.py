"""Errors keep the Error shape; a dependency outage is a 503 with Retry-After,
wherever it is raised (view or middleware), and one log line."""

from __future__ import annotations

import logging
from unittest import mock

import pytest
from django.db import OperationalError
from django.test import AsyncClient

from chatapp.core.outages import RETRY_AFTER_SECONDS

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.core.outage_urls")]


@pytest.fixture
def client(async_client: AsyncClient) -> AsyncClient:
    # Django's test client re-raises the view's exception by default; the
    # point here is the response a real client gets.
    async_client.raise_request_exception = False
    return async_client


def assert_unavailable(response, detail: str | None = None) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    error = response.json()["error"]
    assert error["code"] == "unavailable"
    assert error["detail"] == (detail or error["detail"]) and error["detail"]


async def test_database_down_in_an_api_view_is_503(
    client: AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        response = await client.get("/api/test/database-down")
    assert_unavailable(response)
    # One warning, in one line, and no traceback from Django's error log.
    outage_logs = [r for r in caplog.records if r.name == "chatapp.core.errors"]
    assert [r.levelno for r in outage_logs] == [logging.WARNING]
    assert "\n" not in outage_logs[0].getMessage()
    assert "OperationalError: connection failed" in outage_logs[0].getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def test_unavailable_carries_its_detail(client: AsyncClient) -> None:
    assert_unavailable(
        await client.get("/api/test/unavailable"), detail="Messages are briefly read-only."
    )


async def test_database_down_in_a_page_is_the_503_page(client: AsyncClient) -> None:
    response = await client.get("/test/database-down")
    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "Briefly unavailable" in html
    assert 'class="card narrow"' in html  # the look of the other error pages


async def test_a_bug_is_still_a_500_in_the_error_shape(
    client: AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = await client.get("/api/test/bug")
    assert response.status_code == 500
    assert "Retry-After" not in response
    assert response.json() == {
        "error": {"code": "server_error", "detail": "Something went wrong on our side."}
    }
    # A bug keeps its traceback in the log.
    assert any(r.exc_info and r.exc_info[0] is ValueError for r in caplog.records)


async def test_a_bug_in_a_page_is_the_500_page(client: AsyncClient) -> None:
    response = await client.get("/test/bug")
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()


def _session_store_down() -> mock._patch:  # type: ignore[type-arg]
    return mock.patch(
        "django.contrib.sessions.backends.db.SessionStore._aget_session_from_db",
        side_effect=OperationalError("connection failed: connection refused"),
    )


async def test_session_load_failing_in_middleware_is_503(client: AsyncClient) -> None:
    """The session is loaded by resolve_user, a middleware, before any view."""
    client.cookies["sessionid"] = "x" * 32
    with _session_store_down():
        api = await client.get("/api/me")
        page = await client.get("/accounts/login/")
        healthz = await client.get("/healthz")
    assert_unavailable(api)
    assert_unavailable(healthz)
    assert page.status_code == 503
    assert page["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert "Briefly unavailable" in page.content.decode()


async def test_login_with_the_database_down_is_503(client: AsyncClient) -> None:
    """Login goes through the axes backend and the session: both need PostgreSQL."""
    token = (await client.get("/api/csrf")).json()["csrf_token"]
    with mock.patch(
        "django.db.backends.base.base.BaseDatabaseWrapper.ensure_connection",
        side_effect=OperationalError("connection failed: connection refused"),
    ):
        response = await client.post(
            "/api/auth/login",
            {"login": "alice", "password": "whatever"},
            content_type="application/json",
            headers={"X-CSRFToken": token},
        )
    assert_unavailable(response)
