"""The one place that publishes live events. Services call these after their
transaction has committed; nothing else talks to the channel layer to publish.

Room events go to the group ``room.<id>``, which each worker process joins once
(``hub.publish``; with the in-memory layer, straight to the one process's
sockets); the frame is encoded here, once, and written as-is to every local
socket. Per-user events go to ``user.<id>``, joined by each socket.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from chatapp.chat.serializers import message_json
from chatapp.chat.sql import MessageRow
from chatapp.realtime.protocol import encode


def room_group(room_id: int) -> str:
    return f"room.{room_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


async def _send(group: str, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    assert layer is not None  # noqa: S101 - CHANNEL_LAYERS always has a default
    await layer.group_send(group, event)


async def _send_room(event: dict[str, Any]) -> None:
    from chatapp.realtime.hub import hub  # the hub imports this module

    await hub().publish(event)


async def message_published(row: MessageRow) -> None:
    text = encode({"type": "message", "message": message_json(row)})
    await _send_room({"type": "room.frame", "room": row.room_id, "seq": row.seq, "text": text})


async def presence_changed(room_id: int, online: int) -> None:
    text = encode({"type": "presence", "room": room_id, "online": online})
    await _send_room({"type": "room.frame", "room": room_id, "text": text})


async def typing(room_id: int, user: dict[str, Any]) -> None:
    text = encode({"type": "typing", "room": room_id, "user": user})
    await _send_room({"type": "room.frame", "room": room_id, "text": text, "skip_user": user["id"]})


async def to_user(user_id: int, frame: dict[str, Any]) -> None:
    await _send(user_group(user_id), {"type": "user.frame", "text": encode(frame)})


def to_user_sync(user_id: int, frame: dict[str, Any]) -> None:
    """``to_user`` for sync services, called from their on_commit hooks."""
    async_to_sync(to_user)(user_id, frame)


def room_changed_sync(user_id: int, room: dict[str, Any]) -> None:
    to_user_sync(user_id, {"type": "room", "room": room})


def room_removed_sync(user_id: int, room_id: int) -> None:
    to_user_sync(user_id, {"type": "room_removed", "room": room_id})
