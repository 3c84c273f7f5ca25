"""Writes of the chat domain on the hot path. Each stores first and publishes
after the commit: an ack (and any live frame) means the message is stored."""

from __future__ import annotations

from chatapp import wire
from chatapp.accounts.serializers import user_shape_of
from chatapp.chat import selectors, sql
from chatapp.chat.serializers import message_shape, shorten
from chatapp.chat.sql import MessageRow, NotificationRow
from chatapp.core import metrics
from chatapp.realtime import events
from chatapp.realtime.hub import hub
from chatapp.realtime.limits import limits

NOTIFICATION_PREVIEW = 100


def public_rooms_start_read(*, user_id: int) -> None:
    """A new account starts with the public rooms read: what was said before
    it joined is history to scroll back through, not unread messages.
    Sync, for the registration transaction."""
    from chatapp.chat.models import Membership, Room

    Membership.objects.bulk_create(
        [
            Membership(room_id=room_id, user_id=user_id, last_read_seq=last_seq)
            for room_id, last_seq in Room.objects.filter(kind=Room.Kind.PUBLIC).values_list(
                "id", "last_seq"
            )
        ],
        ignore_conflicts=True,
    )


async def message_send(
    *, room_id: int, room_kind: str, author_id: int, body: str, client_id: str
) -> tuple[MessageRow, bool]:
    """Store a message (or find the one this client_id already stored) and
    publish it if new. The caller has checked access, body and rate."""
    row, created = await sql.message_insert(
        room_id=room_id, author_id=author_id, body=body, client_id=client_id
    )
    if created:
        metrics.MESSAGES_STORED.inc()
        await events.to_room(row.room_id, message_frame(row), seq=row.seq)
        if room_kind == "private":
            peer = await sql.private_room_peer(row.room_id, row.author_id)
            if peer is not None:
                await _notify_peer(row, peer)
                await _room_changed(row, peer)
    return row, created


def message_frame(row: MessageRow) -> str:
    """A ``message`` frame, encoded once for every socket."""
    return wire.encode_text(wire.MessageFrame(message=message_shape(row)))


async def typing_announce(*, room_id: int, user: wire.User) -> None:
    """Tell the room's other sockets the user is typing, at most every
    CHAT_TYPING_INTERVAL seconds per user and room."""
    if await limits().allow_typing(user.id, room_id):
        text = wire.encode_text(wire.TypingFrame(room=room_id, user=user))
        await events.to_room(room_id, text, skip_user=user.id)


async def _room_changed(row: MessageRow, peer: int) -> None:
    """Both members' room lists move the room up, with its latest message and
    each member's own unread count (a ``room`` frame)."""
    for user_id in (row.author_id, peer):
        shape = await selectors.room_for_user(user_id, row.room_id)
        if shape is not None:
            await events.to_user(user_id, wire.RoomFrame(room=shape))


async def _notify_peer(row: MessageRow, peer: int) -> None:
    """One private_message notification per room for a peer not looking at it."""
    if await hub().is_online(row.room_id, peer):
        return
    note = await sql.private_message_notify(
        room_id=row.room_id,
        user_id=peer,
        actor_id=row.author_id,
        text=f"{row.author_username}: {shorten(row.body, NOTIFICATION_PREVIEW)}",
        url=f"/chat/{row.room_id}/",
    )
    actor = user_shape_of(row.author_id, row.author_username, row.author_avatar)
    await events.to_user(peer, _notification_frame(note, actor))


def _notification_frame(note: NotificationRow, actor: wire.User) -> wire.NotificationFrame:
    notification = wire.Notification(
        id=note.id,
        kind=note.kind,
        actor=actor,
        text=note.text,
        url=note.url,
        created_at=wire.iso_utc(note.created_at),
        read=note.read,
    )
    return wire.NotificationFrame(notification=notification, unread=note.unread)


async def room_read(*, room_id: int, user_id: int, seq: int) -> int:
    """Move the user's read marker and tell all of the user's sockets; reading a
    private room clears its private_message notification."""
    unread = await sql.read_marker_set(room_id, user_id, seq)
    await events.to_user(user_id, wire.UnreadFrame(room=room_id, count=unread))
    if unread == 0:
        notifications_unread = await sql.private_message_notifications_clear(
            room_id=room_id, user_id=user_id
        )
        if notifications_unread >= 0:
            frame = wire.NotificationsUnreadFrame(unread=notifications_unread)
            await events.to_user(user_id, frame)
    return unread
