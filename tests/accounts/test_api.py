from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from chatapp.accounts.models import User

pytestmark = pytest.mark.django_db


def post(client: Client, path: str, body: Any, **extra: Any):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(path, data=data, content_type="application/json", **extra)


def register(client: Client, password: str, username: str = "alice", email: str | None = None):
    body = {"username": username, "email": email or f"{username}@example.com", "password": password}
    return post(client, "/api/auth/register", body)


def test_csrf_endpoint_sets_cookie_and_returns_token() -> None:
    client = Client()
    response = client.get("/api/csrf")
    assert response.status_code == 200
    assert response.json()["csrf_token"]
    assert "csrftoken" in response.cookies


def test_register_creates_user_and_logs_in(password: str) -> None:
    client = Client()
    response = register(client, password)
    assert response.status_code == 201
    user = response.json()["user"]
    assert user["username"] == "alice"
    assert set(user) == {"id", "username", "avatar"}
    assert user["avatar"].endswith(".svg")
    me = client.get("/api/me")
    assert me.status_code == 200
    assert me.json() == user | {"show_read_receipts": True, "language": "en"}  # and settings


def test_register_refuses_username_taken_in_another_case(password: str, make_user) -> None:
    make_user("Alice")
    response = register(Client(), password, username="aLICE", email="other@example.com")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "username" in error["fields"]
    assert User.objects.count() == 1


def test_register_refuses_email_taken_in_another_case(password: str, make_user) -> None:
    make_user("alice", email="alice@example.com")
    response = register(Client(), password, username="bob", email="ALICE@Example.com")
    assert response.status_code == 400
    assert "email" in response.json()["error"]["fields"]
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"username": "alice", "email": "not-an-email", "password": "correct horse battery"},
            "email",
        ),
        ({"username": "alice", "email": "a@example.com", "password": "12345678"}, "password"),
        ({"username": "alice", "email": "a@example.com", "password": "alice123"}, "password"),
        (
            {"username": "al", "email": "a@example.com", "password": "correct horse battery"},
            "username",
        ),
        (
            {"username": "al ice!", "email": "a@example.com", "password": "correct horse battery"},
            "username",
        ),
        (
            {"username": "a" * 31, "email": "a@example.com", "password": "correct horse battery"},
            "username",
        ),
        ({"email": "a@example.com", "password": "correct horse battery"}, "username"),
        ({"username": "alice", "password": "correct horse battery"}, "email"),
        ({"username": "alice", "email": "a@example.com"}, "password"),
        (
            {"username": 42, "email": "a@example.com", "password": "correct horse battery"},
            "username",
        ),
        ({"username": "alice", "email": ["a@example.com"], "password": "x"}, "email"),
        ({"username": "alice", "email": "a@example.com", "password": None}, "password"),
    ],
)
def test_register_bad_input_gets_field_errors_and_stores_nothing(body: dict, field: str) -> None:
    response = post(Client(), "/api/auth/register", body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"], error
    assert User.objects.count() == 0


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '"alice"', "\xff\xfe"])
def test_register_refuses_bodies_that_are_not_json_objects(raw: str) -> None:
    response = post(Client(), "/api/auth/register", raw.encode("latin-1"))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert User.objects.count() == 0


@pytest.mark.parametrize("login", ["alice", "ALICE", "alice@example.com", "Alice@Example.COM"])
def test_login_with_username_or_email_in_any_case(make_user, password: str, login: str) -> None:
    make_user("alice")
    client = Client()
    response = post(client, "/api/auth/login", {"login": login, "password": password})
    assert response.status_code == 200
    assert response.json()["user"]["username"] == "alice"
    assert client.get("/api/me").status_code == 200


def test_login_with_wrong_password_is_refused(make_user) -> None:
    make_user("alice")
    client = Client()
    response = post(client, "/api/auth/login", {"login": "alice", "password": "wrong"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert client.get("/api/me").status_code == 401


def test_login_with_wrong_types_is_refused() -> None:
    response = post(Client(), "/api/auth/login", {"login": 1, "password": True})
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"login", "password"}


def test_ten_wrong_passwords_lock_the_account_with_retry_after(make_user, password: str) -> None:
    make_user("alice")
    client = Client()
    statuses = [
        post(client, "/api/auth/login", {"login": "alice", "password": f"wrong{i}"}).status_code
        for i in range(10)
    ]
    assert statuses[:9] == [400] * 9
    assert statuses[9] == 429
    # Even the right password (and another case of the name) is refused now.
    locked = post(Client(), "/api/auth/login", {"login": "ALICE", "password": password})
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "rate_limited"
    assert int(locked["Retry-After"]) > 0


def test_lockout_does_not_touch_other_accounts(make_user, password: str) -> None:
    make_user("alice")
    make_user("bob")
    client = Client()
    for i in range(10):
        post(client, "/api/auth/login", {"login": "alice", "password": f"wrong{i}"})
    response = post(client, "/api/auth/login", {"login": "bob", "password": password})
    assert response.status_code == 200


def test_state_change_without_csrf_token_is_forbidden(password: str) -> None:
    client = Client(enforce_csrf_checks=True)
    response = register(client, password)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"
    assert User.objects.count() == 0


def test_state_change_with_csrf_token_succeeds(password: str) -> None:
    client = Client(enforce_csrf_checks=True)
    token = client.get("/api/csrf").json()["csrf_token"]
    response = post(
        client,
        "/api/auth/register",
        {"username": "alice", "email": "alice@example.com", "password": password},
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 201


def test_logout_ends_the_session(password: str) -> None:
    client = Client()
    register(client, password)
    response = client.post("/api/auth/logout")
    assert response.status_code == 204
    assert client.get("/api/me").status_code == 401


def test_me_without_login_is_401_in_error_shape() -> None:
    response = Client().get("/api/me")
    assert response.status_code == 401
    assert response.json() == {"error": {"code": "not_authenticated", "detail": "Log in first."}}


def test_user_search_shows_relation_and_respects_hidden_email(make_user, password: str) -> None:
    make_user("alice")
    make_user("alicia", email="alicia@example.com")
    make_user("bob", email="secret@example.com", hide_email=True)
    client = Client()
    post(client, "/api/auth/login", {"login": "alice", "password": password})

    results = client.get("/api/users", {"q": "ALI"}).json()["results"]
    assert [(r["username"], r["relation"]) for r in results] == [
        ("alice", "self"),
        ("alicia", "none"),
    ]
    assert all("email" not in r for r in results)
    # A hidden email does not find its owner; a shown one does.
    assert client.get("/api/users", {"q": "secret@example.com"}).json()["results"] == []
    found = client.get("/api/users", {"q": "alicia@example.com"}).json()["results"]
    assert [r["username"] for r in found] == ["alicia"]


def test_user_search_needs_login() -> None:
    assert Client().get("/api/users", {"q": "a"}).status_code == 401


def test_wrong_method_is_405_in_error_shape() -> None:
    response = Client().get("/api/auth/login")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response["Allow"] == "POST"


def test_unknown_api_path_is_404_in_error_shape() -> None:
    response = Client().get("/api/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_new_account_starts_with_the_lobby_read(password: str) -> None:
    from chatapp.chat.models import Membership, Room

    lobby = Room.objects.get(kind=Room.Kind.PUBLIC)
    Room.objects.filter(pk=lobby.pk).update(last_seq=7)  # said before alice joined
    response = register(Client(), password)
    assert response.status_code == 201
    marker = Membership.objects.get(room=lobby, user_id=response.json()["user"]["id"])
    assert marker.last_read_seq == 7


def test_logout_all_ends_every_session_of_the_user_and_only_theirs(make_user) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    first, second, other = Client(), Client(), Client()
    first.force_login(alice)
    second.force_login(alice)
    other.force_login(bob)
    assert post(first, "/api/auth/logout-all", {}).status_code == 204
    assert first.get("/api/me").status_code == 401
    assert second.get("/api/me").status_code == 401
    assert other.get("/api/me").status_code == 200


def test_logout_all_needs_a_session() -> None:
    answer = post(Client(), "/api/auth/logout-all", {})
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "not_authenticated"


def test_me_shows_and_patches_the_callers_own_settings(make_user) -> None:
    client = Client()
    client.force_login(make_user("alice"))
    me = client.get("/api/me").json()
    assert (me["show_read_receipts"], me["language"]) == (True, "en")
    answer = client.patch(
        "/api/me",
        json.dumps({"show_read_receipts": False, "language": "fr", "username": "mallory"}),
        content_type="application/json",
    )
    assert answer.status_code == 200
    assert answer.json() | {"avatar": ""} == {
        "id": me["id"],
        "username": "alice",  # not a setting: left alone
        "avatar": "",
        "show_read_receipts": False,
        "language": "fr",
    }
    for bad in ({"language": "de"}, {"show_read_receipts": "yes"}):
        answer = client.patch("/api/me", json.dumps(bad), content_type="application/json")
        assert answer.status_code == 400, bad
    assert client.get("/api/me").json()["language"] == "fr"
