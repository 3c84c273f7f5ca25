"""What clients send over HTTP: the JSON bodies of the API and the query
strings of the API and the pages. Unknown fields are ignored."""

from __future__ import annotations

from typing import Literal

from msgspec import UNSET, Struct, UnsetType

from chatapp.wire.scalars import Count, Email, Int64, Login, Password, Positive, Text, Username

# --- JSON bodies -----------------------------------------------------------------------


class RegisterBody(Struct):
    username: Username
    email: Email
    password: Password


class LoginBody(Struct):
    login: Login  # a username or an email address
    password: Password


class FriendRequestBody(Struct):
    to: Int64  # a user id


class PrivateRoomBody(Struct):
    user: Int64


class NotificationsReadBody(Struct):
    up_to: Int64


class MeSettingsBody(Struct):
    """``PATCH /api/me``: the settings to change (others stay)."""

    show_read_receipts: bool | UnsetType = UNSET
    language: Literal["en", "fr"] | UnsetType = UNSET


class EditBody(Struct):
    """``PATCH /api/messages/{id}``."""

    body: Text


class TokenBody(Struct):
    name: Text  # 1 to 100 characters after trimming: told by the tokens service


# --- query strings (numbers written in decimal) ----------------------------------------


class UserSearchQuery(Struct):
    q: Text = ""


class MessagesQuery(Struct):
    before_seq: Positive | None = None
    limit: Positive | None = None  # at most HISTORY_LIMIT_MAX: larger asks get that many
    # Version 2, instead of before_seq: a page centred on a seq, or the page after one.
    around_seq: Positive | None = None
    after_seq: Count | None = None


class ChangesQuery(Struct):
    after_rev: Count = 0
    limit: Positive | None = None  # at most HISTORY_LIMIT_MAX


class SearchQuery(Struct):
    q: Text = ""  # 1 to SEARCH_QUERY_MAX characters after trimming: told by the view
    room: Int64 | None = None
    before: Int64 | None = None  # the id of the last result of the previous page
    limit: Positive | None = None  # at most SEARCH_LIMIT_MAX


class NotificationsQuery(Struct):
    before: Int64 | None = None  # the smallest id already shown


class MessageForm(Struct):
    """The room page's send form (the page without scripts)."""

    body: Text = ""
    client_id: Text = ""


class NotificationsReadForm(Struct):
    up_to: Int64 | None = None


class FriendRequestForm(Struct):
    """The friend request button of the search page."""

    to: Int64 | None = None
