"""The hot path's SQL: read markers, sessions and API tokens at the handshake,
through the asyncpg pool (``chatapp.core.pg``). Messages have their own module
(``message_sql``); notifications are written by the notifications app only
(``notifications.live``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chatapp.core.pg import close_pool, open_pool, pool

__all__ = ["close_pool", "open_pool", "pool"]


@dataclass(frozen=True, slots=True)
class ReadMarker:
    unread: int
    seq: int  # the marker now
    moved: bool
    # In a private room whose members both show read receipts: the peer, who
    # is told; else None.
    receipt_to: int | None


async def read_marker_set(room_id: int, user_id: int, seq: int) -> ReadMarker:
    """Move the user's read marker forward (never back, never past the end)."""
    record = await (await pool()).fetchrow(
        """
        WITH old AS (
            SELECT last_read_seq FROM chat_membership WHERE room_id = $1 AND user_id = $2
        ), target AS (
            SELECT LEAST(GREATEST($3::bigint, 0), r.last_seq) AS seq, r.last_seq
            FROM chat_room r WHERE r.id = $1
        ), marker AS (
            INSERT INTO chat_membership (room_id, user_id, last_read_seq, joined_at)
            SELECT $1, $2, target.seq, now() FROM target
            ON CONFLICT (room_id, user_id) DO UPDATE
                SET last_read_seq = GREATEST(chat_membership.last_read_seq, EXCLUDED.last_read_seq)
            RETURNING last_read_seq
        )
        SELECT target.last_seq - marker.last_read_seq AS unread, marker.last_read_seq AS seq,
               marker.last_read_seq > COALESCE((SELECT last_read_seq FROM old), -1) AS moved,
               (SELECT p.id FROM chat_room r
                JOIN accounts_user p
                  ON p.id = CASE WHEN r.user_low_id = $2 THEN r.user_high_id ELSE r.user_low_id END
                JOIN accounts_user me ON me.id = $2
                WHERE r.id = $1 AND r.kind = 'private' AND p.show_read_receipts
                  AND me.show_read_receipts) AS receipt_to
        FROM target, marker
        """,
        room_id,
        user_id,
        seq,
    )
    if record is None:
        return ReadMarker(0, 0, False, None)
    return ReadMarker(
        int(record["unread"]), int(record["seq"]), bool(record["moved"]), record["receipt_to"]
    )


async def unread_counts(user_id: int, room_ids: list[int]) -> dict[int, int]:
    records = await (await pool()).fetch(
        """
        SELECT r.id, r.last_seq - COALESCE(m.last_read_seq, 0) AS unread
        FROM chat_room r
        LEFT JOIN chat_membership m ON m.room_id = r.id AND m.user_id = $1
        WHERE r.id = ANY($2::bigint[])
        """,
        user_id,
        room_ids,
    )
    return {r["id"]: int(r["unread"]) for r in records}


async def live_session_keys(keys: list[str]) -> set[str]:
    """The session keys among ``keys`` that still exist and have not expired."""
    records = await (await pool()).fetch(
        "SELECT session_key FROM django_session WHERE session_key = ANY($1::text[]) "
        "AND expire_date > now()",
        keys,
    )
    return {r["session_key"] for r in records}


async def token_owner(digest: str) -> tuple[int, int] | None:
    """The id and user id of the API token with this digest, or None."""
    record = await (await pool()).fetchrow(
        "SELECT id, user_id FROM tokens_apitoken WHERE digest = $1", digest
    )
    return (record["id"], record["user_id"]) if record else None


async def live_token_ids(ids: list[int]) -> set[int]:
    """The API tokens among ``ids`` that have not been revoked."""
    records = await (await pool()).fetch(
        "SELECT id FROM tokens_apitoken WHERE id = ANY($1::bigint[])", ids
    )
    return {r["id"] for r in records}


async def active_token_ids(ids: list[int]) -> set[int]:
    """The API tokens among ``ids`` that have not been revoked, of active users."""
    records = await (await pool()).fetch(
        "SELECT t.id FROM tokens_apitoken t JOIN accounts_user u ON u.id = t.user_id "
        "WHERE t.id = ANY($1::bigint[]) AND u.is_active",
        ids,
    )
    return {r["id"] for r in records}


# What a socket keeps of its user's credentials at the handshake, to tell later
# that they changed (a new password, "log out everywhere"): a digest for
# change detection, not a secret, computed by PostgreSQL.
CREDENTIAL_SQL = "md5(u.password || ':' || u.session_epoch::text)"


async def current_sessions(
    sessions: Sequence[tuple[str, int]],
) -> set[tuple[str, int, str]]:
    """Of the (session key, user id) pairs, those whose session still exists
    and has not expired and whose user is still active, each with the user's
    credential now (``CREDENTIAL_SQL``)."""
    if not sessions:
        return set()
    keys, users = (list(column) for column in zip(*sessions, strict=True))
    records = await (await pool()).fetch(
        f"""
        SELECT k.session_key, k.user_id, {CREDENTIAL_SQL} AS credential
        FROM unnest($1::text[], $2::bigint[]) AS k(session_key, user_id)
        JOIN django_session s ON s.session_key = k.session_key AND s.expire_date > now()
        JOIN accounts_user u ON u.id = k.user_id AND u.is_active
        """,
        keys,
        users,
    )
    return {(r["session_key"], r["user_id"], r["credential"]) for r in records}


async def private_room_peer(room_id: int, user_id: int) -> int | None:
    """The other member of a private room; None for a public room."""
    return await (await pool()).fetchval(
        """SELECT CASE WHEN user_low_id = $2 THEN user_high_id ELSE user_low_id END
        FROM chat_room WHERE id = $1 AND kind = 'private'""",
        room_id,
        user_id,
    )


async def session_data(session_key: str) -> str | None:
    """The encoded data of a live session, or None."""
    return await (await pool()).fetchval(
        "SELECT session_data FROM django_session WHERE session_key = $1 AND expire_date > now()",
        session_key,
    )


@dataclass(frozen=True, slots=True)
class SocketUser:
    """What a socket's handshake needs of its user (``selectors.socket_hello``)."""

    id: int
    username: str
    avatar: str
    password: str
    is_active: bool
    session_epoch: int
    credential: str  # chat.sql.CREDENTIAL_SQL
    notifications_unread: int
