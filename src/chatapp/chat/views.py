from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from chatapp.accounts.views import page_user
from chatapp.chat import selectors, services, sql
from chatapp.chat.serializers import message_json
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
    return render(request, "chat/rooms.html", {"rooms": await selectors.rooms_for_user(user.pk)})


@login_required
@require_http_methods(["GET", "POST"])
async def room(request: HttpRequest, room_id: int) -> HttpResponse:
    """A conversation page: the latest messages and a form that sends (the
    socket-driven UI enhances it)."""
    user = page_user(request)
    # The room list beside the conversation holds exactly the rooms the user may see.
    rooms = await selectors.rooms_for_user(user.pk)
    shape = next((r for r in rooms if r["id"] == room_id), None)
    if shape is None:
        raise Http404("No such room.")
    if request.method == "POST":
        body = request.POST.get("body", "").strip()
        client_id = request.POST.get("client_id", "")[:64] or uuid.uuid4().hex
        if not body:
            messages.error(request, "The message is empty.")
        elif len(body) > settings.CHAT_MESSAGE_MAX_CHARS:
            messages.error(
                request, f"A message is at most {settings.CHAT_MESSAGE_MAX_CHARS} characters."
            )
        elif not await limits().allow_send(user.pk):
            messages.error(request, "You are sending too fast.")
        else:
            await services.message_send(
                room_id=room_id,
                room_kind=shape["kind"],
                author_id=user.pk,
                body=body,
                client_id=client_id,
            )
            if shape["kind"] == "public":
                return redirect("home")
            return redirect("chat:room", room_id=room_id)
    rows, has_more = await sql.messages_before(room_id, None, PAGE_MESSAGES)
    context = {
        "room": shape,
        "rooms": rooms,
        "room_messages": [message_json(row) for row in rows],
        "has_more": has_more,
        "client_id": uuid.uuid4().hex,
        "max_body": settings.CHAT_MESSAGE_MAX_CHARS,
    }
    return render(request, "chat/room.html", context)
