"""Reads of the friend system, each a constant number of queries."""

from __future__ import annotations

from django.db.models import Q

from chatapp.accounts.models import User
from chatapp.accounts.selectors import user_search
from chatapp.chat.models import Room
from chatapp.friends.models import FriendRequest, Friendship
from chatapp.friends.services import ordered


def friend_ids(*, user_id: int) -> set[int]:
    pairs = Friendship.objects.filter(Q(user_low_id=user_id) | Q(user_high_id=user_id))
    return {
        high if low == user_id else low
        for low, high in pairs.values_list("user_low_id", "user_high_id")
    }


def friends_of(*, user_id: int) -> list[User]:
    return list(User.objects.filter(pk__in=friend_ids(user_id=user_id)).order_by("username"))


def relations(*, viewer_id: int, user_ids: list[int]) -> dict[int, str]:
    """``self``, ``friend``, ``request_sent``, ``request_received`` or ``none``
    for each of ``user_ids``, in two queries."""
    friends = friend_ids(user_id=viewer_id)
    pending = FriendRequest.objects.filter(status=FriendRequest.Status.PENDING).filter(
        Q(from_user_id=viewer_id, to_user_id__in=user_ids)
        | Q(to_user_id=viewer_id, from_user_id__in=user_ids)
    )
    sent: set[int] = set()
    received: set[int] = set()
    for from_id, to_id in pending.values_list("from_user_id", "to_user_id"):
        (sent if from_id == viewer_id else received).add(to_id if from_id == viewer_id else from_id)
    result: dict[int, str] = {}
    for uid in user_ids:
        if uid == viewer_id:
            result[uid] = "self"
        elif uid in friends:
            result[uid] = "friend"
        elif uid in sent:
            result[uid] = "request_sent"
        elif uid in received:
            result[uid] = "request_received"
        else:
            result[uid] = "none"
    return result


def people_search(*, viewer: User, query: str) -> list[tuple[User, str]]:
    """The people search of ``/api/users`` and the search page: the users
    ``query`` finds, each with its relation to ``viewer``."""
    found = user_search(query=query)
    relation_of = relations(viewer_id=viewer.pk, user_ids=[user.pk for user in found])
    return [(user, relation_of[user.pk]) for user in found]


def requests_of(*, user_id: int) -> tuple[list[FriendRequest], list[FriendRequest]]:
    """Open requests: (incoming, outgoing), newest first."""
    pending = (
        FriendRequest.objects.filter(status=FriendRequest.Status.PENDING)
        .filter(Q(to_user_id=user_id) | Q(from_user_id=user_id))
        .select_related("from_user", "to_user")
        .order_by("-id")
    )
    incoming: list[FriendRequest] = []
    outgoing: list[FriendRequest] = []
    for request in pending:
        (incoming if request.to_user_id == user_id else outgoing).append(request)
    return incoming, outgoing


def private_room_with(*, user_id: int, friend_id: int) -> Room | None:
    """The open private room of two friends, or None if they are not friends."""
    low, high = ordered(user_id, friend_id)
    if not Friendship.objects.filter(user_low_id=low, user_high_id=high).exists():
        return None
    return Room.objects.filter(
        kind=Room.Kind.PRIVATE, user_low_id=low, user_high_id=high, closed=False
    ).first()


def friends_with_rooms(*, user_id: int) -> list[tuple[User, int | None]]:
    """Friends by name, each with the id of the private room (two queries)."""
    found = friends_of(user_id=user_id)
    rooms = Room.objects.filter(
        kind=Room.Kind.PRIVATE, closed=False, memberships__user_id=user_id
    ).values_list("id", "user_low_id", "user_high_id")
    room_of = {high if low == user_id else low: room_id for room_id, low, high in rooms}
    return [(friend, room_of.get(friend.pk)) for friend in found]
