from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from chatapp.accounts.models import User

pytestmark = pytest.mark.django_db


def test_register_page_creates_account_and_logs_in(password: str) -> None:
    client = Client()
    assert client.get("/accounts/register/").status_code == 200
    response = client.post(
        "/accounts/register/",
        {"username": "alice", "email": "alice@example.com", "password": password},
    )
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200
    assert User.objects.filter(username="alice").exists()


def test_register_page_shows_errors_and_stores_nothing(make_user) -> None:
    make_user("alice")
    response = Client().post(
        "/accounts/register/", {"username": "ALICE", "email": "x", "password": "123"}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "That username is taken." in body
    assert "Enter a valid email address." in body
    assert User.objects.count() == 1


def test_login_page_by_email_and_redirect_to_next(make_user, password: str) -> None:
    make_user("alice")
    client = Client()
    response = client.post(
        "/accounts/login/",
        {"login": "ALICE@example.com", "password": password, "next": "/accounts/profile/"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/profile/"


def test_login_page_refuses_offsite_next(make_user, password: str) -> None:
    make_user("alice")
    response = Client().post(
        "/accounts/login/",
        {"login": "alice", "password": password, "next": "https://evil.example/"},
    )
    assert response["Location"] == "/"


def test_login_page_locks_out_after_ten_failures(make_user, password: str) -> None:
    make_user("alice")
    client = Client()
    for i in range(10):
        client.post("/accounts/login/", {"login": "alice", "password": f"bad{i}"})
    response = client.post("/accounts/login/", {"login": "alice", "password": password})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert b"Too many failed logins" in response.content


def test_home_needs_login() -> None:
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_logout_is_post_only(make_user) -> None:
    client = Client()
    client.force_login(make_user("alice"))
    assert client.get("/accounts/logout/").status_code == 405
    assert client.get("/").status_code == 200
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_profile_hides_email_from_others_when_asked(make_user) -> None:
    alice = make_user("alice", email="alice@example.com", hide_email=True)
    bob = make_user("bob", email="bob@example.com")
    client = Client()
    client.force_login(bob)
    assert "alice@example.com" not in client.get("/accounts/u/alice/").content.decode()
    assert "bob@example.com" in client.get("/accounts/u/bob/").content.decode()
    client.force_login(alice)
    assert "alice@example.com" in client.get("/accounts/u/ALICE/").content.decode()
    assert client.get("/accounts/u/nobody/").status_code == 404


def test_profile_edit_saves_and_asks_to_confirm_a_new_email(make_user) -> None:
    alice = make_user("alice")
    client = Client()
    client.force_login(alice)
    ok = client.post("/accounts/profile/", {"email": "new@example.com", "hide_email": "on"})
    assert ok.status_code == 302
    alice.refresh_from_db()
    # The address changes once the link mailed to it is followed (test_email_change.py).
    assert (alice.email, alice.pending_email, alice.hide_email) == (
        "alice@example.com",
        "new@example.com",
        True,
    )


def test_password_change(make_user, password: str) -> None:
    alice = make_user("alice")
    client = Client()
    client.force_login(alice)
    response = client.post(
        "/accounts/password/change/",
        {
            "old_password": password,
            "new_password1": "a new long passphrase",
            "new_password2": "a new long passphrase",
        },
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("a new long passphrase")


def test_password_reset_by_mail(make_user) -> None:
    make_user("alice")
    client = Client()
    response = client.post("/accounts/password/reset/", {"email": "alice@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/password/reset/\S+/)", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    form_page = client.get(link.group(1), follow=True)
    assert form_page.status_code == 200
    set_url = form_page.redirect_chain[-1][0]
    done = client.post(
        set_url, {"new_password1": "brand new passphrase", "new_password2": "brand new passphrase"}
    )
    assert done.status_code == 302
    assert User.objects.get(username="alice").check_password("brand new passphrase")


def test_unknown_page_is_a_404_page() -> None:
    response = Client().get("/no/such/page/")
    assert response.status_code == 404
    assert b"There is nothing here." in response.content
