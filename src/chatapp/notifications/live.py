"""Notifications written on the hot path, through the asyncpg pool: the one
unread private_message notification per room, upserted with the latest
message, and cleared when the room is read. The notifications app writes
every notification: the ORM services (``services``) for the rest.

The unread count is one SQL expression, ``UNREAD_SQL``, for every query that
reports it (and ``selectors.unread_count`` for the ORM)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chatapp.core.pg import pool


def unread_sql(user: str) -> str:
    """The user's unread notification count, as an SQL expression (``user``: an
    SQL expression for the user's id)."""
    return (
        "(SELECT count(*) FROM notifications_notification n "
        f"WHERE n.user_id = {user} AND NOT n.read)"
    )


async def notifications_unread(user_id: int) -> int:
    return int(await (await pool()).fetchval(f"SELECT {unread_sql('$1')}", user_id))


@dataclass(frozen=True, slots=True)
class NotificationRow:
    id: int
    user_id: int
    kind: str
    text: str
    url: str
    created_at: datetime
    read: bool
    unread: int


async def private_message_notify(
    *, room_id: int, user_id: int, actor_id: int, text: str, url: str
) -> NotificationRow:
    """Upsert the user's one unread private_message notification of the room,
    updated with the latest message."""
    record = await (await pool()).fetchrow(
        f"""
        WITH upsert AS (
            INSERT INTO notifications_notification
                (user_id, kind, actor_id, text, url, room_id, created_at, read)
            VALUES ($2, 'private_message', $3, $4, $5, $1, now(), false)
            ON CONFLICT (user_id, room_id) WHERE kind = 'private_message' AND NOT read
            DO UPDATE SET actor_id = EXCLUDED.actor_id, text = EXCLUDED.text,
                          url = EXCLUDED.url, created_at = now()
            RETURNING id, user_id, kind, text, url, created_at, read, (xmax = 0) AS inserted
        )
        SELECT upsert.*, {unread_sql("upsert.user_id")} + upsert.inserted::int AS unread
        FROM upsert
        """,
        room_id,
        user_id,
        actor_id,
        text,
        url,
    )
    values = dict(record)
    values.pop("inserted")
    values["unread"] = int(values["unread"])
    return NotificationRow(**values)


async def private_message_notifications_clear(*, room_id: int, user_id: int) -> int:
    """Mark the user's private_message notification of the room read; returns
    the user's unread notification count, or -1 when there was none to clear."""
    cleared = await (await pool()).fetchval(
        """UPDATE notifications_notification SET read = true
        WHERE user_id = $1 AND room_id = $2 AND kind = 'private_message' AND NOT read
        RETURNING id""",
        user_id,
        room_id,
    )
    return -1 if cleared is None else await notifications_unread(user_id)
