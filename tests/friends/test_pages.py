from __future__ import annotations

from unittest import mock

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from chatapp.friends import services
from chatapp.friends.models import FriendRequest, Friendship
from chatapp.notifications.models import Notification

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def queries(client: Client, path: str, **params: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, params)
    assert response.status_code == 200, response.content[:300]
    return len(captured)


def befriend(a, b) -> None:
    services.friend_request_accept(
        user=b, request_id=services.friend_request_send(sender=a, receiver_id=b.pk).pk
    )


def test_search_page_shows_the_action_for_each_relation(make_user) -> None:
    me = make_user("me_user")
    stranger = make_user("user_none")
    asked = make_user("user_asked")
    asker = make_user("user_asker")
    friend = make_user("user_friend")
    services.friend_request_send(sender=me, receiver_id=asked.pk)
    services.friend_request_send(sender=asker, receiver_id=me.pk)
    befriend(me, friend)
    html = logged_in(me).get("/friends/search/", {"q": "user"}).content.decode()
    assert html.count("Add friend") == 1 and stranger.username in html
    assert "Cancel request" in html
    assert "Accept" in html and "Decline" in html
    assert ">Friend<" in html


def test_request_buttons_post_forms_accept_and_cancel(make_user) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    response = logged_in(alice).post("/friends/requests/send/", {"to": bob.pk})
    assert response.status_code == 302
    request = FriendRequest.objects.get()
    assert logged_in(alice).post(f"/friends/requests/{request.pk}/accept/").status_code == 302
    assert FriendRequest.objects.get().status == "pending"  # only bob may accept
    logged_in(bob).post(f"/friends/requests/{request.pk}/accept/")
    assert Friendship.objects.count() == 1
    assert logged_in(bob).get("/friends/requests/", follow=True).status_code == 200
    logged_in(bob).post(f"/friends/{alice.pk}/remove/")
    assert Friendship.objects.count() == 0
    bad = logged_in(bob).post("/friends/requests/send/", {"to": "abc"})
    assert bad.status_code == 302
    assert logged_in(bob).get("/friends/requests/send/").status_code == 405


def query_counts(make_user, path: str) -> list[int]:
    """Queries of ``path`` with 5, then 10 rows of every kind it lists."""
    me = make_user("me_user")
    counts = []
    for batch in range(2):
        for i in range(5):
            other = make_user(f"user_{batch}_{i}a")
            befriend(me, other)
            services.friend_request_send(sender=me, receiver_id=make_user(f"user_{batch}_{i}b").pk)
            services.friend_request_send(sender=make_user(f"user_{batch}_{i}c"), receiver_id=me.pk)
            Notification.objects.create(user=me, kind="unfriended", actor=other, text="x")
        counts.append(queries(logged_in(me), path, q="user"))
    return counts


@pytest.mark.parametrize(
    "path",
    [
        "/friends/",
        "/friends/requests/",
        "/friends/search/",
        "/notifications/",
        "/api/friends",
        "/api/friend-requests",
        "/api/users",
        "/api/notifications",
    ],
)
def test_lists_run_a_constant_number_of_queries(make_user, path: str) -> None:
    first, second = query_counts(make_user, path)
    assert first == second


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
async def test_private_chat_page_shows_history_and_sends_by_form(make_user) -> None:
    from asgiref.sync import sync_to_async
    from django.test import AsyncClient

    from chatapp.chat import sql
    from chatapp.chat.models import Message, Room

    make = sync_to_async(make_user)
    alice, bob, carol = await make("alice"), await make("bob"), await make("carol")
    clients = {}
    for user in (alice, bob, carol):
        clients[user.username] = AsyncClient()
        await clients[user.username].aforce_login(user)
    with (
        mock.patch("chatapp.friends.services._push_rooms"),
        mock.patch("chatapp.notifications.services.notification_push"),
        mock.patch("chatapp.chat.services._notify_peer"),
        mock.patch("chatapp.realtime.events.to_room"),
    ):
        await sync_to_async(befriend)(alice, bob)
        room = await Room.objects.aget(kind="private")
        page = await clients["alice"].get(f"/chat/{room.pk}/")
        assert page.status_code == 200
        heading = '<h1 id="room-title"><a href="/accounts/u/bob/">bob</a></h1>'
        assert heading in page.content.decode()
        body = "<script>alert(1)</script>\nline two"
        sent = await clients["alice"].post(f"/chat/{room.pk}/", {"body": body, "client_id": "f1"})
        assert sent.status_code == 302
        again = await clients["alice"].post(f"/chat/{room.pk}/", {"body": body, "client_id": "f1"})
        assert again.status_code == 302
        assert await Message.objects.filter(room=room).acount() == 1  # resubmitting stores nothing
        html = (await clients["bob"].get(f"/chat/{room.pk}/")).content.decode()
        assert '<p class="body">&lt;script&gt;alert(1)&lt;/script&gt;\nline two</p>' in html
        assert "<script>alert" not in html
        assert (await clients["carol"].get(f"/chat/{room.pk}/")).status_code == 404
    await sql.close_pool()
    from django.db import connections

    await sync_to_async(connections.close_all)()
