"""message_send: what it stores and which live frames it publishes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import sync_to_async

from chatapp import wire
from chatapp.chat import selectors, services, sql
from chatapp.chat.models import Room
from chatapp.friends import services as friends

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture(autouse=True)
async def _close_pools() -> AsyncIterator[None]:
    yield
    await sql.close_pool()
    from django.db import connections

    await sync_to_async(connections.close_all)()


def _befriend(a: Any, b: Any) -> None:
    request = friends.friend_request_send(sender=a, receiver_id=b.pk)
    friends.friend_request_accept(user=b, request_id=request.pk)


async def test_a_private_message_moves_the_room_up_in_both_lists(make_user) -> None:
    alice, bob = await sync_to_async(make_user)("alice"), await sync_to_async(make_user)("bob")
    with mock.patch("chatapp.realtime.events.to_user"):
        await sync_to_async(_befriend)(alice, bob)
    room = await Room.objects.aget(kind="private")
    sent: list[tuple[int, dict[str, Any]]] = []

    async def to_user(user_id: int, frame: wire.ServerFrame) -> None:
        sent.append((user_id, wire.to_builtins(frame)))

    with (
        mock.patch("chatapp.realtime.events.to_user", to_user),
        mock.patch("chatapp.realtime.events.to_room"),
    ):
        await services.message_send(
            room_id=room.pk, room_kind="private", author_id=alice.pk, body="hi bob", client_id="c1"
        )
    rooms = {user_id: frame["room"] for user_id, frame in sent if frame["type"] == "room"}
    assert set(rooms) == {alice.pk, bob.pk}
    for shape in rooms.values():
        assert shape["id"] == room.pk
        assert shape["last_seq"] == 1
        assert shape["last_message"]["author"] == "alice"
        assert shape["last_message"]["body"] == "hi bob"
    assert rooms[bob.pk]["unread"] == 1
    assert rooms[bob.pk]["title"] == "alice"
    assert rooms[alice.pk]["unread"] == 0  # one's own message is never unread
    assert rooms[alice.pk]["title"] == "bob"
    kinds = [frame["type"] for user_id, frame in sent if user_id == bob.pk]
    assert "notification" in kinds  # bob is not looking at the room


async def test_a_lobby_message_is_not_unread_for_its_author(make_user) -> None:
    alice, bob = await sync_to_async(make_user)("alice"), await sync_to_async(make_user)("bob")
    lobby = await selectors.lobby()
    assert lobby is not None
    with mock.patch("chatapp.realtime.events.to_room"):
        await services.message_send(
            room_id=lobby.pk, room_kind="public", author_id=bob.pk, body="one", client_id="b1"
        )
        await services.message_send(
            room_id=lobby.pk, room_kind="public", author_id=alice.pk, body="two", client_id="a1"
        )
    shapes = {
        user.username: await selectors.room_for_user(user.pk, lobby.pk) for user in (alice, bob)
    }
    unread = {name: shape.unread for name, shape in shapes.items() if shape is not None}
    assert unread == {"alice": 0, "bob": 1}
