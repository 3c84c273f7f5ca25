from __future__ import annotations

import json
import threading
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.test import Client

from chatapp.chat.models import Membership, Room
from chatapp.friends import services
from chatapp.friends.models import FriendRequest, Friendship
from chatapp.notifications.models import Notification

pytestmark = pytest.mark.django_db


def as_user(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post(client: Client, path: str, body: Any = None):
    return client.post(path, data=json.dumps(body or {}), content_type="application/json")


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def bob(make_user):
    return make_user("bob")


def test_request_accept_makes_friends_a_room_and_notifications(alice, bob) -> None:
    sent = post(as_user(alice), "/api/friend-requests", {"to": bob.pk})
    assert sent.status_code == 201
    body = sent.json()
    assert (body["from"]["username"], body["to"]["username"], body["status"]) == (
        "alice",
        "bob",
        "pending",
    )
    note = Notification.objects.get(user=bob)
    assert (note.kind, note.actor, note.read) == ("friend_request", alice, False)

    incoming = as_user(bob).get("/api/friend-requests").json()
    assert [r["id"] for r in incoming["incoming"]] == [body["id"]]
    assert incoming["outgoing"] == []

    accepted = post(as_user(bob), f"/api/friend-requests/{body['id']}/accept")
    assert accepted.status_code == 200
    assert accepted.json()["status"] == "accepted"
    assert Friendship.objects.count() == 1
    room = Room.objects.get(kind="private")
    assert set(Membership.objects.filter(room=room).values_list("user__username", flat=True)) == {
        "alice",
        "bob",
    }
    assert Notification.objects.filter(user=alice, kind="friend_accepted").count() == 1
    assert [u["username"] for u in as_user(alice).get("/api/friends").json()["results"]] == ["bob"]


def test_relations_in_user_search(alice, bob, make_user) -> None:
    carol = make_user("carol")
    dave = make_user("dave")
    services.friend_request_send(sender=alice, receiver_id=bob.pk)
    services.friend_request_send(sender=carol, receiver_id=alice.pk)
    request = services.friend_request_send(sender=alice, receiver_id=dave.pk)
    services.friend_request_accept(user=dave, request_id=request.pk)
    results = as_user(alice).get("/api/users", {"q": "a"}).json()["results"]
    relation = {r["username"]: r["relation"] for r in results}
    assert relation == {"alice": "self", "carol": "request_received", "dave": "friend"}
    results = as_user(alice).get("/api/users", {"q": "bob"}).json()["results"]
    assert results[0]["relation"] == "request_sent"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"to": "2"}, 400, "invalid"),
        ({"to": True}, 400, "invalid"),
        ({}, 400, "invalid"),
        ({"to": 999999}, 404, "not_found"),
    ],
)
def test_bad_requests_change_nothing(alice, body, status, code) -> None:
    response = post(as_user(alice), "/api/friend-requests", body)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert FriendRequest.objects.count() == 0


def test_no_request_to_self_friend_inactive_or_twice(alice, bob, make_user) -> None:
    client = as_user(alice)
    assert post(client, "/api/friend-requests", {"to": alice.pk}).status_code == 400
    gone = make_user("gone", is_active=False)
    assert post(client, "/api/friend-requests", {"to": gone.pk}).status_code == 404
    assert post(client, "/api/friend-requests", {"to": bob.pk}).status_code == 201
    again = post(client, "/api/friend-requests", {"to": bob.pk})
    assert again.status_code == 409
    assert FriendRequest.objects.count() == 1


def test_request_back_accepts_both(alice, bob) -> None:
    post(as_user(alice), "/api/friend-requests", {"to": bob.pk})
    back = post(as_user(bob), "/api/friend-requests", {"to": alice.pk})
    assert back.status_code == 201
    assert back.json()["status"] == "accepted"
    assert Friendship.objects.count() == 1
    assert Room.objects.filter(kind="private").count() == 1
    assert post(as_user(bob), "/api/friend-requests", {"to": alice.pk}).status_code == 409


def test_only_the_receiver_accepts_or_declines_and_only_the_sender_cancels(
    alice, bob, make_user
) -> None:
    carol = make_user("carol")
    request_id = services.friend_request_send(sender=alice, receiver_id=bob.pk).pk
    for action in ("accept", "decline"):
        assert (
            post(as_user(alice), f"/api/friend-requests/{request_id}/{action}").status_code == 403
        )
    assert post(as_user(bob), f"/api/friend-requests/{request_id}/cancel").status_code == 403
    for action in ("accept", "decline", "cancel"):
        response = post(as_user(carol), f"/api/friend-requests/{request_id}/{action}")
        assert response.status_code == 404, action
    assert post(as_user(bob), "/api/friend-requests/999999/accept").status_code == 404
    assert post(as_user(bob), f"/api/friend-requests/{request_id}/explode").status_code == 404
    assert as_user(bob).post("/api/friend-requests/abc/accept").status_code == 404
    assert FriendRequest.objects.get().status == "pending"


def test_nothing_acts_on_a_closed_request(alice, bob) -> None:
    request_id = services.friend_request_send(sender=alice, receiver_id=bob.pk).pk
    declined = post(as_user(bob), f"/api/friend-requests/{request_id}/decline")
    assert declined.json()["status"] == "declined"
    assert Notification.objects.filter(user=alice, kind="friend_declined").count() == 1
    assert post(as_user(bob), f"/api/friend-requests/{request_id}/accept").status_code == 409
    assert post(as_user(alice), f"/api/friend-requests/{request_id}/cancel").status_code == 409
    assert Friendship.objects.count() == 0


def test_cancel_notifies_the_receiver(alice, bob) -> None:
    request_id = services.friend_request_send(sender=alice, receiver_id=bob.pk).pk
    cancelled = post(as_user(alice), f"/api/friend-requests/{request_id}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    assert Notification.objects.filter(user=bob, kind="friend_cancelled").count() == 1


def test_unfriend_closes_the_room_and_befriending_reopens_it(alice, bob) -> None:
    request = services.friend_request_send(sender=alice, receiver_id=bob.pk)
    services.friend_request_accept(user=bob, request_id=request.pk)
    room = Room.objects.get(kind="private")
    assert as_user(alice).delete(f"/api/friends/{bob.pk}").status_code == 204
    room.refresh_from_db()
    assert room.closed
    assert Notification.objects.filter(user=bob, kind="unfriended").count() == 1
    assert as_user(alice).delete(f"/api/friends/{bob.pk}").status_code == 404
    request = services.friend_request_send(sender=bob, receiver_id=alice.pk)
    services.friend_request_accept(user=alice, request_id=request.pk)
    assert Room.objects.filter(kind="private").count() == 1
    room.refresh_from_db()
    assert not room.closed


def test_private_room_is_refused_unless_friends(alice, bob) -> None:
    response = post(as_user(alice), "/api/rooms/private", {"user": bob.pk})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_accept_and_cross_requests_make_one_friendship(make_user) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    errors: list[BaseException] = []

    def run(fn, **kwargs) -> None:
        try:
            fn(**kwargs)
        except services.FriendError:
            pass
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(services.friend_request_send,), kwargs=kw)
        for kw in (
            {"sender": alice, "receiver_id": bob.pk},
            {"sender": bob, "receiver_id": alice.pk},
        )
    ]
    # Live events are not the point here (and would each open a pool per thread).
    with (
        mock.patch("chatapp.friends.services._push_rooms"),
        mock.patch("chatapp.notifications.services.notification_push"),
    ):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors
    assert Friendship.objects.count() == 1
    assert Room.objects.filter(kind="private").count() == 1
    assert FriendRequest.objects.filter(status="pending").count() == 0


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_accepts_of_one_request_at_once(make_user) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    with (
        mock.patch("chatapp.friends.services._push_rooms"),
        mock.patch("chatapp.notifications.services.notification_push"),
    ):
        request = services.friend_request_send(sender=alice, receiver_id=bob.pk)
        outcomes: list[str] = []

        def accept() -> None:
            try:
                services.friend_request_accept(user=bob, request_id=request.pk)
                outcomes.append("ok")
            except services.FriendError as exc:
                outcomes.append(exc.code)
            finally:
                connection.close()

        threads = [threading.Thread(target=accept) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(outcomes) == ["conflict", "ok"]
    assert Friendship.objects.count() == 1
    assert Room.objects.filter(kind="private").count() == 1
    assert Notification.objects.filter(kind="friend_accepted").count() == 1
