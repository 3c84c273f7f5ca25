"""The shapes of PROTOCOL.md ("Shapes" and the answers of the HTTP JSON API),
as the server writes them. Field order is the order on the wire.

Adding a field here adds it to every answer and frame that carries the shape;
the contract allows adding, never removing or renaming."""

from __future__ import annotations

from typing import Literal

from msgspec import UNSET, Struct, UnsetType, field


class User(Struct):
    id: int
    username: str
    avatar: str  # a URL


class Me(User):
    """``/api/me``: the caller, with their own settings (version 2)."""

    show_read_receipts: bool
    language: str


class UserWithRelation(User):
    """A user as ``/api/users`` lists it: how the caller stands with them."""

    relation: str  # self, friend, request_sent, request_received or none


class ReplyTo(Struct):
    """The message a reply quotes: its first characters when the reply was
    sent, "" once it is deleted."""

    id: int
    seq: int
    author: User
    excerpt: str


class Reaction(Struct):
    emoji: str
    count: int
    users: list[int]  # the first REACTION_USERS_SHOWN who reacted


class Message(Struct):
    id: int
    room: int
    seq: int
    author: User
    body: str
    created_at: str  # ISO 8601, UTC, with a Z
    client_id: str | None
    # Version 2: the message's lifecycle.
    rev: int = 0
    edited_at: str | None = None
    deleted: bool = False
    reply_to: ReplyTo | None = None
    mentions: list[int] = []
    reactions: list[Reaction] = []


class LastMessage(Struct):
    """Added by this server: a room's latest message, as a room list shows it."""

    author: str  # a username
    body: str  # shortened
    created_at: str


class Room(Struct):
    id: int
    kind: Literal["public", "private"]
    title: str
    peer: User | None
    unread: int
    last_seq: int
    last_message: LastMessage | None  # added by this server
    last_rev: int = 0  # version 2
    # Version 2, private rooms: how far the peer has read; None when either
    # member hides read receipts (and in public rooms).
    peer_read_seq: int | None = None


class Notification(Struct):
    id: int
    kind: str
    actor: User | None
    text: str
    url: str
    created_at: str
    read: bool


class FriendRequest(Struct):
    id: int
    from_user: User = field(name="from")
    to_user: User = field(name="to")
    status: str


class ErrorDetail(Struct):
    code: str
    detail: str
    fields: dict[str, list[str]] | UnsetType = UNSET


class Error(Struct):
    """Every HTTP failure: ``{"error": {"code", "detail", "fields"?}}``."""

    error: ErrorDetail


# --- answers of the HTTP JSON API, in the order of PROTOCOL.md ------------------------


class CsrfToken(Struct):
    csrf_token: str


class UserAnswer(Struct):
    user: User


class UserResults(Struct):
    results: list[UserWithRelation]


class Friends(Struct):
    results: list[User]


class FriendRequests(Struct):
    incoming: list[FriendRequest]
    outgoing: list[FriendRequest]


class Rooms(Struct):
    results: list[Room]


class MessagesPage(Struct):
    messages: list[Message]  # oldest first
    has_more: bool  # older messages exist
    has_newer: bool = False  # version 2: newer messages follow the page


class SearchResult(Message):
    """A message that matched, its body with ``[[`` and ``]]`` around each match."""

    highlight: str = ""


class SearchResults(Struct):
    results: list[SearchResult]  # newest first
    has_more: bool


class ChangesPage(Struct):
    """``GET /api/rooms/{id}/changes``: messages changed after a revision."""

    messages: list[Message]  # lowest rev first
    last_rev: int  # the room's current
    has_more: bool


class NotificationsPage(Struct):
    results: list[Notification]  # newest first
    unread: int
    has_more: bool


class Unread(Struct):
    unread: int


class Token(Struct):
    """An API token as listed: never the token itself."""

    id: int
    name: str
    created_at: str
    last_used_at: str | None


class NewToken(Struct):
    """An API token just made: the token is shown this once."""

    id: int
    name: str
    token: str
    created_at: str


class Tokens(Struct):
    results: list[Token]


class Health(Struct):
    status: Literal["ok", "unavailable"]
    db: Literal["ok", "down"]
    layer: Literal["ok", "down"]


class Readiness(Struct):
    status: Literal["ready", "draining"]
