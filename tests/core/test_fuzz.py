"""Fuzz every path of the JSON API with hostile path ids, query strings and
bodies: never a 500, every refusal in the Error shape, and the app still
serves afterwards (issue 10, "Also")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient
from hypothesis import HealthCheck, given
from hypothesis import settings as fuzz_settings
from hypothesis import strategies as st

from tests.hostile import EDGE_INTS, ints, objects, texts

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

# Every path of the API but logout (it takes nothing, and would end the session):
# method, path (with {id} and {action} to fill), query parameters, body fields.
API: list[tuple[str, str, list[str], list[str]]] = [
    ("GET", "/api/csrf", [], []),
    ("POST", "/api/auth/register", [], ["username", "email", "password"]),
    ("POST", "/api/auth/login", [], ["login", "password"]),
    ("GET", "/api/me", [], []),
    ("GET", "/api/users", ["q"], []),
    ("GET", "/api/friends", [], []),
    ("DELETE", "/api/friends/{id}", [], []),
    ("GET", "/api/friend-requests", [], []),
    ("POST", "/api/friend-requests", [], ["to"]),
    ("POST", "/api/friend-requests/{id}/{action}", [], []),
    ("GET", "/api/rooms", [], []),
    ("POST", "/api/rooms/private", [], ["user"]),
    ("GET", "/api/rooms/{id}/messages", ["before_seq", "limit"], []),
    ("GET", "/api/notifications", ["before"], []),
    ("POST", "/api/notifications/read", [], ["up_to"]),
    ("GET", "/api/tokens", [], []),
    ("POST", "/api/tokens", [], ["name"]),
    ("DELETE", "/api/tokens/{id}", [], []),
]
GOOD: dict[str, Any] = {
    "username": "fuzzed",
    "email": "fuzzed@example.com",
    "password": "correct horse battery staple",
    "login": "alice",
    "to": 1,
    "user": 1,
    "up_to": 1,
    "name": "bot",
    "q": "al",
    "before_seq": 3,
    "limit": 10,
    "before": 5,
}
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=latin-1",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
]


def _quoted(text: str) -> str:
    """Percent-encoded as a client may send it: a lone surrogate becomes bytes
    that are not UTF-8."""
    return quote(text, safe="", errors="surrogatepass")


@st.composite
def requests(draw: st.DrawFn, lobby_id: int) -> tuple[str, str, bytes, str]:
    method, template, params, fields = draw(st.sampled_from(API))
    ids = st.one_of(st.sampled_from([lobby_id, *EDGE_INTS]), ints).map(str)
    path = template.format(
        id=_quoted(draw(st.one_of(ids, texts))) or "1",
        action=_quoted(draw(st.one_of(st.sampled_from(["accept", "decline", "cancel"]), texts)))
        or "accept",
    )
    query = {
        name: draw(st.one_of(st.just(str(GOOD[name])), ints.map(str), texts))
        for name in params
        if draw(st.booleans())
    }
    if query:
        path += "?" + urlencode(query, errors="surrogatepass")
    body = b""
    content_type = "application/json"
    if method == "POST":
        # Raw surrogates (in the odd text that is no object) become bytes that are not UTF-8.
        body = draw(objects(fields, GOOD)).encode("utf-8", "surrogatepass")
        content_type = draw(st.sampled_from(CONTENT_TYPES))
    return method, path, body, content_type


@pytest.fixture
async def client(make_user) -> AsyncIterator[AsyncClient]:
    from chatapp.chat import sql

    client = AsyncClient(raise_request_exception=False)
    await client.aforce_login(await sync_to_async(make_user)("alice"))
    yield client
    await sql.close_pool()
    from django.db import connections

    await sync_to_async(connections.close_all)()


@fuzz_settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.large_base_example,
        HealthCheck.data_too_large,
    ],
)
@given(data=st.data())
async def test_no_input_reaches_a_500(client: AsyncClient, data) -> None:  # type: ignore[no-untyped-def]
    from chatapp.chat.models import Room

    lobby = await Room.objects.aget(kind="public", title="Lobby")
    method, path, body, content_type = data.draw(requests(lobby.pk), label="request")
    response = await client.generic(method, path, body, content_type=content_type)
    assert response.status_code < 500, (method, path, body[:200], response.content[:300])
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error["code"] and error["detail"]
    # Still serving, and still alice (or whoever a fuzzed registration made).
    assert (await client.get("/api/me")).status_code == 200
