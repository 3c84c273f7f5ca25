"""The Message shape of the wire contract, from a row of ``chat.sql``."""

from __future__ import annotations

from chatapp import wire
from chatapp.accounts.serializers import user_shape_of
from chatapp.chat.sql import MessageRow


def shorten(text: str, limit: int) -> str:
    """At most ``limit`` characters, the last an ellipsis when cut: a preview."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def message_shape(row: MessageRow) -> wire.Message:
    return wire.Message(
        id=row.id,
        room=row.room_id,
        seq=row.seq,
        author=user_shape_of(row.author_id, row.author_username, row.author_avatar),
        body=row.body,
        created_at=wire.iso_utc(row.created_at),
        client_id=row.client_id,
    )
