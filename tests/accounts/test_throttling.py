"""The login lock counts accounts, not the strings typed to reach them: a
username in any case or Unicode spelling that PostgreSQL folds to it, or the
account's e-mail address, all count towards (and are refused by) one lock."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

LIMIT = 10  # LOGIN_FAILURE_LIMIT's default


def api_login(login: str, password: str, client: Client | None = None) -> Any:
    return (client or Client()).post(
        "/api/auth/login",
        data=json.dumps({"login": login, "password": password}),
        content_type="application/json",
    )


def page_login(login: str, password: str, client: Client | None = None) -> Any:
    return (client or Client()).post("/accounts/login/", {"login": login, "password": password})


LOGINS = {"api": api_login, "page": page_login}


def fail(login_with: Any, login: str, times: int = LIMIT) -> None:
    for i in range(times):
        login_with(login, f"wrong {i}")


@pytest.mark.parametrize("way", LOGINS)
def test_locked_by_username_then_refused_by_email(make_user, password: str, way: str) -> None:
    make_user("alice", email="alice@example.com")
    fail(LOGINS[way], "alice")
    response = LOGINS[way]("Alice@Example.com", password)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


@pytest.mark.parametrize("way", LOGINS)
def test_failures_by_email_count_for_the_account(make_user, password: str, way: str) -> None:
    make_user("alice", email="alice@example.com")
    fail(LOGINS[way], "ALICE@example.com", LIMIT - 1)
    # The limit-th failure, by username, locks the account that e-mail reached.
    assert LOGINS[way]("alice", "wrong again").status_code == 429
    assert LOGINS[way]("alice", password).status_code == 429
    assert LOGINS[way]("alice@example.com", password).status_code == 429


@pytest.mark.parametrize("way", LOGINS)
@pytest.mark.parametrize(
    ("username", "spelling"),
    [
        ("alice", "al\u0131ce"),  # dotless i: PostgreSQL's UPPER() makes it I
        ("sam", "\u017fam"),  # long s: UPPER() makes it S
    ],
)
def test_unicode_spellings_of_a_locked_name_are_refused(
    make_user, password: str, way: str, username: str, spelling: str
) -> None:
    make_user(username)
    # The spelling reaches the account: the backend's lookup folds it.
    assert LOGINS[way](spelling, password).status_code in {200, 302}
    fail(LOGINS[way], username)
    assert LOGINS[way](spelling, password).status_code == 429


@pytest.mark.parametrize("way", LOGINS)
def test_failures_by_a_unicode_spelling_count_for_the_account(
    make_user, password: str, way: str
) -> None:
    make_user("alice")
    fail(LOGINS[way], "AL\u0131CE")
    assert LOGINS[way]("alice", password).status_code == 429


def test_unknown_logins_are_counted_too(db: None) -> None:
    statuses = [api_login("nobody@example.com", f"guess {i}").status_code for i in range(LIMIT)]
    assert statuses[-1] == 429
    assert api_login("NOBODY@example.com", "one more").status_code == 429


def test_a_success_by_email_clears_the_failures_of_the_account(make_user, password: str) -> None:
    make_user("alice", email="alice@example.com")
    fail(api_login, "alice", LIMIT - 1)
    assert api_login("alice@example.com", password).status_code == 200
    fail(api_login, "alice", LIMIT - 1)
    assert api_login("alice", password).status_code == 200


@pytest.mark.parametrize(
    "login", ["x" * 10_000, "a\x00lice", "\ud800alice", "alice@\ud800.example"]
)
def test_logins_no_account_can_have_are_wrong_not_errors(make_user, login: str) -> None:
    make_user("alice")
    response = api_login(login, "whatever")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
