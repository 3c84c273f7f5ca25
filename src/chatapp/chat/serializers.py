"""The Message and Room shapes of the wire contract."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from django.conf import settings
from django.templatetags.static import static

from chatapp.accounts.serializers import DEFAULT_AVATAR
from chatapp.chat.sql import MessageRow


def _avatar(name: str) -> str:
    return f"{settings.MEDIA_URL}{name}" if name else static(DEFAULT_AVATAR)


def message_json(row: MessageRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "room": row.room_id,
        "seq": row.seq,
        "author": {
            "id": row.author_id,
            "username": row.author_username,
            "avatar": _avatar(row.author_avatar),
        },
        "body": row.body,
        "created_at": row.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "client_id": row.client_id,
    }
