"""The frames of the /ws/ socket (PROTOCOL.md "WebSocket"): every frame a
client may send, decoded through one tagged union on ``"type"``, and every
frame the server sends. Server frames end in ``Frame``; client frames are
named by their type."""

from __future__ import annotations

from typing import Union

from msgspec import Struct

from chatapp.wire.scalars import ClientId, Count, Emoji, HistoryLimit, Int64, Text
from chatapp.wire.shapes import Message, Notification, Room, User

# --- client to server --------------------------------------------------------------


class ClientFrame(Struct, tag_field="type", kw_only=True):
    """What every client frame may carry. ``ref`` (version 2) comes back in the
    ``error`` frame when the frame fails; unknown fields are ignored."""

    ref: str | None = None


class Subscribe(ClientFrame, tag="subscribe"):
    room: Int64
    after_seq: Count | None = None
    after_rev: Count | None = None  # version 2: also the changes to older messages


class Unsubscribe(ClientFrame, tag="unsubscribe"):
    room: Int64


class Send(ClientFrame, tag="send"):
    room: Int64
    body: Text  # trimmed and measured by the handler: its limit is a setting
    client_id: ClientId
    reply_to: Int64 | None = None  # version 2


class History(ClientFrame, tag="history"):
    room: Int64
    before_seq: Int64 | None = None
    limit: HistoryLimit | None = None
    around_seq: Int64 | None = None  # version 2: a page centred on this seq


class Typing(ClientFrame, tag="typing"):
    room: Int64


class Read(ClientFrame, tag="read"):
    room: Int64
    seq: Int64


class Ping(ClientFrame, tag="ping"):
    pass


class Edit(ClientFrame, tag="edit"):
    room: Int64
    message: Int64
    body: Text


class Delete(ClientFrame, tag="delete"):
    room: Int64
    message: Int64


class React(ClientFrame, tag="react"):
    room: Int64
    message: Int64
    emoji: Emoji
    on: bool


AnyClientFrame = Union[  # noqa: UP007
    Subscribe, Unsubscribe, Send, History, Typing, Read, Ping, Edit, Delete, React
]

# --- server to client --------------------------------------------------------------


class ServerFrame(Struct, tag_field="type"):
    pass


class HelloFrame(ServerFrame, tag="hello"):
    user: User
    rooms: list[Room]
    notifications_unread: int


class SubscribedFrame(ServerFrame, tag="subscribed"):
    room: int
    last_seq: int
    online: int
    last_rev: int = 0  # version 2


class UnsubscribedFrame(ServerFrame, tag="unsubscribed"):
    room: int


class AckFrame(ServerFrame, tag="ack"):
    client_id: str
    message: Message


class HistoryFrame(ServerFrame, tag="history"):
    room: int
    messages: list[Message]
    has_more: bool
    has_newer: bool = False  # version 2: newer messages follow the page


class TypingFrame(ServerFrame, tag="typing"):
    room: int
    user: User


class UnreadFrame(ServerFrame, tag="unread"):
    room: int
    count: int


class PongFrame(ServerFrame, tag="pong"):
    pass


class MessageFrame(ServerFrame, tag="message"):
    message: Message


class MessageUpdatedFrame(ServerFrame, tag="message_updated"):
    """Version 2: a message was edited, deleted, reacted to, or its reply quote cleared."""

    message: Message


class ReadReceiptFrame(ServerFrame, tag="read_receipt"):
    """Version 2: the peer of a private room read up to ``seq``."""

    room: int
    user: int
    seq: int


class PresenceFrame(ServerFrame, tag="presence"):
    room: int
    online: int


class NotificationFrame(ServerFrame, tag="notification"):
    notification: Notification
    unread: int


class RoomFrame(ServerFrame, tag="room"):
    """A private room appeared or changed."""

    room: Room


class RoomRemovedFrame(ServerFrame, tag="room_removed"):
    room: int


class NotificationsUnreadFrame(ServerFrame, tag="notifications_unread"):
    """Added by this server: reading a private room cleared its notification."""

    unread: int


class ErrorFrame(ServerFrame, tag="error"):
    code: str
    detail: str
    ref: str | None = None
