"""JSON API of friends and private rooms (PROTOCOL.md)."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse
from msgspec.structs import asdict

from chatapp import wire
from chatapp.accounts.api import current_user
from chatapp.accounts.serializers import user_shape
from chatapp.chat import selectors as chat_selectors
from chatapp.core.api import api_view, read_body, read_query
from chatapp.core.apidoc import operation
from chatapp.core.errors import ApiError, json_response
from chatapp.friends import selectors, services
from chatapp.friends.serializers import friend_request_shape
from chatapp.friends.services import FriendError


async def _run(service: Any, **kwargs: Any) -> Any:
    try:
        return await sync_to_async(service)(**kwargs)
    except FriendError as exc:
        raise ApiError(exc.code, exc.detail) from exc


@operation("GET", "The caller's friends", answers={200: wire.Friends})
@api_view("GET")
async def friends(request: HttpRequest) -> HttpResponse:
    user = await current_user(request)
    found = await sync_to_async(selectors.friends_of)(user_id=user.pk)
    return json_response(wire.Friends(results=[user_shape(friend) for friend in found]))


@operation(
    "DELETE",
    "Unfriend: the private room closes, its history kept",
    answers={204: None},
    errors={404: "Not friends with that user."},
)
@api_view("DELETE")
async def unfriend(request: HttpRequest, user_id: int) -> HttpResponse:
    user = await current_user(request)
    await _run(services.friend_remove, user=user, other_id=user_id)
    return HttpResponse(status=204)


@operation(
    "GET",
    "The caller's open friend requests, newest first",
    answers={200: wire.FriendRequests},
)
@operation(
    "POST",
    "Send a friend request (to someone who asked first: both accepted)",
    body=wire.FriendRequestBody,
    answers={201: wire.FriendRequest},
    errors={
        400: "A request to oneself.",
        404: "No such active user.",
        409: "Already friends, or already asked.",
    },
)
@api_view("GET", "POST")
async def friend_requests(request: HttpRequest) -> HttpResponse:
    user = await current_user(request)
    if request.method == "POST":
        body = read_body(request, wire.FriendRequestBody)
        created = await _run(services.friend_request_send, sender=user, receiver_id=body.to)
        return json_response(friend_request_shape(created), status=201)
    incoming, outgoing = await sync_to_async(selectors.requests_of)(user_id=user.pk)
    return json_response(
        wire.FriendRequests(
            incoming=[friend_request_shape(r) for r in incoming],
            outgoing=[friend_request_shape(r) for r in outgoing],
        )
    )


ACTIONS = {
    "accept": services.friend_request_accept,
    "decline": services.friend_request_decline,
    "cancel": services.friend_request_cancel,
}


@operation(
    "POST",
    "Accept, decline or cancel a friend request",
    answers={200: wire.FriendRequest},
    path={"action": {"enum": list(ACTIONS)}},
    errors={
        403: "The wrong side of the request (only its receiver accepts or declines, "
        "only its sender cancels).",
        404: "No such request of the caller's, or no such action.",
        409: "The request is no longer pending.",
    },
)
@api_view("POST")
async def friend_request_action(request: HttpRequest, request_id: int, action: str) -> HttpResponse:
    user = await current_user(request)
    service = ACTIONS.get(action)
    if service is None:
        raise ApiError("not_found", "No such action.")
    changed = await _run(service, user=user, request_id=request_id)
    return json_response(friend_request_shape(changed))


@operation(
    "POST",
    "The private room with a friend",
    body=wire.PrivateRoomBody,
    answers={200: wire.Room},
    errors={403: "Not friends with that user."},
)
@api_view("POST")
async def private_room(request: HttpRequest) -> HttpResponse:
    user = await current_user(request)
    body = read_body(request, wire.PrivateRoomBody)
    room = await sync_to_async(selectors.private_room_with)(user_id=user.pk, friend_id=body.user)
    if room is None:
        raise ApiError("forbidden", "You can only chat privately with friends.")
    shape = await chat_selectors.room_for_user(user.pk, room.pk)
    if shape is None:
        raise ApiError("forbidden", "You can only chat privately with friends.")
    return json_response(shape)


@operation(
    "GET",
    "Search users by name, with how the caller stands with each",
    query=wire.UserSearchQuery,
    answers={200: wire.UserResults},
)
@api_view("GET")
async def users(request: HttpRequest) -> HttpResponse:
    viewer = await current_user(request)
    query = read_query(request, wire.UserSearchQuery).q[:100]
    found = await sync_to_async(selectors.people_search)(viewer=viewer, query=query)
    results = [
        wire.UserWithRelation(**asdict(user_shape(user)), relation=relation)
        for user, relation in found
    ]
    return json_response(wire.UserResults(results=results))
