from __future__ import annotations

from typing import Any

from chatapp import wire
from chatapp.accounts.serializers import user_shape_of
from chatapp.chat import sql
from chatapp.chat.models import LOBBY_TITLE, Room
from chatapp.chat.serializers import shorten
from chatapp.notifications import live


async def lobby() -> Room | None:
    return await Room.objects.filter(kind=Room.Kind.PUBLIC, title=LOBBY_TITLE).afirst()


ROOMS_SQL = """
    SELECT r.id, r.kind, r.title, r.last_seq, r.last_rev,
           r.last_seq - COALESCE(m.last_read_seq, 0) AS unread,
           p.id AS peer_id, p.username AS peer_username, p.avatar AS peer_avatar,
           last.body AS last_body, last.created_at AS last_at, la.username AS last_author,
           CASE WHEN p.show_read_receipts AND me.show_read_receipts
                THEN COALESCE(pm.last_read_seq, 0) END AS peer_read_seq
    FROM chat_room r
    LEFT JOIN chat_membership m ON m.room_id = r.id AND m.user_id = $1
    LEFT JOIN accounts_user p
        ON r.kind = 'private'
        AND p.id = CASE WHEN r.user_low_id = $1 THEN r.user_high_id ELSE r.user_low_id END
    LEFT JOIN chat_membership pm ON pm.room_id = r.id AND pm.user_id = p.id
    LEFT JOIN accounts_user me ON me.id = $1
    LEFT JOIN chat_message last ON last.room_id = r.id AND last.seq = r.last_seq
    LEFT JOIN accounts_user la ON la.id = last.author_id
    WHERE ($2::bigint IS NULL OR r.id = $2)
      AND (r.kind = 'public' OR (m.user_id IS NOT NULL AND NOT r.closed))  -- message_sql.can_read
    ORDER BY (r.kind = 'public') DESC, COALESCE(last.created_at, r.created_at) DESC, r.id
"""


def _room_shape(r: Any) -> wire.Room:
    peer = None
    if r["peer_id"] is not None:
        peer = user_shape_of(r["peer_id"], r["peer_username"], r["peer_avatar"])
    return wire.Room(
        id=r["id"],
        kind=r["kind"],
        title=peer.username if peer else r["title"],
        peer=peer,
        unread=int(r["unread"]),
        last_seq=int(r["last_seq"]),
        last_message=_last_message(r),
        last_rev=int(r["last_rev"]),
        peer_read_seq=r["peer_read_seq"],
    )


LAST_MESSAGE_PREVIEW = 120


def _last_message(r: Any) -> wire.LastMessage | None:
    """The room's latest message, shortened: what a room list shows under the title."""
    if r["last_at"] is None:
        return None
    return wire.LastMessage(
        author=r["last_author"],
        body=shorten(r["last_body"], LAST_MESSAGE_PREVIEW),
        created_at=wire.iso_utc(r["last_at"]),
    )


async def rooms_for_user(user_id: int) -> list[wire.Room]:
    """The Room shapes a user sees: the public rooms, then open private rooms
    by latest activity, each with its peer, unread and last_seq. One query."""
    records = await (await sql.pool()).fetch(ROOMS_SQL, user_id, None)
    return [_room_shape(r) for r in records]


HELLO_SQL = f"""
    WITH u AS MATERIALIZED (
        SELECT u.id, u.username, u.avatar, u.password, u.is_active, u.session_epoch,
               {sql.CREDENTIAL_SQL} AS credential,
               {live.unread_sql("u.id")} AS notifications_unread
        FROM accounts_user u WHERE u.id = $1
    )
    SELECT u.id AS user_id, u.username AS user_username, u.avatar AS user_avatar,
           u.password AS user_password, u.is_active AS user_is_active,
           u.session_epoch AS user_session_epoch, u.credential AS user_credential,
           u.notifications_unread AS user_notifications_unread, r.*
    FROM u LEFT JOIN LATERAL ({ROOMS_SQL}) r ON true
"""


async def socket_hello(user_id: int) -> tuple[sql.SocketUser, list[wire.Room]] | None:
    """What a socket's handshake needs of its user, and the Room shapes of its
    ``hello``, in one round trip; None when there is no such user."""
    records = await (await sql.pool()).fetch(HELLO_SQL, user_id, None)
    if not records:
        return None
    first = records[0]
    user = sql.SocketUser(
        id=first["user_id"],
        username=first["user_username"],
        avatar=first["user_avatar"],
        password=first["user_password"],
        is_active=first["user_is_active"],
        session_epoch=first["user_session_epoch"],
        credential=first["user_credential"],
        notifications_unread=int(first["user_notifications_unread"]),
    )
    return user, [_room_shape(r) for r in records if r["id"] is not None]


async def room_for_user(user_id: int, room_id: int) -> wire.Room | None:
    """One Room shape, if the user may see that room."""
    records = await (await sql.pool()).fetch(ROOMS_SQL, user_id, room_id)
    return _room_shape(records[0]) if records else None
