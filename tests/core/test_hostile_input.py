"""Hostile input never reaches a 500 (issue 10, finding 3): every class an
outside review used, on the real endpoints of every app. The JSON API answers
400 ``invalid`` with the field at fault (413 ``too_large`` for a body over the
limit, 415 for a body that is not JSON); pages answer 400 or re-render their
form with an error. The socket's side is in ``tests/realtime/test_consumer.py``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

HUGE = [2**64, -(2**64), 10**30]
HUGE_TEXT = [str(n) for n in HUGE] + ["9" * 5000]
NOT_ASCII_DIGITS = ["²", "١٢", "٣"]  # str.isdigit() is true for each; int("²") fails
BAD_TEXT_JSON = ['"a\\u0000b"', '"\\ud800"', '"x\\udfff"']  # as they appear in a JSON body

# The JSON bodies of the API: a valid body of each, and which fields are text.
JSON_BODIES: dict[str, dict[str, Any]] = {
    "/api/auth/register": {
        "username": "mallory",
        "email": "mallory@example.com",
        "password": "correct horse battery",
    },
    "/api/auth/login": {"login": "alice", "password": "correct horse battery staple"},
    "/api/friend-requests": {"to": 1},
    "/api/rooms/private": {"user": 1},
    "/api/notifications/read": {"up_to": 1},
    "/api/tokens": {"name": "bot"},
}
TEXT_FIELDS = [
    (path, name)
    for path, body in JSON_BODIES.items()
    for name, v in body.items()
    if isinstance(v, str)
]
INT_FIELDS = [
    (path, name)
    for path, body in JSON_BODIES.items()
    for name, v in body.items()
    if isinstance(v, int)
]


@pytest.fixture
async def client(make_user) -> AsyncIterator[AsyncClient]:
    """Alice, logged in; a 500 is an answer here, not an exception."""
    from chatapp.chat import sql

    client = AsyncClient(raise_request_exception=False)
    await client.aforce_login(await sync_to_async(make_user)("alice"))
    yield client
    await sql.close_pool()
    from django.db import connections

    await sync_to_async(connections.close_all)()


async def _lobby_id() -> int:
    from chatapp.chat.models import Room

    return (await Room.objects.aget(kind="public", title="Lobby")).pk


async def post_raw(client: AsyncClient, path: str, raw: str | bytes, **extra: Any):
    content_type = extra.pop("content_type", "application/json")
    return await client.post(path, data=raw, content_type=content_type, **extra)


def assert_invalid(response, field: str | None = None, status: int = 400) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, (response.status_code, response.content[:300])
    error = response.json()["error"]
    assert error["detail"]
    if status == 400:
        assert error["code"] == "invalid"
    if field is not None:
        assert field in error.get("fields", {}), error


def assert_page_refused(response) -> None:  # type: ignore[no-untyped-def]
    """A page: 400, its form again with an error, or back where the form was
    (a redirect, with a message) as for any refused action; never a 500."""
    assert response.status_code < 500, (response.status_code, response.content[:300])
    assert response.status_code in (200, 302, 400, 404), response.status_code


# --- JSON fields -----------------------------------------------------------------------


@pytest.mark.parametrize(("path", "field"), INT_FIELDS)
async def test_json_integers_beyond_64_bits_are_400(client: AsyncClient, path, field) -> None:
    for value in HUGE:
        body = json.dumps({**JSON_BODIES[path], field: value})
        assert_invalid(await post_raw(client, path, body), field)


@pytest.mark.parametrize(("path", "field"), TEXT_FIELDS)
async def test_json_nul_and_lone_surrogates_are_400(client: AsyncClient, path, field) -> None:
    for bad in BAD_TEXT_JSON:
        body = json.dumps({**JSON_BODIES[path], field: "PLACEHOLDER"}).replace('"PLACEHOLDER"', bad)
        response = await post_raw(client, path, body)
        assert response.status_code == 400, (bad, response.status_code)
        assert response.json()["error"]["code"] == "invalid"


@pytest.mark.parametrize(("path", "field"), TEXT_FIELDS)
async def test_json_10000_characters_are_400(client: AsyncClient, path, field) -> None:
    body = json.dumps({**JSON_BODIES[path], field: "a" * 10_000})
    assert_invalid(await post_raw(client, path, body), field)


@pytest.mark.parametrize("path", list(JSON_BODIES))
@pytest.mark.parametrize("depth", [20_000, 50_000])
async def test_json_nested_deep_is_400_or_413(client: AsyncClient, path, depth) -> None:
    for raw in ("[" * depth + "]" * depth, '{"x": ' + "[" * depth + "]" * depth + "}"):
        response = await post_raw(client, path, raw)
        assert_invalid(response, status=400 if len(raw) <= 65536 else 413)


@pytest.mark.parametrize("path", list(JSON_BODIES))
async def test_json_body_over_the_limit_is_413(client: AsyncClient, path) -> None:
    body = json.dumps({**JSON_BODIES[path], "padding": "x" * 70_000})
    response = await post_raw(client, path, body)
    assert_invalid(response, status=413)
    assert response.json()["error"]["code"] == "too_large"


@pytest.mark.parametrize("path", list(JSON_BODIES))
async def test_form_bodies_sent_to_json_endpoints_are_415(client: AsyncClient, path) -> None:
    as_strings = {name: str(value) for name, value in JSON_BODIES[path].items()}
    for response in (
        await client.post(path, data=as_strings),  # multipart/form-data
        await post_raw(
            client,
            path,
            "&".join(f"{k}={v}" for k, v in as_strings.items()),
            content_type="application/x-www-form-urlencoded",
        ),
    ):
        assert response.status_code == 415, (response.status_code, response.content[:200])
        assert response.json()["error"]["code"] == "unsupported_media_type"


# --- query strings and path parameters of the API ------------------------------------


@pytest.mark.parametrize("param", ["before_seq", "limit"])
async def test_messages_query_numbers_are_checked(client: AsyncClient, param) -> None:
    lobby = await _lobby_id()
    for value in [*HUGE_TEXT, *NOT_ASCII_DIGITS, "1\x00", "%00"]:
        response = await client.get(f"/api/rooms/{lobby}/messages", {param: value})
        assert_invalid(response, param)


async def test_notifications_query_numbers_are_checked(client: AsyncClient) -> None:
    for value in [*HUGE_TEXT, *NOT_ASCII_DIGITS, "1\x00"]:
        assert_invalid(await client.get("/api/notifications", {"before": value}), "before")


async def test_query_numbers_lax_spellings_are_400(client: AsyncClient) -> None:
    """Found by schemathesis (tests/e2e/test_openapi_fuzz.py): msgspec's lax
    reading took "null" for no value and "1e3" for 1000."""
    lobby = await _lobby_id()
    for value in ["null", "NULL", "1e3", "1.0"]:
        assert_invalid(await client.get("/api/notifications", {"before": value}), "before")
        response = await client.get(f"/api/rooms/{lobby}/messages", {"limit": value})
        assert_invalid(response, "limit")
    assert (await client.get("/api/notifications", {"before": "5"})).status_code == 200
    assert (await client.get("/api/notifications", {"before": ""})).status_code == 200


async def test_a_query_parameter_given_twice_is_400(client: AsyncClient) -> None:
    """Found by schemathesis: ``?before=null&before=null`` (a list, where the
    document says an integer) was read as its last value."""
    assert_invalid(await client.get("/api/notifications?before=3&before=4"), "before")
    assert_invalid(await client.get("/api/users?q=al&q=bob"), "q")
    lobby = await _lobby_id()
    response = await client.get(f"/api/rooms/{lobby}/messages?limit=2&limit=2")
    assert_invalid(response, "limit")
    # Parameters the API does not read may repeat.
    assert (await client.get("/api/users?q=al&x=1&x=2")).status_code == 200


async def test_users_query_with_nul_is_400(client: AsyncClient) -> None:
    assert_invalid(await client.get("/api/users", {"q": "al\x00ice"}), "q")
    assert (await client.get("/api/users", {"q": "alice"})).status_code == 200


@pytest.mark.parametrize(
    ("method", "template"),
    [
        ("get", "/api/rooms/{}/messages"),
        ("delete", "/api/friends/{}"),
        ("post", "/api/friend-requests/{}/accept"),
        ("delete", "/api/tokens/{}"),
    ],
)
async def test_path_ids_beyond_64_bits_are_400(client: AsyncClient, method, template) -> None:
    for value in (2**63, 2**64, 10**30, int("9" * 400)):
        response = await getattr(client, method)(template.format(value))
        assert_invalid(response)
    assert (await getattr(client, method)(template.format(2**63 - 1))).status_code == 404


# --- pages -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "template"),
    [
        ("get", "/chat/{}/"),
        ("post", "/friends/requests/{}/accept/"),
        ("post", "/friends/{}/remove/"),
        ("post", "/tokens/{}/revoke/"),
    ],
)
async def test_page_path_ids_beyond_64_bits_are_400(client: AsyncClient, method, template) -> None:
    for value in (2**64, 10**30):
        response = await getattr(client, method)(template.format(value))
        assert response.status_code == 400, response.status_code


async def test_page_paths_with_nul_are_not_500(client: AsyncClient) -> None:
    for path in ("/accounts/u/al%00ice/", "/friends/requests/1/acc%00ept/"):
        response = await (client.post if "requests" in path else client.get)(path)
        assert_page_refused(response)


@pytest.mark.parametrize(
    ("path", "param"),
    [("/notifications/", "before"), ("/friends/search/", "q")],
)
async def test_page_query_strings_are_checked(client: AsyncClient, path, param) -> None:
    values = ["a\x00b"] if param == "q" else [*HUGE_TEXT, *NOT_ASCII_DIGITS, "1\x00"]
    for value in values:
        response = await client.get(path, {param: value})
        assert response.status_code == 400, (value, response.status_code)


@pytest.mark.parametrize(
    ("path", "field"),
    [("/notifications/read/", "up_to"), ("/friends/requests/send/", "to")],
)
async def test_page_form_numbers_are_checked(client: AsyncClient, path, field) -> None:
    for value in [*HUGE_TEXT, *NOT_ASCII_DIGITS, "1\x00"]:
        assert_page_refused(await client.post(path, {field: value}))


async def test_room_page_send_with_nul_stores_nothing(client: AsyncClient) -> None:
    from chatapp.chat.models import Message

    lobby = await _lobby_id()
    for body in ("a\x00b", "x" * 10_000):
        assert_page_refused(await client.post(f"/chat/{lobby}/", {"body": body}))
    assert_page_refused(await client.post(f"/chat/{lobby}/", {"body": "ok", "client_id": "\x00"}))
    assert await Message.objects.acount() == 0


BAD_FORM_TEXT = ["a\x00b", "a" * 10_000]


@pytest.mark.parametrize(
    ("path", "fields", "logged_in"),
    [
        ("/accounts/login/", {"login": "alice", "password": "x"}, False),
        (
            "/accounts/register/",
            {"username": "bob", "email": "b@example.com", "password": "x"},
            False,
        ),
        ("/accounts/password/reset/", {"email": "alice@example.com"}, False),
        ("/accounts/profile/", {"email": "alice@example.com"}, True),
        (
            "/accounts/password/change/",
            {"old_password": "x", "new_password1": "y", "new_password2": "y"},
            True,
        ),
    ],
)
async def test_account_forms_refuse_nul_and_10000_characters(
    client: AsyncClient, path, fields, logged_in
) -> None:
    if not logged_in:
        await client.alogout()
    for name in fields:
        for bad in BAD_FORM_TEXT:
            response = await client.post(path, {**fields, name: bad})
            assert_page_refused(response)
