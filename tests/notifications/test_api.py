from __future__ import annotations

import json

import pytest
from django.test import Client

from chatapp.notifications.models import Notification

pytestmark = pytest.mark.django_db


def test_notifications_page_newest_first_by_keyset(
    make_user, django_assert_max_num_queries
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    for i in range(25):
        Notification.objects.create(user=alice, kind="friend_request", actor=bob, text=f"n{i}")
    Notification.objects.create(user=bob, kind="friend_request", actor=alice, text="not yours")
    client = Client()
    client.force_login(alice)
    with django_assert_max_num_queries(6):
        first = client.get("/api/notifications").json()
    assert [n["text"] for n in first["results"]] == [f"n{i}" for i in range(24, 4, -1)]
    assert first["has_more"] is True
    assert first["unread"] == 25
    assert first["results"][0]["actor"]["username"] == "bob"
    # A new one arriving does not shift the next page.
    Notification.objects.create(user=alice, kind="friend_request", actor=bob, text="new")
    second = client.get("/api/notifications", {"before": first["results"][-1]["id"]}).json()
    assert [n["text"] for n in second["results"]] == [f"n{i}" for i in range(4, -1, -1)]
    assert second["has_more"] is False


def test_mark_read_up_to_an_id(make_user) -> None:
    alice = make_user("alice")
    ids = [
        Notification.objects.create(user=alice, kind="unfriended", text=str(i)).pk for i in range(3)
    ]
    client = Client()
    client.force_login(alice)
    response = client.post(
        "/api/notifications/read", json.dumps({"up_to": ids[1]}), content_type="application/json"
    )
    assert response.json() == {"unread": 1}
    bad = client.post(
        "/api/notifications/read", json.dumps({"up_to": "x"}), content_type="application/json"
    )
    assert bad.status_code == 400
    assert client.get("/api/notifications", {"before": "x"}).status_code == 400
