"""The Message and Room shapes of the wire contract."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chatapp.accounts.serializers import avatar_from_name
from chatapp.chat.sql import MessageRow


def iso_utc(moment: datetime) -> str:
    """The wire form of a time: ISO 8601 in UTC with a Z."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def shorten(text: str, limit: int) -> str:
    """At most ``limit`` characters, the last an ellipsis when cut: a preview."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def message_json(row: MessageRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "room": row.room_id,
        "seq": row.seq,
        "author": {
            "id": row.author_id,
            "username": row.author_username,
            "avatar": avatar_from_name(row.author_avatar),
        },
        "body": row.body,
        "created_at": iso_utc(row.created_at),
        "client_id": row.client_id,
    }
