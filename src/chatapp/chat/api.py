"""JSON API of rooms and messages (PROTOCOL.md)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from chatapp import wire
from chatapp.accounts.api import current_user
from chatapp.chat import selectors, sql
from chatapp.chat.serializers import message_shape
from chatapp.core.api import api_view, read_query
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
    errors={404: "A room that does not exist or is not the caller's."},
    description="`limit` is 50 by default; a larger ask than 100 gets 100.",
)
@api_view("GET")
async def room_messages(request: HttpRequest, room_id: int) -> HttpResponse:
    user = await current_user(request)
    query = read_query(request, wire.MessagesQuery)
    limit = min(query.limit or wire.HISTORY_LIMIT_DEFAULT, wire.HISTORY_LIMIT_MAX)
    if await sql.room_access(room_id, user.pk) is None:
        raise ApiError("not_found", "No such room.")
    rows, has_more = await sql.messages_before(room_id, query.before_seq, limit)
    messages = [message_shape(row) for row in rows]
    return json_response(wire.MessagesPage(messages=messages, has_more=has_more))
