"""Writes of the chat domain on the hot path. Each stores first and publishes
after the commit: an ack (and any live frame) means the message is stored."""

from __future__ import annotations

from chatapp.chat import sql
from chatapp.chat.sql import MessageRow
from chatapp.realtime import events


async def message_send(
    *, room_id: int, author_id: int, body: str, client_id: str
) -> tuple[MessageRow, bool]:
    """Store a message (or find the one this client_id already stored) and
    publish it if new. The caller has checked access, body and rate."""
    row, created = await sql.message_insert(
        room_id=room_id, author_id=author_id, body=body, client_id=client_id
    )
    if created:
        await events.message_published(row)
    return row, created


async def room_read(*, room_id: int, user_id: int, seq: int) -> int:
    """Move the user's read marker and tell all of the user's sockets."""
    unread = await sql.read_marker_set(room_id, user_id, seq)
    await events.to_user(user_id, {"type": "unread", "room": room_id, "count": unread})
    return unread
