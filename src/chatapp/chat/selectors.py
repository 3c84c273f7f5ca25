from __future__ import annotations

from chatapp.chat.models import LOBBY_TITLE, Room


async def lobby() -> Room | None:
    return await Room.objects.filter(kind=Room.Kind.PUBLIC, title=LOBBY_TITLE).afirst()


async def rooms_for_user(user_id: int) -> list[dict[str, object]]:
    """The Room shapes a user sees: the public rooms, then private rooms by
    latest activity, each with unread and last_seq."""
    from chatapp.chat import sql

    records = await (await sql.pool()).fetch(
        """
        SELECT r.id, r.kind, r.title, r.last_seq,
               r.last_seq - COALESCE(m.last_read_seq, 0) AS unread
        FROM chat_room r
        LEFT JOIN chat_membership m ON m.room_id = r.id AND m.user_id = $1
        WHERE r.kind = 'public' OR m.user_id IS NOT NULL
        ORDER BY (r.kind = 'public') DESC, r.last_seq DESC, r.id
        """,
        user_id,
    )
    return [
        {
            "id": r["id"],
            "kind": r["kind"],
            "title": r["title"],
            "peer": None,
            "unread": int(r["unread"]),
            "last_seq": int(r["last_seq"]),
        }
        for r in records
    ]
