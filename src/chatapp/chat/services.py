"""Writes of the chat domain on the hot path. Each stores first and publishes
after the commit: an ack (and any live frame) means the message is stored."""

from __future__ import annotations

import emoji as unicode_emoji
from django.conf import settings

from chatapp import wire
from chatapp.accounts.serializers import user_shape_of
from chatapp.chat import message_sql, selectors, sql
from chatapp.chat.message_sql import Change, MessageRow
from chatapp.chat.serializers import message_shape, shorten
from chatapp.core import metrics
from chatapp.notifications import live
from chatapp.notifications.live import NotificationRow
from chatapp.notifications.services import notification_create_for
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
    *,
    room_id: int,
    room_kind: str,
    author_id: int,
    body: str,
    client_id: str,
    reply_to: int | None = None,
) -> tuple[MessageRow, bool]:
    """Store a message (or find the one this client_id already stored) and
    publish it if new. The caller has checked access, body and rate; a reply
    to a message of another room raises ``ChangeRefused``."""
    row, created = await message_sql.message_insert(
        room_id=room_id, author_id=author_id, body=body, client_id=client_id, reply_to=reply_to
    )
    if created:
        metrics.MESSAGES_STORED.inc()
        await events.to_room(row.room_id, message_frame(row), order=_link(row))
        await _notify_mentions(row, list(row.mentions))
        await _notify_reply(row)
        if room_kind == "private":
            peer = await sql.private_room_peer(row.room_id, row.author_id)
            if peer is not None:
                await _notify_peer(row, peer)
                await _room_changed(row, peer)
    return row, created


def message_frame(row: MessageRow) -> str:
    """A ``message`` frame, encoded once for every socket."""
    return wire.encode_text(wire.MessageFrame(message=message_shape(row)))


def message_updated_frame(row: MessageRow) -> str:
    return wire.encode_text(wire.MessageUpdatedFrame(message=message_shape(row)))


def _link(row: MessageRow) -> tuple[int, int, int]:
    """A live change in the room's chain: from the revision before it to its own."""
    return (row.rev - 1, row.rev, row.rev - 1)


def is_one_emoji(text: str) -> bool:
    """One emoji: a single grapheme that Unicode calls an emoji (skin tones,
    flags and joined sequences included)."""
    return unicode_emoji.is_emoji(text)


async def message_edit(
    *, message_id: int, user_id: int, body: str, room_id: int | None = None
) -> MessageRow:
    """The author's new body; ``message_updated`` to the room when it changed.
    Raises ``ChangeRefused`` when the rules say no."""
    change = await message_sql.message_edit(
        message_id=message_id,
        user_id=user_id,
        body=body,
        window=settings.CHAT_EDIT_WINDOW,
        room_id=room_id,
    )
    await _publish(change)
    await _notify_mentions(change.message, change.new_mentions)
    return change.message


async def message_delete(
    *, message_id: int, user_id: int, room_id: int | None = None
) -> MessageRow:
    change = await message_sql.message_delete(
        message_id=message_id, user_id=user_id, room_id=room_id
    )
    await _publish(change)
    return change.message


async def message_react(
    *, message_id: int, user_id: int, emoji: str, on: bool, room_id: int | None = None
) -> MessageRow:
    if not is_one_emoji(emoji):
        raise message_sql.ChangeRefused(wire.codes.INVALID, "A reaction is one emoji.")
    change = await message_sql.message_react(
        message_id=message_id, user_id=user_id, emoji=emoji, on=on, room_id=room_id
    )
    await _publish(change)
    return change.message


async def _publish(change: Change) -> None:
    for row in change.changed:
        await events.to_room(row.room_id, message_updated_frame(row), order=_link(row))


async def _notify_mentions(row: MessageRow, user_ids: list[int]) -> None:
    """A ``mention`` notification to each user named, but the author and those
    looking at the room."""
    for user_id in user_ids:
        if user_id != row.author_id and not await hub().is_online(row.room_id, user_id):
            await notification_create_for(
                user_id=user_id,
                kind="mention",
                actor_id=row.author_id,
                text=f"{row.author_username} mentioned you: "
                f"{shorten(row.body, NOTIFICATION_PREVIEW)}",
                url=f"/chat/{row.room_id}/",
            )


async def _notify_reply(row: MessageRow) -> None:
    """A ``reply`` notification to the author of the message replied to, unless
    they replied to themselves or are looking at the room."""
    quoted_author = row.reply_author_id
    if quoted_author is None or quoted_author == row.author_id:
        return
    if await hub().is_online(row.room_id, quoted_author):
        return
    await notification_create_for(
        user_id=quoted_author,
        kind="reply",
        actor_id=row.author_id,
        text=f"{row.author_username} replied: {shorten(row.body, NOTIFICATION_PREVIEW)}",
        url=f"/chat/{row.room_id}/",
    )


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
    note = await live.private_message_notify(
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
    marker = await sql.read_marker_set(room_id, user_id, seq)
    unread = marker.unread
    await events.to_user(user_id, wire.UnreadFrame(room=room_id, count=unread))
    if marker.moved and marker.receipt_to is not None:
        receipt = wire.ReadReceiptFrame(room=room_id, user=user_id, seq=marker.seq)
        await events.to_user(marker.receipt_to, receipt)
    if unread == 0:
        notifications_unread = await live.private_message_notifications_clear(
            room_id=room_id, user_id=user_id
        )
        if notifications_unread >= 0:
            frame = wire.NotificationsUnreadFrame(unread=notifications_unread)
            await events.to_user(user_id, frame)
    return unread
