"""The SQL of messages on the hot path: send, edit, delete, react, and the reads
that page, resume and fill gaps, through the asyncpg pool of ``chat.sql``.

Revisions. Every change to a message of a room (a new message, an edit, a
delete, a reaction, a reply's quote cleared) bumps the room's ``last_rev`` by
one in the transaction that makes it, and sets the message's ``rev`` to it: a
message's ``rev`` is the revision of its latest change, ``created_rev`` that of
its creation. So the highest ``rev`` of a room's messages is the room's
``last_rev``, and revisions have no gaps (a rolled back bump is no bump).

Sockets deliver a room's frames along a chain of revisions: each frame says
the revision it follows (``prev``) and the one it brings the client to
(``pos``). A live change is the link ``(rev - 1, rev)``; ``chain_after`` reads
the links that bring a client from any revision to the room's current one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import msgspec

from chatapp import wire
from chatapp.core.pg import pool

# A reply quotes this many characters of the message it answers.
REPLY_EXCERPT_CHARS = 120
REACTION_USERS_SHOWN = 20
REACTIONS_DISTINCT_MAX = 20
# @name: Django's username characters. An e-mail address is not a mention
# (the character before the @ must not be one of them).
MENTION = re.compile(r"(?<![\w.@+-])@([\w.@+-]{1,30})")


@dataclass(frozen=True, slots=True)
class MessageRow:
    id: int
    room_id: int
    seq: int
    author_id: int
    author_username: str
    author_avatar: str
    body: str
    created_at: datetime
    client_id: str | None
    rev: int = 0
    created_rev: int = 0
    edited_at: datetime | None = None
    deleted: bool = False
    reply_id: int | None = None
    reply_seq: int | None = None
    reply_author_id: int | None = None
    reply_author_username: str | None = None
    reply_author_avatar: str | None = None
    reply_excerpt: str = ""
    mentions: Sequence[int] = ()
    reactions: Sequence[wire.Reaction] = ()


class ChangeRefused(Exception):
    """An edit, delete, reaction or reply the rules refuse: ``code`` is a wire code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


# The rule of who may read a room, written once: the public rooms, and the
# open private rooms the user is a member of. ``{room}`` and ``{user}`` are SQL
# expressions for the room's row alias and the user's id.
def can_read(room: str, user: str) -> str:
    return f"""({room}.kind = 'public' OR (NOT {room}.closed AND EXISTS (
        SELECT 1 FROM chat_membership cr
        WHERE cr.room_id = {room}.id AND cr.user_id = {user})))"""


# Columns of a message row, with its author (u), the quoted message (q) and its
# author (qa), and the reactions aggregated by emoji in order of first use.
COLUMNS = f"""
    m.id, m.room_id, m.seq, m.author_id, u.username AS author_username,
    u.avatar AS author_avatar, m.body, m.created_at, m.client_id,
    m.rev, m.created_rev, m.edited_at, m.deleted,
    q.id AS reply_id, q.seq AS reply_seq, qa.id AS reply_author_id,
    qa.username AS reply_author_username, qa.avatar AS reply_author_avatar,
    m.reply_excerpt, m.mentions,
    (SELECT json_agg(json_build_object('emoji', x.emoji, 'count', x.n, 'users', x.users)
                     ORDER BY x.first)
     FROM (SELECT r.emoji, count(*) AS n, min(r.id) AS first,
                  (array_agg(r.user_id ORDER BY r.id))[1:{REACTION_USERS_SHOWN}] AS users
           FROM chat_reaction r WHERE r.message_id = m.id GROUP BY r.emoji) x
    ) AS reactions
"""


# The stored columns ``COLUMNS`` reads from a CTE standing for chat_message (not
# ``search``, a tsvector no answer needs).
STORED = """id, room_id, seq, author_id, body, created_at, client_id, rev, created_rev,
    edited_at, deleted, reply_to_id, reply_excerpt, mentions"""


def joins(messages: str = "chat_message") -> str:
    """FROM ``messages`` (a table or CTE aliased m) and what ``COLUMNS`` reads."""
    return f"""{messages} m
    JOIN accounts_user u ON u.id = m.author_id
    LEFT JOIN chat_message q ON q.id = m.reply_to_id
    LEFT JOIN accounts_user qa ON qa.id = q.author_id"""


_reactions = msgspec.json.Decoder(list[wire.Reaction])


def row(record: asyncpg.Record | dict[str, Any]) -> MessageRow:
    values = dict(record)
    reactions = values.pop("reactions", None)
    values["reactions"] = _reactions.decode(reactions) if reactions else ()
    values["mentions"] = tuple(values.get("mentions") or ())
    values.pop("key", None)
    return MessageRow(**values)


async def _select(conn: Any, where: str, *args: Any) -> list[MessageRow]:
    records = await conn.fetch(f"SELECT {COLUMNS} FROM {joins()} WHERE {where}", *args)
    return [row(r) for r in records]


def mention_names(body: str) -> list[str]:
    """The @names of a body, upper-cased as PostgreSQL folds them, in order, once each."""
    return list(dict.fromkeys(name.rstrip(".").upper() for name in MENTION.findall(body)))


async def _mentions(conn: Any, room_id: int, body: str) -> list[int]:
    """Ids of the users the body names who can read the room."""
    names = mention_names(body)
    if not names:
        return []
    records = await conn.fetch(
        f"""SELECT u.id FROM accounts_user u, chat_room r
        WHERE r.id = $1 AND u.is_active AND upper(u.username) = ANY($2::text[])
          AND {can_read("r", "u.id")}
        ORDER BY u.id""",
        room_id,
        names,
    )
    return [r["id"] for r in records]


async def _bump(conn: Any, room_id: int, by: int = 1) -> int:
    """Bump the room's revision (locking its row until commit); the new revision."""
    return int(
        await conn.fetchval(
            "UPDATE chat_room SET last_rev = last_rev + $2 WHERE id = $1 RETURNING last_rev",
            room_id,
            by,
        )
    )


# --- access -------------------------------------------------------------------------


async def room_access(room_id: int, user_id: int) -> tuple[str, int, int] | None:
    """(kind, last_seq, last_rev) of a room the user may read, or None: missing,
    not theirs, or a private room closed by unfriending."""
    record = await (await pool()).fetchrow(
        "SELECT r.kind, r.last_seq, r.last_rev FROM chat_room r WHERE r.id = $1 AND "
        + can_read("r", "$2"),
        room_id,
        user_id,
    )
    return (record["kind"], record["last_seq"], record["last_rev"]) if record else None


async def is_moderator(conn: Any, user_id: int) -> bool:
    """Whether the user holds ``chat.moderate_room`` (staff and superusers do)."""
    return bool(
        await conn.fetchval(
            """
            SELECT u.is_active AND (u.is_staff OR u.is_superuser OR EXISTS (
                SELECT 1 FROM auth_permission p
                JOIN django_content_type ct ON ct.id = p.content_type_id
                WHERE ct.app_label = 'chat' AND p.codename = 'moderate_room' AND (
                    p.id IN (SELECT permission_id FROM accounts_user_user_permissions
                             WHERE user_id = u.id)
                    OR p.id IN (SELECT gp.permission_id FROM auth_group_permissions gp
                                JOIN accounts_user_groups ug ON ug.group_id = gp.group_id
                                WHERE ug.user_id = u.id))))
            FROM accounts_user u WHERE u.id = $1
            """,
            user_id,
        )
    )


# --- send ---------------------------------------------------------------------------


async def message_by_client_id(author_id: int, client_id: str) -> MessageRow | None:
    found = await _select(
        await pool(), "m.author_id = $1 AND m.client_id = $2", author_id, client_id
    )
    return found[0] if found else None


async def message_insert(
    *, room_id: int, author_id: int, body: str, client_id: str | None, reply_to: int | None = None
) -> tuple[MessageRow, bool]:
    """Store a message with the room's next seq and revision, in one transaction.

    The author's read marker moves to the new message: one's own messages are
    never unread. Returns the row and whether it is new. The same (author,
    client_id) again returns the stored row; the bumps of a lost race are
    rolled back, so seqs and revisions never skip. A reply quotes a message
    of the same room that is not deleted (else ``ChangeRefused``)."""
    if client_id is not None:
        existing = await message_by_client_id(author_id, client_id)
        if existing is not None:
            return existing, False
    async with (await pool()).acquire() as conn:
        try:
            async with conn.transaction():
                excerpt = ""
                if reply_to is not None:
                    quoted = await conn.fetchrow(
                        "SELECT room_id, deleted, left(body, $2) AS excerpt "
                        "FROM chat_message WHERE id = $1",
                        reply_to,
                        REPLY_EXCERPT_CHARS,
                    )
                    if quoted is None or quoted["room_id"] != room_id:
                        raise ChangeRefused(
                            wire.codes.INVALID, "A reply quotes a message of the same room."
                        )
                    if quoted["deleted"]:
                        raise ChangeRefused(wire.codes.INVALID, "That message was deleted.")
                    excerpt = quoted["excerpt"]
                mentions = await _mentions(conn, room_id, body) if "@" in body else []
                bumped = await conn.fetchrow(
                    "UPDATE chat_room SET last_seq = last_seq + 1, last_rev = last_rev + 1 "
                    "WHERE id = $1 RETURNING last_seq, last_rev",
                    room_id,
                )
                record = await conn.fetchrow(
                    f"""
                    WITH m AS (
                        INSERT INTO chat_message
                            (room_id, seq, author_id, body, client_id, created_at, rev,
                             created_rev, deleted, reply_to_id, reply_excerpt, mentions)
                        VALUES ($1, $2, $3, $4, $5, now(), $6, $6, false, $7, $8, $9)
                        RETURNING {STORED}
                    ), own AS (
                        -- an author has read the room up to their own message
                        INSERT INTO chat_membership (room_id, user_id, last_read_seq, joined_at)
                        VALUES ($1, $3, $2, now())
                        ON CONFLICT (room_id, user_id) DO UPDATE SET last_read_seq =
                            GREATEST(chat_membership.last_read_seq, EXCLUDED.last_read_seq)
                    )
                    SELECT {COLUMNS} FROM {joins("m")}
                    """,
                    room_id,
                    bumped["last_seq"],
                    author_id,
                    body,
                    client_id,
                    bumped["last_rev"],
                    reply_to,
                    excerpt,
                    mentions,
                )
        except asyncpg.UniqueViolationError:
            if client_id is None:
                raise
            # The same client_id committed meanwhile (another socket or worker).
            existing = await message_by_client_id(author_id, client_id)
            if existing is None:
                raise
            return existing, False
    return row(record), True


# --- edit, delete, react ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Change:
    """What a change did: the rows it changed, in revision order (empty when it
    changed nothing), and the message as it now stands."""

    message: MessageRow
    changed: list[MessageRow]
    new_mentions: list[int]


async def _locked(conn: Any, message_id: int, user_id: int) -> asyncpg.Record:
    """The message (locked until commit), if the user may read its room;
    ``ChangeRefused`` with ``not_found`` otherwise."""
    record = await conn.fetchrow(
        f"""SELECT m.id, m.room_id, m.author_id, m.deleted, m.created_at, m.body, m.mentions,
                   r.kind AS room_kind, now() AS now
        FROM chat_message m JOIN chat_room r ON r.id = m.room_id
        WHERE m.id = $1 AND {can_read("r", "$2")}
        FOR UPDATE OF m""",
        message_id,
        user_id,
    )
    if record is None:
        raise ChangeRefused(wire.codes.NOT_FOUND, "No such message.")
    return record


async def _one(conn: Any, message_id: int) -> MessageRow:
    return (await _select(conn, "m.id = $1", message_id))[0]


async def message_edit(
    *, message_id: int, user_id: int, body: str, window: float, room_id: int | None = None
) -> Change:
    """The author's new body, within ``window`` seconds of sending."""
    async with (await pool()).acquire() as conn, conn.transaction():
        found = await _locked(conn, message_id, user_id)
        if room_id is not None and found["room_id"] != room_id:
            raise ChangeRefused(wire.codes.NOT_FOUND, "No such message in that room.")
        if found["deleted"]:
            raise ChangeRefused(wire.codes.INVALID, "That message was deleted.")
        if found["author_id"] != user_id:
            raise ChangeRefused(wire.codes.NOT_AUTHOR, "Only its author may edit a message.")
        if found["now"] - found["created_at"] > timedelta(seconds=window):
            raise ChangeRefused(wire.codes.EDIT_WINDOW, "It is too late to edit that message.")
        if found["body"] == body:
            return Change(await _one(conn, message_id), [], [])
        mentions = await _mentions(conn, found["room_id"], body) if "@" in body else []
        rev = await _bump(conn, found["room_id"])
        await conn.execute(
            "UPDATE chat_message SET body = $2, edited_at = now(), rev = $3, mentions = $4 "
            "WHERE id = $1",
            message_id,
            body,
            rev,
            mentions,
        )
        message = await _one(conn, message_id)
    added = [uid for uid in mentions if uid not in set(found["mentions"])]
    return Change(message, [message], added)


async def message_delete(*, message_id: int, user_id: int, room_id: int | None = None) -> Change:
    """The author's, or a moderator's in a public room: the body, mentions and
    reactions go, the message stays (id, seq, author) marked deleted, and
    every reply quoting it loses its excerpt, each with a revision of its own."""
    async with (await pool()).acquire() as conn, conn.transaction():
        found = await _locked(conn, message_id, user_id)
        if room_id is not None and found["room_id"] != room_id:
            raise ChangeRefused(wire.codes.NOT_FOUND, "No such message in that room.")
        if found["author_id"] != user_id and not (
            found["room_kind"] == "public" and await is_moderator(conn, user_id)
        ):
            raise ChangeRefused(wire.codes.NOT_AUTHOR, "Only its author may delete a message.")
        if found["deleted"]:
            return Change(await _one(conn, message_id), [], [])
        replies = await conn.fetch(
            "SELECT id FROM chat_message WHERE reply_to_id = $1 AND reply_excerpt <> '' "
            "ORDER BY seq FOR UPDATE",
            message_id,
        )
        last = await _bump(conn, found["room_id"], 1 + len(replies))
        first = last - len(replies)
        await conn.execute(
            "UPDATE chat_message SET body = '', deleted = true, mentions = '{}', rev = $2 "
            "WHERE id = $1",
            message_id,
            first,
        )
        await conn.execute("DELETE FROM chat_reaction WHERE message_id = $1", message_id)
        reply_ids = [r["id"] for r in replies]
        if reply_ids:
            await conn.execute(
                """UPDATE chat_message c SET reply_excerpt = '', rev = $2 + o.n
                FROM unnest($1::bigint[]) WITH ORDINALITY AS o(id, n) WHERE c.id = o.id""",
                reply_ids,
                first,
            )
        changed = await _select(
            conn,
            "m.id = ANY($1::bigint[]) ORDER BY m.rev",
            [
                message_id,
                *reply_ids,
            ],
        )
    return Change(changed[0], changed, [])


async def message_react(
    *, message_id: int, user_id: int, emoji: str, on: bool, room_id: int | None = None
) -> Change:
    """Add (``on``) or take back the user's ``emoji``; a state that already
    holds changes nothing."""
    async with (await pool()).acquire() as conn, conn.transaction():
        found = await _locked(conn, message_id, user_id)
        if room_id is not None and found["room_id"] != room_id:
            raise ChangeRefused(wire.codes.NOT_FOUND, "No such message in that room.")
        if found["deleted"]:
            raise ChangeRefused(wire.codes.INVALID, "That message was deleted.")
        if on:
            distinct, present = await conn.fetchrow(
                "SELECT count(DISTINCT emoji), bool_or(emoji = $2) FROM chat_reaction "
                "WHERE message_id = $1",
                message_id,
                emoji,
            )
            if not present and (distinct or 0) >= REACTIONS_DISTINCT_MAX:
                raise ChangeRefused(
                    wire.codes.INVALID,
                    f"A message takes at most {REACTIONS_DISTINCT_MAX} different reactions.",
                )
            done = await conn.fetchval(
                "INSERT INTO chat_reaction (message_id, user_id, emoji, created_at) "
                "VALUES ($1, $2, $3, now()) ON CONFLICT DO NOTHING RETURNING id",
                message_id,
                user_id,
                emoji,
            )
        else:
            done = await conn.fetchval(
                "DELETE FROM chat_reaction WHERE message_id = $1 AND user_id = $2 AND emoji = $3 "
                "RETURNING id",
                message_id,
                user_id,
                emoji,
            )
        if done is None:
            return Change(await _one(conn, message_id), [], [])
        rev = await _bump(conn, found["room_id"])
        await conn.execute("UPDATE chat_message SET rev = $2 WHERE id = $1", message_id, rev)
        message = await _one(conn, message_id)
    return Change(message, [message], [])


# --- reads --------------------------------------------------------------------------


async def messages_before(
    room_id: int, before_seq: int | None, limit: int
) -> tuple[list[MessageRow], bool]:
    """Up to ``limit`` messages before ``before_seq`` (None: the newest), oldest
    first, and whether older ones exist."""
    found = await _select(
        await pool(),
        "m.room_id = $1 AND ($2::bigint IS NULL OR m.seq < $2) ORDER BY m.seq DESC LIMIT $3",
        room_id,
        before_seq,
        limit + 1,
    )
    rows = found[:limit]
    rows.reverse()
    return rows, len(found) > limit


async def messages_around(
    room_id: int, around_seq: int, limit: int
) -> tuple[list[MessageRow], bool, bool]:
    """Up to ``limit`` messages centred on ``around_seq`` (the older half before
    it, the rest from it on), oldest first; whether older and newer ones exist."""
    older, has_more = await messages_before(room_id, around_seq, limit // 2)
    newer = await messages_after(room_id, around_seq - 1, limit - len(older) + 1)
    has_newer = len(newer) > limit - len(older)
    return older + newer[: limit - len(older)], has_more, has_newer


async def messages_from(
    room_id: int, after_seq: int, limit: int
) -> tuple[list[MessageRow], bool, bool]:
    """Up to ``limit`` messages after ``after_seq``, oldest first (paging
    forward); whether older and newer ones exist."""
    rows = await messages_after(room_id, after_seq, limit + 1)
    has_more = (rows[0].seq if rows else after_seq + 1) > 1
    return rows[:limit], has_more, len(rows) > limit


async def messages_after(
    room_id: int, after_seq: int, limit: int, *, upto_rev: int | None = None
) -> list[MessageRow]:
    """Messages after ``after_seq``, in seq order; with ``upto_rev``, only those
    that existed at that revision."""
    return await _select(
        await pool(),
        "m.room_id = $1 AND m.seq > $2 AND ($4::bigint IS NULL OR m.created_rev <= $4) "
        "ORDER BY m.seq LIMIT $3",
        room_id,
        after_seq,
        limit,
        upto_rev,
    )


async def updated_since(
    room_id: int, upto_seq: int, after_rev: int, from_seq: int, limit: int
) -> list[MessageRow]:
    """Messages with seq in (``from_seq``, ``upto_seq``] changed after
    ``after_rev``, in seq order: what a resuming client holds in an older state."""
    return await _select(
        await pool(),
        "m.room_id = $1 AND m.seq > $4 AND m.seq <= $2 AND m.rev > $3 ORDER BY m.seq LIMIT $5",
        room_id,
        upto_seq,
        after_rev,
        from_seq,
        limit,
    )


async def changes(room_id: int, after_rev: int, limit: int) -> tuple[list[MessageRow], int, bool]:
    """Messages changed after ``after_rev``, lowest revision first; the room's
    revision; whether more follow."""
    async with (await pool()).acquire() as conn:
        found = await _select(
            conn,
            "m.room_id = $1 AND m.rev > $2 ORDER BY m.rev LIMIT $3",
            room_id,
            after_rev,
            limit + 1,
        )
        last_rev = await conn.fetchval("SELECT last_rev FROM chat_room WHERE id = $1", room_id)
    return found[:limit], int(last_rev or 0), len(found) > limit


@dataclass(frozen=True, slots=True)
class Link:
    """One frame of a room's chain: it follows revision ``prev`` and brings the
    client to ``pos``; ``new`` when the message is new to a client at ``prev``."""

    prev: int
    pos: int
    message: MessageRow
    new: bool


async def chain_after(room_id: int, after_rev: int, limit: int) -> tuple[list[Link], bool]:
    """The links that bring a client from ``after_rev`` towards the room's
    current revision, and whether they reach it (else page on from the last).

    Every message changed after ``after_rev`` comes once, in its current state:
    a message created since as new, at the place of its creation (so new
    messages come in seq order), any other at the place of its latest change.
    One statement, so one snapshot: the last link of the last page ends at
    the room's revision of that snapshot."""
    records = await (await pool()).fetch(
        f"""
        WITH c AS (
            SELECT {STORED}, CASE WHEN created_rev > $2 THEN created_rev ELSE rev END AS key
            FROM chat_message WHERE room_id = $1 AND rev > $2
            ORDER BY key LIMIT $3
        )
        SELECT {COLUMNS}, m.key, (SELECT last_rev FROM chat_room WHERE id = $1) AS room_rev
        FROM {joins("c")} ORDER BY m.key
        """,
        room_id,
        after_rev,
        limit + 1,
    )
    complete = len(records) <= limit
    links: list[Link] = []
    prev = after_rev
    room_rev = after_rev
    for record in records[:limit]:
        values = dict(record)
        room_rev = int(values.pop("room_rev"))
        key = int(values["key"])
        message = row(values)
        links.append(Link(prev, key, message, message.created_rev > after_rev))
        prev = key
    if links and complete and room_rev > links[-1].pos:
        end = links[-1]
        links[-1] = Link(end.prev, room_rev, end.message, end.new)
    return links, complete


async def last_revs(room_ids: list[int]) -> dict[int, int]:
    records = await (await pool()).fetch(
        "SELECT id, last_rev FROM chat_room WHERE id = ANY($1::bigint[])", room_ids
    )
    return {r["id"]: r["last_rev"] for r in records}


# --- search -------------------------------------------------------------------------

# One query of the user's text in each form the stored vector holds (migration
# 0005): English and French stems, and the simple accent-free words. A message
# matches when one of them does.
_QUERIES = """
    tq AS (SELECT websearch_to_tsquery('english', $1) AS en,
                 websearch_to_tsquery('french', $1) AS fr,
                 websearch_to_tsquery('simple', chat_unaccent($1)) AS si)
"""
_HEADLINE = "'StartSel=[[, StopSel=]], HighlightAll=true'"


async def search(
    *, user_id: int, text: str, room_id: int | None, before_id: int | None, limit: int
) -> tuple[list[tuple[MessageRow, str]], bool]:
    """Messages of the rooms the user can read now (or of one of them) that
    match ``text`` (``websearch_to_tsquery`` syntax), newest first, before
    ``before_id``; each with its body highlighted (``[[``, ``]]``); and whether
    more follow."""
    records = await (await pool()).fetch(
        f"""
        WITH {_QUERIES}
        SELECT {COLUMNS},
               ts_headline('english', m.body, tq.en, {_HEADLINE}) AS h_en,
               ts_headline('french', m.body, tq.fr, {_HEADLINE}) AS h_fr,
               ts_headline('simple', m.body, tq.si, {_HEADLINE}) AS h_si
        FROM {joins()} JOIN chat_room r ON r.id = m.room_id, tq
        WHERE (m.search @@ tq.en OR m.search @@ tq.fr OR m.search @@ tq.si)
          AND NOT m.deleted
          AND ($3::bigint IS NULL OR m.room_id = $3)
          AND ($4::bigint IS NULL OR m.id < $4)
          AND {can_read("r", "$2")}
        ORDER BY m.id DESC LIMIT $5
        """,
        text,
        user_id,
        room_id,
        before_id,
        limit + 1,
    )
    found = []
    for record in records[:limit]:
        values = dict(record)
        headlines = [values.pop(key) for key in ("h_en", "h_fr", "h_si")]
        marked = next((h for h in headlines if "[[" in h), values["body"])
        found.append((row(values), marked))
    return found, len(records) > limit
