from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from chatapp import wire
from chatapp.accounts.views import page_user
from chatapp.chat import message_sql, selectors, services
from chatapp.chat.serializers import message_shape
from chatapp.core.api import read_form
from chatapp.core.errors import BadInput
from chatapp.realtime.limits import limits

PAGE_MESSAGES = 50


@login_required
async def home(request: HttpRequest) -> HttpResponse:
    """The Lobby: the public room, open to everyone logged in."""
    lobby = await selectors.lobby()
    if lobby is None:
        raise Http404("The Lobby has not been created; run the migrations.")
    return await room(request, lobby.pk)


@login_required
async def rooms(request: HttpRequest) -> HttpResponse:
    """Every conversation of the user, latest activity first (the room list on
    its own page, for narrow screens)."""
    user = page_user(request)
    rooms = await selectors.rooms_for_user(user.pk)
    return render(request, "chat/rooms.html", {"rooms": wire.to_builtins(rooms)})


@login_required
@require_http_methods(["GET", "POST"])
async def room(request: HttpRequest, room_id: int) -> HttpResponse:
    """A conversation page: the latest messages and a form that sends (the
    socket-driven UI enhances it)."""
    user = page_user(request)
    # The room list beside the conversation holds exactly the rooms the user may see.
    rooms = await selectors.rooms_for_user(user.pk)
    shape = next((r for r in rooms if r.id == room_id), None)
    if shape is None:
        raise Http404("No such room.")
    if request.method == "POST":
        problem = await _send_from_page(request, user.pk, shape)
        if problem is None:
            if shape.kind == "public":
                return redirect("home")
            return redirect("chat:room", room_id=room_id)
        messages.error(request, problem)
    rows, has_more = await message_sql.messages_before(room_id, None, PAGE_MESSAGES)
    context = {
        "room": wire.to_builtins(shape),
        "rooms": wire.to_builtins(rooms),
        "room_messages": wire.to_builtins([message_shape(row) for row in rows]),
        "has_more": has_more,
        "client_id": uuid.uuid4().hex,
        "max_body": settings.CHAT_MESSAGE_MAX_CHARS,
    }
    return render(request, "chat/room.html", context)


async def _send_from_page(request: HttpRequest, user_id: int, room: wire.Room) -> str | None:
    """Send the page form's message; what went wrong, or None once it is stored."""
    try:
        form = read_form(request, wire.MessageForm)
    except BadInput as exc:
        return exc.detail if not exc.fields else " ".join(exc.fields.popitem()[1])
    body = form.body.strip()
    if not body:
        return "The message is empty."
    if len(body) > settings.CHAT_MESSAGE_MAX_CHARS:
        return f"A message is at most {settings.CHAT_MESSAGE_MAX_CHARS} characters."
    if not await limits().allow_send(user_id):
        return "You are sending too fast."
    await services.message_send(
        room_id=room.id,
        room_kind=room.kind,
        author_id=user_id,
        body=body,
        client_id=form.client_id[: wire.CLIENT_ID_MAX] or uuid.uuid4().hex,
    )
    return None
