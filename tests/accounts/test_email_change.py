"""A change of e-mail address takes effect through a link mailed to the new
address; an address that is another account's is never confirmed to the asker."""

from __future__ import annotations

import json
import re

import pytest
from django.core import mail
from django.test import Client

from chatapp.accounts.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _mail_on_commit(django_capture_on_commit_callbacks, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The mails leave once the change is committed, which the test's own
    transaction never is: run what each request leaves for the commit at its end."""
    request = Client.request

    def request_then_commit(self, **kwargs):  # type: ignore[no-untyped-def]
        with django_capture_on_commit_callbacks(execute=True):
            return request(self, **kwargs)

    monkeypatch.setattr(Client, "request", request_then_commit)


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def change(client: Client, email: str):  # type: ignore[no-untyped-def]
    return client.post("/accounts/profile/", {"email": email}, follow=True)


def link_in(body: str) -> str:
    found = re.search(r"http://testserver(/accounts/email/confirm/\S+/)", body)
    assert found, body
    return found.group(1)


def shown(response) -> str:  # type: ignore[no-untyped-def]
    """The page as the asker sees it, without the address they typed."""
    return response.content.decode().replace("csrfmiddlewaretoken", "")


def test_a_taken_address_answers_as_a_free_one_and_tells_its_owner(make_user) -> None:
    alice = make_user("alice")
    make_user("bob", email="bob@example.com", hide_email=True)
    taken = change(logged_in(alice), "BOB@example.com")
    free = change(logged_in(alice), "free@example.com")

    assert taken.status_code == free.status_code == 200
    assert taken.redirect_chain == free.redirect_chain
    messages = [str(m) for m in taken.context["messages"]]
    assert messages == [
        "Your profile was saved.",
        "We sent a message to BOB@example.com. Your email address changes once you follow "
        "the link in it.",
    ]
    # Both mails went to the addresses typed, none to the asker.
    assert [m.to for m in mail.outbox] == [["BOB@example.com"], ["free@example.com"]]
    notice, confirm = mail.outbox
    assert "bob" in notice.body and "/accounts/email/confirm/" not in notice.body
    assert "/accounts/email/confirm/" in confirm.body
    assert User.objects.get(username="bob").email == "bob@example.com"
    alice.refresh_from_db()
    assert alice.email == "alice@example.com"


def test_the_link_changes_the_address(make_user, password: str) -> None:
    alice = make_user("alice")
    change(logged_in(alice), "new@example.com")
    [message] = mail.outbox
    page = Client().get(link_in(message.body))
    assert page.status_code == 200
    assert b"Email address confirmed" in page.content
    alice.refresh_from_db()
    assert (alice.email, alice.pending_email) == ("new@example.com", "")

    def login(name: str) -> int:
        body = json.dumps({"login": name, "password": password})
        return Client().post("/api/auth/login", body, content_type="application/json").status_code

    assert login("new@example.com") == 200
    assert login("alice@example.com") == 400


def test_a_superseded_link_does_nothing(make_user) -> None:
    alice = make_user("alice")
    client = logged_in(alice)
    change(client, "first@example.com")
    change(client, "second@example.com")
    first, _second = mail.outbox
    page = Client().get(link_in(first.body))
    assert page.status_code == 400
    alice.refresh_from_db()
    assert (alice.email, alice.pending_email) == ("alice@example.com", "second@example.com")


@pytest.mark.parametrize("token", ["nonsense", "eyJ1c2VyIjoxfQ:1abc:forged"])
def test_a_forged_link_does_nothing(db: None, token: str) -> None:
    page = Client().get(f"/accounts/email/confirm/{token}/")
    assert page.status_code == 400
    assert b"Link not valid" in page.content


def test_an_address_confirmed_by_another_account_first_is_refused(make_user) -> None:
    alice = make_user("alice")
    change(logged_in(alice), "shared@example.com")
    [message] = mail.outbox
    make_user("carol", email="shared@example.com")
    page = Client().get(link_in(message.body))
    assert page.status_code == 400
    assert b"Another account uses this address now." in page.content
    alice.refresh_from_db()
    assert alice.email == "alice@example.com"


def test_keeping_the_address_cancels_a_pending_change(make_user) -> None:
    alice = make_user("alice")
    client = logged_in(alice)
    change(client, "new@example.com")
    change(client, "ALICE@example.com")
    alice.refresh_from_db()
    assert (alice.email, alice.pending_email) == ("alice@example.com", "")
    assert len(mail.outbox) == 1


def test_changes_of_address_are_throttled_per_account(make_user, settings) -> None:
    settings.THROTTLE_EMAIL_CHANGE = "2/hour"
    alice = make_user("alice")
    answers = [
        logged_in(alice).post("/accounts/profile/", {"email": f"new{i}@example.com"})
        for i in range(3)
    ]
    assert [a.status_code for a in answers] == [302, 302, 429]
    assert b"Too many changes of your email address" in answers[-1].content
    assert int(answers[-1]["Retry-After"]) > 0
    assert len(mail.outbox) == 2
    # Other edits of the profile are not counted.
    assert (
        logged_in(alice)
        .post("/accounts/profile/", {"email": "alice@example.com", "hide_email": "on"})
        .status_code
        == 302
    )
