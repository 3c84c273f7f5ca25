"""JSON API of rooms and messages (PROTOCOL.md)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from msgspec.structs import asdict

from chatapp import wire
from chatapp.accounts.api import current_user
from chatapp.chat import message_sql, selectors, services
from chatapp.chat.message_sql import ChangeRefused
from chatapp.chat.serializers import message_shape
from chatapp.core.api import api_view, read_body, read_query
from chatapp.core.apidoc import operation
from chatapp.core.errors import ApiError, json_response


@operation(
    "GET",
    "The public room(s) and the private rooms of friends",
    answers={200: wire.Rooms},
)
@api_view("GET")
async def rooms(request: HttpRequest) -> HttpResponse:
    user = await current_user(request)
    return json_response(wire.Rooms(results=await selectors.rooms_for_user(user.pk)))


@operation(
    "GET",
    "A page of a room's messages before a seq, oldest first",
    query=wire.MessagesQuery,
    answers={200: wire.MessagesPage},
    errors={
        400: "More than one of before_seq, around_seq and after_seq.",
        404: "A room that does not exist or is not the caller's.",
    },
    description="`limit` is 50 by default; a larger ask than 100 gets 100. "
    "`around_seq` gives a page centred on that seq, `after_seq` the page after it "
    "(paging forward); `has_newer` says whether newer messages follow.",
)
@api_view("GET")
async def room_messages(request: HttpRequest, room_id: int) -> HttpResponse:
    user = await current_user(request)
    query = read_query(request, wire.MessagesQuery)
    limit = min(query.limit or wire.HISTORY_LIMIT_DEFAULT, wire.HISTORY_LIMIT_MAX)
    anchors = [query.before_seq, query.around_seq, query.after_seq]
    if sum(anchor is not None for anchor in anchors) > 1:
        detail = "Give one of before_seq, around_seq and after_seq."
        raise ApiError("invalid", detail, fields={"around_seq": [detail]})
    if await message_sql.room_access(room_id, user.pk) is None:
        raise ApiError("not_found", "No such room.")
    has_newer = False
    if query.around_seq is not None:
        rows, has_more, has_newer = await message_sql.messages_around(
            room_id, query.around_seq, limit
        )
    elif query.after_seq is not None:
        rows, has_more, has_newer = await message_sql.messages_from(room_id, query.after_seq, limit)
    else:
        rows, has_more = await message_sql.messages_before(room_id, query.before_seq, limit)
    messages = [message_shape(row) for row in rows]
    return json_response(
        wire.MessagesPage(messages=messages, has_more=has_more, has_newer=has_newer)
    )


NO_MESSAGE = "A message that does not exist or is in a room the caller can not read."


@operation(
    "GET",
    "Messages of a room changed after a revision, lowest revision first",
    query=wire.ChangesQuery,
    answers={200: wire.ChangesPage},
    errors={404: "A room that does not exist or is not the caller's."},
    description="A new message, an edit, a delete or a reaction is a change; each "
    "message comes once, in its current state. `last_rev` is the room's revision now.",
)
@api_view("GET")
async def room_changes(request: HttpRequest, room_id: int) -> HttpResponse:
    """Messages changed after ``after_rev``, lowest revision first: how a bot
    that polls keeps every message it holds current."""
    user = await current_user(request)
    query = read_query(request, wire.ChangesQuery)
    limit = min(query.limit or wire.HISTORY_LIMIT_DEFAULT, wire.HISTORY_LIMIT_MAX)
    if await message_sql.room_access(room_id, user.pk) is None:
        raise ApiError("not_found", "No such room.")
    rows, last_rev, has_more = await message_sql.changes(room_id, query.after_rev, limit)
    messages = [message_shape(row) for row in rows]
    return json_response(wire.ChangesPage(messages=messages, last_rev=last_rev, has_more=has_more))


@operation(
    "PATCH",
    "Edit one's own message, within CHAT_EDIT_WINDOW seconds of sending it",
    body=wire.EditBody,
    answers={200: wire.Message},
    errors={
        403: "Not the author (`not_author`), or too late (`edit_window`).",
        404: NO_MESSAGE,
        413: "A body over CHAT_MESSAGE_MAX_CHARS characters.",
    },
)
@operation(
    "DELETE",
    "Delete a message: its author, or a moderator in a public room",
    answers={200: wire.Message},
    errors={
        403: "Neither its author nor a moderator of a public room (`not_author`).",
        404: NO_MESSAGE,
    },
)
@api_view("PATCH", "DELETE")
async def message(request: HttpRequest, message_id: int) -> HttpResponse:
    """PATCH: the author edits the body; DELETE: the author, or a moderator in
    a public room, deletes the message. Both answer the message as it stands."""
    user = await current_user(request)
    try:
        if request.method == "PATCH":
            body = read_body(request, wire.EditBody).body.strip()
            if not body:
                raise ApiError(
                    "invalid", "The message is empty.", fields={"body": ["Write something."]}
                )
            if len(body) > settings.CHAT_MESSAGE_MAX_CHARS:
                limit = settings.CHAT_MESSAGE_MAX_CHARS
                raise ApiError("too_large", f"A message is at most {limit} characters.")
            row = await services.message_edit(message_id=message_id, user_id=user.pk, body=body)
        else:
            row = await services.message_delete(message_id=message_id, user_id=user.pk)
    except ChangeRefused as exc:
        raise ApiError(exc.code, exc.detail) from None
    return json_response(message_shape(row))


@operation(
    "PUT",
    "React to a message with one emoji (URL-encoded in the path)",
    answers={200: wire.Message},
    errors={
        400: "Not one emoji, a deleted message, or a 21st distinct emoji.",
        404: NO_MESSAGE,
    },
)
@operation(
    "DELETE",
    "Take one's reaction back (the message unchanged when there was none)",
    answers={200: wire.Message},
    errors={
        400: "Not one emoji, or a deleted message.",
        404: NO_MESSAGE,
    },
)
@api_view("PUT", "DELETE")
async def message_reaction(request: HttpRequest, message_id: int, emoji: str) -> HttpResponse:
    """PUT adds the caller's reaction, DELETE takes it back (unchanged when absent)."""
    user = await current_user(request)
    if len(emoji) > wire.EMOJI_MAX_CHARS:
        raise ApiError("invalid", "A reaction is one emoji.", fields={"emoji": ["One emoji."]})
    try:
        row = await services.message_react(
            message_id=message_id, user_id=user.pk, emoji=emoji, on=request.method == "PUT"
        )
    except ChangeRefused as exc:
        raise ApiError(exc.code, exc.detail) from None
    return json_response(message_shape(row))


SEARCH_QUERY_MAX = 200
SEARCH_LIMIT_DEFAULT = 20
SEARCH_LIMIT_MAX = 50


@operation(
    "GET",
    "Full-text search over the messages of the rooms the caller can read now",
    query=wire.SearchQuery,
    answers={200: wire.SearchResults},
    errors={
        400: "An empty query, or one over 200 characters.",
        404: "A room (`room=`) that does not exist or is not the caller's.",
    },
    description="Newest first. `q` takes words (all must match, in English or French "
    'word forms, accents ignored), "phrases" and -exclusions. `before` is the id of '
    "the last result of the previous page; `limit` is 20 by default, at most 50. "
    "`highlight` is the body with `[[` and `]]` around each match.",
)
@api_view("GET")
async def search(request: HttpRequest) -> HttpResponse:
    user = await current_user(request)
    query = read_query(request, wire.SearchQuery)
    text = query.q.strip()
    if not text or len(text) > SEARCH_QUERY_MAX:
        detail = f"Search for 1 to {SEARCH_QUERY_MAX} characters."
        raise ApiError("invalid", detail, fields={"q": [detail]})
    if query.room is not None and await message_sql.room_access(query.room, user.pk) is None:
        raise ApiError("not_found", "No such room.")
    limit = min(query.limit or SEARCH_LIMIT_DEFAULT, SEARCH_LIMIT_MAX)
    found, has_more = await message_sql.search(
        user_id=user.pk, text=text, room_id=query.room, before_id=query.before, limit=limit
    )
    results = [
        wire.SearchResult(**asdict(message_shape(row)), highlight=marked) for row, marked in found
    ]
    return json_response(wire.SearchResults(results=results, has_more=has_more))
