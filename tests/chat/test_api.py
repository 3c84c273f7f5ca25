"""GET /api/rooms and GET /api/rooms/{id}/messages."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from django.test import AsyncClient

from chatapp.chat import message_sql, sql
from chatapp.chat.models import Membership, Room

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
async def client(make_user) -> AsyncIterator[AsyncClient]:
    from asgiref.sync import sync_to_async

    client = AsyncClient()
    await client.aforce_login(await sync_to_async(make_user)("alice"))
    yield client
    await sql.close_pool()
    # The async ORM's worker thread keeps its own connection; close it too.
    from django.db import connections

    await sync_to_async(connections.close_all)()


async def _lobby() -> Room:
    return await Room.objects.aget(kind="public", title="Lobby")


async def test_rooms_lists_the_lobby_with_unread(client: AsyncClient) -> None:
    from chatapp.accounts.models import User

    lobby = await _lobby()
    bob = await User.objects.acreate(username="bob", email="bob@example.com")
    for i in range(3):
        await message_sql.message_insert(
            room_id=lobby.pk, author_id=bob.pk, body=f"m{i}", client_id=None
        )
    response = await client.get("/api/rooms")
    assert response.status_code == 200
    (room,) = response.json()["results"]
    last = room.pop("last_message")
    assert room == {
        "id": lobby.pk,
        "kind": "public",
        "title": "Lobby",
        "peer": None,
        "unread": 3,
        "last_seq": 3,
        "last_rev": 3,
        "peer_read_seq": None,  # a public room
    }
    assert (last["author"], last["body"]) == ("bob", "m2")
    assert last["created_at"].endswith("Z")


async def test_rooms_shorten_the_latest_message(client: AsyncClient) -> None:
    from chatapp.accounts.models import User

    lobby = await _lobby()
    bob = await User.objects.acreate(username="bob", email="bob@example.com")
    await message_sql.message_insert(
        room_id=lobby.pk, author_id=bob.pk, body="x" * 500, client_id=None
    )
    response = await client.get("/api/rooms")
    body = response.json()["results"][0]["last_message"]["body"]
    assert len(body) == 120
    assert body.endswith("…")


async def test_messages_page_backwards_oldest_first(client: AsyncClient) -> None:
    from chatapp.accounts.models import User

    lobby = await _lobby()
    alice = await User.objects.aget(username="alice")
    for i in range(5):
        await message_sql.message_insert(
            room_id=lobby.pk, author_id=alice.pk, body=f"m{i}", client_id=f"c{i}"
        )
    page = (await client.get(f"/api/rooms/{lobby.pk}/messages?limit=2")).json()
    assert [m["seq"] for m in page["messages"]] == [4, 5]
    assert page["has_more"] is True
    page = (await client.get(f"/api/rooms/{lobby.pk}/messages?before_seq=4&limit=100")).json()
    assert [m["body"] for m in page["messages"]] == ["m0", "m1", "m2"]
    assert page["has_more"] is False
    assert page["messages"][0]["author"]["username"] == "alice"


@pytest.mark.parametrize("query", ["limit=abc", "limit=0", "before_seq=-1", "before_seq=1.5"])
async def test_messages_bad_parameters_are_400(client: AsyncClient, query: str) -> None:
    lobby = await _lobby()
    response = await client.get(f"/api/rooms/{lobby.pk}/messages?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


async def test_private_room_of_others_is_404_and_not_listed(client: AsyncClient) -> None:
    from chatapp.accounts.models import User

    bob = await User.objects.acreate(username="bob", email="bob@example.com")
    carol = await User.objects.acreate(username="carol", email="carol@example.com")
    private = await Room.objects.acreate(
        kind="private", title="bob & carol", user_low=bob, user_high=carol
    )
    await Membership.objects.acreate(room=private, user=bob)
    await Membership.objects.acreate(room=private, user=carol)
    response = await client.get(f"/api/rooms/{private.pk}/messages")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert (await client.get("/api/rooms/999999/messages")).status_code == 404
    listed = [room["id"] for room in (await client.get("/api/rooms")).json()["results"]]
    assert private.pk not in listed


async def test_rooms_need_login() -> None:
    assert (await AsyncClient().get("/api/rooms")).status_code == 401
