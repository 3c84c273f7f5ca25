"""Friend pages: search, friends, requests. They work with plain POST forms and
call the same services as the JSON API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from chatapp import wire
from chatapp.accounts.views import page_user
from chatapp.core.api import read_form, read_query
from chatapp.core.errors import BadInput
from chatapp.friends import selectors, services
from chatapp.friends.services import FriendError


def _back(request: HttpRequest, default: str) -> HttpResponse:
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(default)


async def _act(request: HttpRequest, service: Callable[..., Any], done: str, **kwargs: Any) -> None:
    try:
        await sync_to_async(service)(user=page_user(request), **kwargs)
    except FriendError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, done)


@login_required
async def search(request: HttpRequest) -> HttpResponse:
    query = read_query(request, wire.UserSearchQuery).q[:100]
    found = await sync_to_async(selectors.people_search)(viewer=page_user(request), query=query)
    incoming, outgoing = await sync_to_async(selectors.requests_of)(user_id=page_user(request).pk)
    request_ids = {r.from_user_id: r.pk for r in incoming} | {r.to_user_id: r.pk for r in outgoing}
    results = [
        {"user": user, "relation": relation, "request_id": request_ids.get(user.pk)}
        for user, relation in found
    ]
    return render(request, "friends/search.html", {"q": query, "results": results})


@login_required
async def friends(request: HttpRequest) -> HttpResponse:
    found = await sync_to_async(selectors.friends_with_rooms)(user_id=page_user(request).pk)
    return render(request, "friends/friends.html", {"friends": found})


@login_required
async def requests(request: HttpRequest) -> HttpResponse:
    incoming, outgoing = await sync_to_async(selectors.requests_of)(user_id=page_user(request).pk)
    return render(request, "friends/requests.html", {"incoming": incoming, "outgoing": outgoing})


@login_required
@require_POST
async def send(request: HttpRequest) -> HttpResponse:
    try:
        receiver_id = read_form(request, wire.FriendRequestForm).to
    except BadInput:
        receiver_id = None
    if receiver_id is None:
        messages.error(request, "No such user.")
        return _back(request, "friends:search")
    try:
        await sync_to_async(services.friend_request_send)(
            sender=page_user(request), receiver_id=receiver_id
        )
    except FriendError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, "Friend request sent.")
    return _back(request, "friends:search")


ACTIONS: dict[str, tuple[Callable[..., Any], str]] = {
    "accept": (services.friend_request_accept, "You are now friends."),
    "decline": (services.friend_request_decline, "Request declined."),
    "cancel": (services.friend_request_cancel, "Request cancelled."),
}


@login_required
@require_POST
async def request_action(request: HttpRequest, request_id: int, action: str) -> HttpResponse:
    if action not in ACTIONS:
        messages.error(request, "No such action.")
        return _back(request, "friends:requests")
    service, done = ACTIONS[action]
    await _act(request, service, done, request_id=request_id)
    return _back(request, "friends:requests")


@login_required
@require_POST
async def unfriend(request: HttpRequest, user_id: int) -> HttpResponse:
    try:
        await sync_to_async(services.friend_remove)(user=page_user(request), other_id=user_id)
    except FriendError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, "Removed from your friends.")
    return _back(request, "friends:friends")
