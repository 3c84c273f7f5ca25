"""JSON API of rooms and messages (PROTOCOL.md)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse

from chatapp.accounts.api import current_user
from chatapp.chat import selectors, sql
from chatapp.chat.serializers import message_json
from chatapp.core.api import api_view
from chatapp.core.errors import ApiError
from chatapp.realtime.protocol import HISTORY_LIMIT_DEFAULT, HISTORY_LIMIT_MAX


def _int_param(request: HttpRequest, name: str, *, lowest: int) -> int | None:
    raw = request.GET.get(name, "")
    if raw == "":
        return None
    try:
        value = int(raw)
    except ValueError as exc:
        raise ApiError(
            "invalid", f"{name} must be a whole number.", fields={name: ["Not a number."]}
        ) from exc
    if value < lowest:
        raise ApiError(
            "invalid", f"{name} must be at least {lowest}.", fields={name: ["Too small."]}
        )
    return value


@api_view("GET")
async def rooms(request: HttpRequest) -> HttpResponse:
    user = await current_user(request)
    return JsonResponse({"results": await selectors.rooms_for_user(user.pk)})


@api_view("GET")
async def room_messages(request: HttpRequest, room_id: int) -> HttpResponse:
    user = await current_user(request)
    before = _int_param(request, "before_seq", lowest=1)
    limit = _int_param(request, "limit", lowest=1) or HISTORY_LIMIT_DEFAULT
    limit = min(limit, HISTORY_LIMIT_MAX)
    if await sql.room_access(room_id, user.pk) is None:
        raise ApiError("not_found", "No such room.")
    rows, has_more = await sql.messages_before(room_id, before, limit)
    return JsonResponse({"messages": [message_json(r) for r in rows], "has_more": has_more})
