"""API tokens over HTTP: /api/tokens, and Authorization: Bearer on the API."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from chatapp.tokens.models import ApiToken
from chatapp.tokens.services import digest

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(make_user) -> Any:  # type: ignore[no-untyped-def]
    return make_user("alice")


@pytest.fixture
def client(alice: Any) -> Client:
    client = Client()
    client.force_login(alice)
    return client


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def create(client: Client, name: str = "bot") -> Any:
    return client.post("/api/tokens", {"name": name}, content_type="application/json")


def test_create_shows_the_token_once_and_stores_only_its_hash(client: Client) -> None:
    response = create(client)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "name", "token", "created_at"}
    assert body["token"].startswith("chat_") and len(body["token"]) > 40
    stored = ApiToken.objects.get(pk=body["id"])
    assert stored.digest == digest(body["token"])
    assert body["token"] not in {stored.name, stored.digest}

    listed = client.get("/api/tokens").json()["results"]
    assert listed == [
        {"id": body["id"], "name": "bot", "created_at": body["created_at"], "last_used_at": None}
    ]


def test_a_token_acts_as_its_user_without_cookie_or_csrf(client: Client, alice: Any) -> None:
    token = create(client).json()["token"]
    program = Client(enforce_csrf_checks=True)
    me = program.get("/api/me", **bearer(token))
    assert me.status_code == 200 and me.json()["id"] == alice.pk
    # A write with no CSRF token and no Origin: a token is not a cookie.
    made = program.post(
        "/api/tokens", {"name": "second"}, content_type="application/json", **bearer(token)
    )
    assert made.status_code == 201


def test_the_same_write_with_a_cookie_still_needs_csrf(alice: Any) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    response = browser.post("/api/tokens", {"name": "x"}, content_type="application/json")
    assert response.status_code == 403


def test_last_used_is_written_at_most_once_a_minute(client: Client) -> None:
    body = create(client).json()
    program = Client()
    assert program.get("/api/me", **bearer(body["token"])).status_code == 200
    first = ApiToken.objects.get(pk=body["id"]).last_used_at
    assert first is not None
    assert program.get("/api/me", **bearer(body["token"])).status_code == 200
    assert ApiToken.objects.get(pk=body["id"]).last_used_at == first


def test_revoked_unknown_and_malformed_tokens_get_the_same_401(client: Client) -> None:
    body = create(client).json()
    assert client.delete(f"/api/tokens/{body['id']}").status_code == 204
    assert not ApiToken.objects.filter(pk=body["id"]).exists()
    answers = []
    for presented in [body["token"], "chat_" + "A" * 43, "garbage", "x" * 5000, ""]:
        response = Client().get("/api/me", **bearer(presented))
        answers.append((response.status_code, response.json()))
    assert all(answer == answers[0] for answer in answers), answers
    assert answers[0][0] == 401
    assert answers[0][1]["error"]["code"] == "not_authenticated"


def test_an_invalid_token_wins_over_a_valid_cookie(client: Client) -> None:
    response = client.get("/api/me", **bearer("chat_revoked-or-never-issued"))
    assert response.status_code == 401


def test_a_valid_token_wins_over_another_users_cookie(make_user, client: Client) -> None:  # type: ignore[no-untyped-def]
    token = create(client).json()["token"]
    bob = Client()
    bob.force_login(make_user("bob"))
    assert bob.get("/api/me", **bearer(token)).json()["username"] == "alice"


def test_a_token_in_the_url_is_refused(client: Client) -> None:
    token = create(client).json()["token"]
    for name in ("token", "access_token"):
        response = Client().get(f"/api/me?{name}={token}")
        assert response.status_code == 401
        assert "Authorization header" in response.json()["error"]["detail"]


def test_other_authorization_schemes_are_left_alone(client: Client) -> None:
    # A proxy's own Basic login must not lock the browser out.
    assert client.get("/api/me", HTTP_AUTHORIZATION="Basic YTpi").status_code == 200


def test_tokens_past_the_limit_are_409(client: Client, settings: Any) -> None:
    settings.MAX_TOKENS_PER_USER = 2
    assert create(client).status_code == 201
    assert create(client).status_code == 201
    response = create(client)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_a_bad_name_is_400(client: Client, name: str) -> None:
    response = create(client, name)
    assert response.status_code == 400
    assert "name" in response.json()["error"]["fields"]


def test_one_cannot_revoke_anothers_token(make_user, client: Client) -> None:  # type: ignore[no-untyped-def]
    body = create(client).json()
    bob = Client()
    bob.force_login(make_user("bob"))
    assert bob.delete(f"/api/tokens/{body['id']}").status_code == 404
    assert ApiToken.objects.filter(pk=body["id"]).exists()


def test_tokens_need_login() -> None:
    assert Client().get("/api/tokens").status_code == 401


def test_tokens_page_shows_a_new_token_once_and_revokes(client: Client) -> None:
    page = client.get("/tokens/")
    assert page.status_code == 200 and "No tokens yet" in page.content.decode()
    made = client.post("/tokens/", {"name": "my bot"})
    html = made.content.decode()
    assert made.status_code == 200
    token = ApiToken.objects.get(name="my bot")
    secret = html.split('id="new-token" type="text" readonly value="')[1].split('"')[0]
    assert digest(secret) == token.digest
    again = client.get("/tokens/").content.decode()
    assert "my bot" in again and secret not in again  # shown once
    revoked = client.post(f"/tokens/{token.pk}/revoke/", follow=True)
    assert revoked.status_code == 200 and not ApiToken.objects.exists()
    assert Client().get("/api/me", **bearer(secret)).status_code == 401


def test_tokens_page_refuses_a_bad_name_with_the_form_shown(client: Client) -> None:
    page = client.post("/tokens/", {"name": ""})
    assert page.status_code == 200
    assert "This field is required" in page.content.decode()
    assert not ApiToken.objects.exists()


def test_tokens_page_needs_login() -> None:
    assert Client().get("/tokens/").status_code == 302
