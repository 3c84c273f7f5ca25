"""The Message shape of the wire contract, from a row of ``chat.sql``."""

from __future__ import annotations

from chatapp import wire
from chatapp.accounts.serializers import user_shape_of
from chatapp.chat.message_sql import MessageRow


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
        rev=row.rev,
        edited_at=wire.iso_utc(row.edited_at) if row.edited_at else None,
        deleted=row.deleted,
        reply_to=_reply_to(row),
        mentions=list(row.mentions),
        reactions=list(row.reactions),
    )


def _reply_to(row: MessageRow) -> wire.ReplyTo | None:
    if row.reply_id is None or row.reply_seq is None or row.reply_author_id is None:
        return None
    author = user_shape_of(
        row.reply_author_id, row.reply_author_username or "", row.reply_author_avatar or ""
    )
    return wire.ReplyTo(
        id=row.reply_id, seq=row.reply_seq, author=author, excerpt=row.reply_excerpt
    )
