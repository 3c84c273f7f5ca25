"""The chat's side of /ws/: what the transport (``realtime.socket``) is plugged
with. The handshake's session and user, each client frame of PROTOCOL.md, and
the messages a socket or a worker reads to fill a gap.

Thin, like a view: frames are checked by ``realtime.protocol``, access by
``chat.message_sql.room_access``, writes go through ``chat.services``. Everything runs
on the asyncpg pool, never on the ORM's one thread.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from urllib.parse import parse_qs

from asgiref.typing import WebSocketScope
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.http.cookie import parse_cookie
from django.utils.crypto import constant_time_compare

from chatapp import wire
from chatapp.accounts.models import session_auth_hash
from chatapp.accounts.serializers import user_shape_of
from chatapp.chat import message_sql, selectors, services, sql
from chatapp.chat.message_sql import ChangeRefused
from chatapp.chat.serializers import message_shape
from chatapp.core import metrics
from chatapp.realtime.hub import CATCH_UP_PAGE, RoomSource, hub
from chatapp.realtime.limits import limits
from chatapp.realtime.protocol import FrameError
from chatapp.realtime.sessions import SessionRef
from chatapp.realtime.socket import Handler, Identity, Socket
from chatapp.tokens.middleware import bearer_token, token_in_url
from chatapp.tokens.services import presented_digest

# The credential of a token socket, as the session watcher sees it.
TOKEN_KEY = "token:"  # noqa: S105 - a prefix, not a secret


def _session_key(scope: WebSocketScope) -> str | None:
    cookie = b"; ".join(value for name, value in scope["headers"] if name == b"cookie")
    return parse_cookie(cookie.decode("latin-1")).get(settings.SESSION_COOKIE_NAME) or None


def _session_hash_matches(session_hash: str, password: str, session_epoch: int) -> bool:
    """Django's session check: the session was made with the current password
    (and, here, since the user's last "log out everywhere")."""
    secrets = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    return any(
        constant_time_compare(session_hash, session_auth_hash(password, session_epoch, secret=key))
        for key in secrets
    )


def _header(scope: WebSocketScope, name: bytes) -> str:
    return b", ".join(value for key, value in scope["headers"] if key == name).decode("latin-1")


def _identity(user: sql.SocketUser, rooms: list[wire.Room], credential: str) -> Identity:
    shape = user_shape_of(user.id, user.username, user.avatar)
    hello = wire.HelloFrame(user=shape, rooms=rooms, notifications_unread=user.notifications_unread)
    return Identity(
        user_id=user.id,
        session_key=credential,
        user=shape,
        hello=wire.encode_text(hello),
        credential=user.credential,
    )


class ChatEndpoint:
    """Plugs the chat into the transport."""

    def __init__(self) -> None:
        self.source: RoomSource = self  # the database is where gaps are filled from
        self.handlers: Mapping[type[wire.ClientFrame], Handler] = HANDLERS

    async def authenticate(self, scope: WebSocketScope) -> Identity | None:
        """The user of the handshake's API token or else of its session
        cookie, and their ``hello``, in two round trips (the token or the
        session; the user with the rooms) on the pool; None when not logged in.

        Django's own path (``aget_user``) costs two ORM queries on the one ORM
        thread per process, which serialized a burst of connects."""
        presented = bearer_token(_header(scope, b"authorization"))
        if presented is not None or token_in_url(
            parse_qs(scope.get("query_string", b"").decode("latin-1"))
        ):
            return await self._token_identity(presented or "")
        key = _session_key(scope)
        if key is None or len(key) > 40:
            return None
        data = await sql.session_data(key)
        if data is None:
            return None
        session = SessionStore().decode(data)
        try:
            user_id = int(session[SESSION_KEY])
        except (KeyError, TypeError, ValueError):
            return None
        if session.get(BACKEND_SESSION_KEY) not in settings.AUTHENTICATION_BACKENDS:
            return None
        found = await selectors.socket_hello(user_id)
        session_hash = session.get(HASH_SESSION_KEY)
        if found is None or not isinstance(session_hash, str):
            return None
        user, rooms = found
        if not user.is_active or not _session_hash_matches(
            session_hash, user.password, user.session_epoch
        ):
            return None
        return _identity(user, rooms, key)

    async def _token_identity(self, presented: str) -> Identity | None:
        """A token socket: the token wins over any cookie; if it is not valid
        (or sits in the URL, where it would be logged) the socket gets 4401."""
        if not presented:
            return None
        owner = await sql.token_owner(presented_digest(presented))
        if owner is None:
            return None
        token_id, user_id = owner
        found = await selectors.socket_hello(user_id)
        if found is None or not found[0].is_active:
            return None
        return _identity(*found, f"{TOKEN_KEY}{token_id}")

    async def valid_sessions(
        self, sessions: list[SessionRef], *, credentials: bool
    ) -> set[SessionRef]:
        """Which of the sockets' sessions still hold: session keys, and
        ``token:<id>`` for sockets opened with an API token.

        A session holds while it exists; with ``credentials``, only while its
        user is active and their password and session epoch are still those of
        the handshake (the session's hash then still matches; any change makes
        the sessions made before it invalid). A token holds until it is
        revoked; with ``credentials``, only while its user is active: a new
        password or "log out everywhere" ends sessions, not API tokens."""
        tokens = [s for s in sessions if s.key.startswith(TOKEN_KEY)]
        cookies = [s for s in sessions if not s.key.startswith(TOKEN_KEY)]
        valid: set[SessionRef] = set()
        if tokens:
            ids = [int(s.key[len(TOKEN_KEY) :]) for s in tokens]
            check = sql.active_token_ids if credentials else sql.live_token_ids
            held = {f"{TOKEN_KEY}{token_id}" for token_id in await check(ids)}
            valid.update(s for s in tokens if s.key in held)
        if cookies and credentials:
            current = await sql.current_sessions([(s.key, s.user_id) for s in cookies])
            valid.update(s for s in cookies if s in current)
        elif cookies:
            live = await sql.live_session_keys([s.key for s in cookies])
            valid.update(s for s in cookies if s.key in live)
        return valid

    # RoomSource: what sockets and the hub read to fill gaps.

    async def last_revs(self, room_ids: list[int]) -> dict[int, int]:
        return await message_sql.last_revs(room_ids)

    async def chain_after(
        self, room_id: int, after: int, limit: int
    ) -> tuple[list[tuple[int, int, str]], bool]:
        links, complete = await message_sql.chain_after(room_id, after, limit)
        frames = [
            (
                link.prev,
                link.pos,
                services.message_frame(link.message)
                if link.new
                else services.message_updated_frame(link.message),
            )
            for link in links
        ]
        return frames, complete


# --- client frames: each arrives decoded and checked (``chatapp.wire.frames``) ------


async def _check_room(socket: Socket, frame: wire.Typing | wire.Read | wire.History) -> None:
    """Refuse the frame unless the user may use the room it names."""
    if await message_sql.room_access(frame.room, socket.user_id) is None:
        raise FrameError(wire.codes.NOT_FOUND, "No such room.", wire.frame_ref(frame))


async def on_subscribe(socket: Socket, frame: wire.Subscribe) -> None:
    room_id = frame.room
    # Joined first, then read: anything published from here on is seen live or
    # caught up from the database. Nothing reaches the socket before
    # ``start_delivery``, so joining a room it may not read shows it nothing;
    # one query then both checks access and reads where the room is.
    sub = await socket.join(room_id)
    found = await message_sql.room_access(room_id, socket.user_id)
    if found is None:
        await socket.leave(room_id)
        raise FrameError(wire.codes.NOT_FOUND, "No such room.", wire.frame_ref(frame))
    _, last_seq, last_rev = found
    await socket.show(room_id, sub)
    online = await hub().online(room_id)
    socket.push(
        wire.SubscribedFrame(room=room_id, last_seq=last_seq, online=online, last_rev=last_rev)
    )
    backlog = None
    if frame.after_seq is not None:
        metrics.RESUMES.inc()
    if frame.after_seq is not None and (frame.after_seq < last_seq or frame.after_rev is not None):
        backlog = _backlog(room_id, min(frame.after_seq, last_seq), frame.after_rev, last_rev)
    socket.start_delivery(room_id, sub, last_rev, backlog)


async def _backlog(
    room_id: int, after_seq: int, after_rev: int | None, upto_rev: int
) -> AsyncIterator[list[str]]:
    """What a resuming client missed up to revision ``upto_rev`` (PROTOCOL.md):
    with ``after_rev``, the messages it holds that changed since, as
    ``message_updated``, oldest seq first; then the messages after
    ``after_seq`` as ``message``, in seq order. Later changes follow live."""
    if after_rev is not None:
        from_seq = 0
        while True:
            rows = await message_sql.updated_since(
                room_id, after_seq, after_rev, from_seq, CATCH_UP_PAGE
            )
            if rows:
                yield [services.message_updated_frame(row) for row in rows]
                from_seq = rows[-1].seq
            if len(rows) < CATCH_UP_PAGE:
                break
    while True:
        rows = await message_sql.messages_after(
            room_id, after_seq, CATCH_UP_PAGE, upto_rev=upto_rev
        )
        if rows:
            yield [services.message_frame(row) for row in rows]
            after_seq = rows[-1].seq
        if len(rows) < CATCH_UP_PAGE:
            break


async def on_unsubscribe(socket: Socket, frame: wire.Unsubscribe) -> None:
    await socket.leave(frame.room)
    socket.push(wire.UnsubscribedFrame(room=frame.room))


async def on_send(socket: Socket, frame: wire.Send) -> None:
    started = time.perf_counter()
    body = frame.body.strip()
    if not body:
        raise FrameError(wire.codes.INVALID, "The message is empty.", frame.client_id)
    if len(body) > settings.CHAT_MESSAGE_MAX_CHARS:
        detail = f"A message is at most {settings.CHAT_MESSAGE_MAX_CHARS} characters."
        raise FrameError(wire.codes.TOO_LARGE, detail, frame.client_id)
    access = await message_sql.room_access(frame.room, socket.user_id)
    if access is None:
        raise FrameError(wire.codes.NOT_FOUND, "No such room.", frame.client_id)
    if not await limits().allow_send(socket.user_id):
        raise FrameError(wire.codes.RATE_LIMITED, "You are sending too fast.", frame.client_id)
    try:
        row, _ = await services.message_send(
            room_id=frame.room,
            room_kind=access[0],
            author_id=socket.user_id,
            body=body,
            client_id=frame.client_id,
            reply_to=frame.reply_to,
        )
    except ChangeRefused as exc:
        raise FrameError(exc.code, exc.detail, frame.client_id) from None
    socket.push(wire.AckFrame(client_id=frame.client_id, message=message_shape(row)))
    metrics.SEND_ACK_SECONDS.observe(time.perf_counter() - started)


async def on_history(socket: Socket, frame: wire.History) -> None:
    await _check_room(socket, frame)
    limit = frame.limit or wire.HISTORY_LIMIT_DEFAULT
    has_newer = False
    if frame.around_seq is not None:
        if frame.before_seq is not None:
            detail = "Give before_seq or around_seq, not both."
            raise FrameError(wire.codes.INVALID, detail, frame.ref)
        rows, has_more, has_newer = await message_sql.messages_around(
            frame.room, max(frame.around_seq, 1), limit
        )
    else:
        rows, has_more = await message_sql.messages_before(frame.room, frame.before_seq, limit)
    messages = [message_shape(row) for row in rows]
    socket.push(
        wire.HistoryFrame(
            room=frame.room, messages=messages, has_more=has_more, has_newer=has_newer
        )
    )


async def on_typing(socket: Socket, frame: wire.Typing) -> None:
    await _check_room(socket, frame)
    if frame.room in socket.subscriptions:
        await services.typing_announce(room_id=frame.room, user=socket.user)


async def on_read(socket: Socket, frame: wire.Read) -> None:
    await _check_room(socket, frame)
    await services.room_read(room_id=frame.room, user_id=socket.user_id, seq=frame.seq)


async def on_ping(socket: Socket, frame: wire.Ping) -> None:
    socket.push(wire.PongFrame())


@contextmanager
def _refusal_as_error(ref: str | None) -> Iterator[None]:
    """A change the rules refuse (``ChangeRefused``) becomes the ``error`` frame."""
    try:
        yield
    except ChangeRefused as exc:
        raise FrameError(exc.code, exc.detail, ref) from None


def _body(frame: wire.Edit) -> str:
    body = frame.body.strip()
    if not body:
        raise FrameError(wire.codes.INVALID, "The message is empty.", frame.ref)
    if len(body) > settings.CHAT_MESSAGE_MAX_CHARS:
        detail = f"A message is at most {settings.CHAT_MESSAGE_MAX_CHARS} characters."
        raise FrameError(wire.codes.TOO_LARGE, detail, frame.ref)
    return body


async def on_edit(socket: Socket, frame: wire.Edit) -> None:
    body = _body(frame)
    with _refusal_as_error(frame.ref):
        await services.message_edit(
            message_id=frame.message, user_id=socket.user_id, body=body, room_id=frame.room
        )


async def on_delete(socket: Socket, frame: wire.Delete) -> None:
    with _refusal_as_error(frame.ref):
        await services.message_delete(
            message_id=frame.message, user_id=socket.user_id, room_id=frame.room
        )


async def on_react(socket: Socket, frame: wire.React) -> None:
    with _refusal_as_error(frame.ref):
        await services.message_react(
            message_id=frame.message,
            user_id=socket.user_id,
            emoji=frame.emoji,
            on=frame.on,
            room_id=frame.room,
        )


HANDLERS: Mapping[type[wire.ClientFrame], Handler] = {
    wire.Subscribe: on_subscribe,
    wire.Unsubscribe: on_unsubscribe,
    wire.Send: on_send,
    wire.History: on_history,
    wire.Typing: on_typing,
    wire.Read: on_read,
    wire.Ping: on_ping,
    wire.Edit: on_edit,
    wire.Delete: on_delete,
    wire.React: on_react,
}
