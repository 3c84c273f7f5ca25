"""What the chat tests share: a logged-in client and messages stored as the
hot path stores them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from django.test import AsyncClient

from chatapp.chat import message_sql, sql
from chatapp.chat.models import Room


@pytest.fixture
async def alice(make_user) -> AsyncIterator[AsyncClient]:
    """An async client logged in as a new user, alice."""
    from asgiref.sync import sync_to_async
    from django.db import connections

    client = AsyncClient()
    await client.aforce_login(await sync_to_async(make_user)("alice"))
    yield client
    await sql.close_pool()
    # The async ORM's worker thread keeps its own connection; close it too.
    await sync_to_async(connections.close_all)()


async def post(author: str, body: str, room: Room | None = None) -> message_sql.MessageRow:
    """A message by ``author`` (made if new) in ``room`` (the Lobby by default)."""
    from chatapp.accounts.models import User

    user, _ = await User.objects.aget_or_create(username=author, email=f"{author}@example.com")
    room = room or await Room.objects.aget(kind="public", title="Lobby")
    row, _ = await message_sql.message_insert(
        room_id=room.pk, author_id=user.pk, body=body, client_id=None
    )
    return row


async def the_lobby() -> Room:
    return await Room.objects.aget(kind="public", title="Lobby")
